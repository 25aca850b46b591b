"""A run that crashes after a checkpoint and is resumed with --resume_run ends as an unbroken run does."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

from mtl_hf import training
from mtl_hf.settings import SettingsError, parse_settings
from mtl_hf.tokenization import train_wordpiece_tokenizer
from mtl_hf.trainer import MultiTaskTrainer
from tests.conftest import labelled_rows, write_csv

CHECKPOINT_STEPS = 4
CRASH_AFTER_STEP = 6
TOTAL_STEPS = 8  # ceil(57 training rows / 16 per batch) = 4 steps per epoch, 2 epochs
RUN_OPTIONS = ["--model", "micro", "--from_scratch", "--vocab_size", "200", "--num_train_epochs", "2",
               "--per_device_train_batch_size", "16", "--learning_rate", "0.003", "--logging_steps", "2",
               "--eval_strategy", "steps", "--eval_steps", str(CHECKPOINT_STEPS),
               "--save_strategy", "steps", "--save_steps", str(CHECKPOINT_STEPS), "--save_total_limit", "3",
               "--load_best_model_at_end", "false", "--disable_tqdm", "true", "--seed", "7"]


class SimulatedCrash(RuntimeError):
    """Stands for a killed process: raised in the middle of training, after a checkpoint."""


class CrashingTrainer(MultiTaskTrainer):
    def training_step(self, *args, **kwargs):
        if self.state.global_step >= CRASH_AFTER_STEP:
            raise SimulatedCrash(f"stopped at step {self.state.global_step}")
        return super().training_step(*args, **kwargs)


def _train(data: Path, runs_dir: Path, *extra: str) -> training.RunResult:
    options = ["--data", str(data), "--runs_dir", str(runs_dir), "--cache_dir", str(runs_dir / "cache"),
               *RUN_OPTIONS, *extra]
    return training.run_training(parse_settings(None, options))


def _optimizer_state(run_dir: Path) -> dict:
    path = run_dir / "checkpoints" / f"checkpoint-{TOTAL_STEPS}" / "optimizer.pt"
    return torch.load(path, map_location="cpu", weights_only=True)["state"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[training.RunResult, training.RunResult, Path]:
    """Return an unbroken run and a crashed-then-resumed run with the same seed."""
    root = tmp_path_factory.mktemp("resume")
    data = write_csv(root / "tweets.csv", labelled_rows(12))
    # WordPiece training can number the same vocabulary differently on each call, so both runs
    # start from one tokenizer. The resumed run is not patched: it must load the checkpoint's.
    tokenizer = train_wordpiece_tokenizer([row["text"] for row in labelled_rows(12)], vocab_size=200)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "train_shared_tokenizer", lambda texts, vocab_size: copy.deepcopy(tokenizer))
        unbroken = _train(data, root / "unbroken")

        crashed_runs = root / "crashed"
        patch.setattr(training, "MultiTaskTrainer", CrashingTrainer)
        with pytest.raises(SimulatedCrash):
            _train(data, crashed_runs)
    (crashed_dir,) = [path for path in crashed_runs.iterdir() if path.name != "cache"]
    resumed = _train(data, crashed_runs, "--resume_run", str(crashed_dir))
    return unbroken, resumed, crashed_dir


def test_resume_writes_into_the_crashed_run(runs):
    _, resumed, crashed_dir = runs

    assert resumed.run_dir == crashed_dir
    assert (crashed_dir / "metrics.json").is_file()


def test_resume_reaches_same_step_count(runs):
    unbroken, resumed, _ = runs

    assert resumed.metrics["global_steps"] == TOTAL_STEPS
    assert unbroken.metrics["global_steps"] == TOTAL_STEPS


def test_resume_keeps_scratch_tokenizer(runs):
    _, resumed, crashed_dir = runs
    checkpoint_vocab = AutoTokenizer.from_pretrained(crashed_dir / "checkpoints" / f"checkpoint-{CHECKPOINT_STEPS}").get_vocab()
    final_vocab = AutoTokenizer.from_pretrained(resumed.run_dir / "model").get_vocab()

    assert final_vocab == checkpoint_vocab


def test_resume_matches_optimizer_state(runs):
    unbroken, resumed, _ = runs
    expected, actual = _optimizer_state(unbroken.run_dir), _optimizer_state(resumed.run_dir)

    assert expected.keys() == actual.keys()
    for index in expected:
        for name in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(actual[index][name], expected[index][name], rtol=1e-4, atol=1e-6)


def test_resume_matches_final_weights(runs):
    unbroken, resumed, _ = runs
    expected = load_file(unbroken.run_dir / "model" / "model.safetensors")
    actual = load_file(resumed.run_dir / "model" / "model.safetensors")

    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-4, atol=1e-5)


def test_resume_matches_final_metrics(runs):
    unbroken, resumed, _ = runs

    for task, scores in unbroken.metrics["tasks"].items():
        resumed_test = resumed.metrics["tasks"][task]["test"]
        assert resumed_test["accuracy"] == pytest.approx(scores["test"]["accuracy"]), task
        assert resumed_test["macro_f1"] == pytest.approx(scores["test"]["macro_f1"]), task
        assert resumed_test["loss"] == pytest.approx(scores["test"]["loss"], abs=1e-4), task


def test_resume_of_finished_run_is_rejected(runs, tmp_path):
    unbroken, _, _ = runs
    data = write_csv(tmp_path / "tweets.csv", labelled_rows(2))

    with pytest.raises(SettingsError, match="already finished"):
        _train(data, tmp_path / "runs", "--resume_run", str(unbroken.run_dir))
