"""Train with two CPU processes through ``accelerate launch`` and compare with one process.

Each run starts real gloo data-parallel training on a micro model built from scratch, so it takes
about 30 s on two cores. The evaluation metrics written by the two processes must equal those of a
single-process evaluation of the saved model. That holds only when every test row is counted
exactly once: the test split has an odd number of rows, so the last batch is padded across processes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoTokenizer, TrainingArguments

from mtl_hf import BertForMultiTask
from mtl_hf.data import MultiTaskCollator, load_splits, tokenize_frame
from mtl_hf.metrics import build_compute_metrics
from mtl_hf.settings import DataArguments
from mtl_hf.text import TextPreprocessing
from mtl_hf.trainer import MultiTaskTrainer
from tests.conftest import REPO_ROOT, labelled_rows, write_csv

CONFIG_2PROC = REPO_ROOT / "accelerate_configs" / "cpu_2proc.yaml"
LAUNCH_TIMEOUT_S = 240

# 71 rows split into 55 train, 7 validation and 9 test rows with --test_fraction 0.12: both
# evaluation splits are odd, so 2 processes must pad their last batch.
DATA_ROWS = 71
SPLIT_OPTIONS = ["--validation_fraction", "0.1", "--test_fraction", "0.12"]
TINY_RUN = ["--model", "micro", "--from_scratch", "--vocab_size", "200", "--num_train_epochs", "2",
            "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "4", "--logging_steps", "2",
            "--learning_rate", "0.003", "--disable_tqdm", "true", *SPLIT_OPTIONS]
PLAN_LOG_LINE = "Effective batch size 16 (per-device batch 8, processes 2, gradient accumulation steps 1)"


def launch_two_processes(tmp_path: Path, data: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run scripts/train.py under ``accelerate launch`` with the 2-process CPU config."""
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIG_2PROC),
        str(REPO_ROOT / "scripts" / "train.py"),
        "--data", str(data), "--runs_dir", str(tmp_path / "runs"), "--cache_dir", str(tmp_path / "cache"),
        *TINY_RUN, *extra,
    ]
    # One thread per process: two processes share the two cores of a CI machine.
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
                          timeout=LAUNCH_TIMEOUT_S, check=False)


def evaluate_in_one_process(run_dir: Path, data: Path, tmp_path: Path) -> dict:
    """Evaluate ``run_dir/model`` on the run's test split in this (single) process."""
    model_dir = run_dir / "model"
    if importlib.util.find_spec("mtl_hf.adapters") is not None:
        from mtl_hf.adapters import load_run_model

        model, tokenizer = load_run_model(model_dir)
    else:
        model, tokenizer = BertForMultiTask.from_pretrained(str(model_dir)), AutoTokenizer.from_pretrained(str(model_dir))
    base_config = model.config if hasattr(model.config, "tasks") else model.get_base_model().config

    data_args = DataArguments(data=str(data), validation_fraction=0.1, test_fraction=0.12)
    splits = load_splits(data_args, data_args.task_names)
    preprocessing = TextPreprocessing.from_dict(base_config.text_preprocessing)
    test_set = tokenize_frame(splits.test, splits.tasks, tokenizer, preprocessing, max_length=128)

    trainer = MultiTaskTrainer(
        model=model,
        args=TrainingArguments(output_dir=str(tmp_path / "single"), per_device_eval_batch_size=3, report_to=[],
                               use_cpu=True, disable_tqdm=True),
        data_collator=MultiTaskCollator(tokenizer, pad_to_multiple_of=8),
        compute_metrics=build_compute_metrics([task.name for task in splits.tasks],
                                              [task.num_labels for task in splits.tasks]),
    )
    return trainer.evaluate(test_set, metric_key_prefix="test")


def _finished_run(tmp_path: Path, *extra: str) -> tuple[Path, Path, subprocess.CompletedProcess]:
    data = write_csv(tmp_path / "tweets.csv", labelled_rows(12)[:DATA_ROWS])
    result = launch_two_processes(tmp_path, data, *extra)
    assert result.returncode == 0, result.stderr[-4000:]
    return tmp_path, data, result


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    return _finished_run(tmp_path_factory.mktemp("two_processes"))


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    if importlib.util.find_spec("mtl_hf.adapters") is None:
        pytest.skip("mtl_hf.adapters (LoRA) is not in this checkout yet; rerun when it is merged")
    return _finished_run(tmp_path_factory.mktemp("two_processes_lora"), "--lora_r", "4")


def _only_run_dir(root: Path) -> Path:
    run_dirs = list((root / "runs").iterdir())
    assert len(run_dirs) == 1, run_dirs
    return run_dirs[0]


def _assert_metrics_match_one_process(root: Path, data: Path) -> None:
    run_dir = _only_run_dir(root)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    single = evaluate_in_one_process(run_dir, data, root)

    assert metrics["data"]["splits"]["test"]["rows"] % 2 == 1
    for task, scores in metrics["tasks"].items():
        assert scores["test"]["accuracy"] == pytest.approx(single[f"test_{task}_accuracy"], abs=1e-9), task
        assert scores["test"]["macro_f1"] == pytest.approx(single[f"test_{task}_macro_f1"], abs=1e-9), task
        assert scores["test"]["loss"] == pytest.approx(single[f"test_{task}_loss"], abs=1e-4), task


def test_two_processes_write_one_run_folder(full_run):
    root, _, _ = full_run
    run_dir = _only_run_dir(root)

    assert (run_dir / "metrics.json").is_file()
    assert (run_dir / "model" / "model.safetensors").is_file()


def test_two_processes_write_tensorboard_from_one_process(full_run):
    root, _, _ = full_run
    event_files = list((_only_run_dir(root) / "tensorboard").glob("events.out.tfevents.*"))
    # The file name is events.out.tfevents.<time>.<host>.<pid>.<index>: one pid means one writer process.
    writer_pids = {path.name.split(".")[-2] for path in event_files}

    assert event_files
    assert len(writer_pids) == 1


def test_two_processes_log_plan_and_timings_once(full_run):
    _, _, result = full_run
    output = result.stdout + result.stderr

    assert output.count(PLAN_LOG_LINE) == 1
    assert output.count("'train_runtime'") == 1
    assert output.count("Learning rate 0.003, schedule linear") == 1


def test_two_processes_shard_the_steps(full_run):
    root, _, _ = full_run
    metrics = json.loads((_only_run_dir(root) / "metrics.json").read_text(encoding="utf-8"))

    # ceil(55 training rows / (8 per device x 2 processes)) = 4 steps per epoch, 2 epochs.
    assert metrics["global_steps"] == 8


def test_two_processes_metrics_equal_one_process(full_run):
    root, data, _ = full_run
    _assert_metrics_match_one_process(root, data)


def test_two_processes_lora_metrics_equal_one_process(lora_run):
    root, data, _ = lora_run
    metrics = json.loads((_only_run_dir(root) / "metrics.json").read_text(encoding="utf-8"))

    assert metrics["adapter"] == "lora-r4"
    _assert_metrics_match_one_process(root, data)
