"""Train through the command line on tiny data, then check every file the run wrote."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mtl_hf import BertForMultiTask
from mtl_hf.cli import main
from mtl_hf.data import MultiTaskCollator
from mtl_hf.text import TextPreprocessing
from tests.conftest import REPO_ROOT

TINY_RUN = ["--model", "micro", "--from_scratch", "--vocab_size", "200", "--num_train_epochs", "2",
            "--per_device_train_batch_size", "8", "--logging_steps", "2", "--disable_tqdm", "true"]


def _train(tmp_path: Path, data: Path, *extra: str):
    result = CliRunner().invoke(main, ["train", "--data", str(data), "--runs_dir", str(tmp_path / "runs"), *TINY_RUN, *extra])
    return result


def _only_run(tmp_path: Path) -> Path:
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


@pytest.fixture
def finished_run(tmp_path, tweets_csv) -> Path:
    result = _train(tmp_path, tweets_csv)
    assert result.exit_code == 0, result.output
    return _only_run(tmp_path)


def test_run_folder_contents(finished_run):
    assert (finished_run / "config.yaml").is_file()
    assert (finished_run / "model" / "model.safetensors").is_file()
    assert (finished_run / "model" / "tokenizer.json").is_file()
    assert list((finished_run / "tensorboard").glob("events.out.tfevents.*"))


def test_metrics_json_has_tasks_baseline_and_timing(finished_run):
    metrics = json.loads((finished_run / "metrics.json").read_text(encoding="utf-8"))

    for task in ("sentiment", "topic"):
        scores = metrics["tasks"][task]
        assert 0.0 <= scores["test"]["accuracy"] <= 1.0
        assert 0.0 <= scores["test"]["macro_f1"] <= 1.0
        assert scores["majority_baseline"]["majority_label"] in scores["labels"]
        assert scores["final_train_loss"] > 0
    assert metrics["timing"]["train_runtime_s"] > 0
    assert metrics["timing"]["train_samples_per_second"] > 0
    assert len(metrics["timing"]["epoch_time_s"]) == 2
    assert metrics["data"]["splits"]["train"]["rows"] > 0


def test_resolved_config_reproduces_settings(finished_run):
    config = yaml.safe_load((finished_run / "config.yaml").read_text(encoding="utf-8"))
    assert config["model"]["model"] == "micro"
    assert config["model"]["from_scratch"] is True
    assert config["training"]["num_train_epochs"] == 2


def test_tensorboard_has_task_losses_metrics_and_timings(finished_run):
    events = EventAccumulator(str(finished_run / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])

    for tag in (
        "train/loss",
        "train/loss_sentiment",
        "train/loss_topic",
        "train/epoch_time_s",
        "train/train_runtime",
        "train/train_samples_per_second",
        "eval/loss",
        "eval/sentiment_accuracy",
        "eval/topic_macro_f1",
        "eval/mean_macro_f1",
        "test/sentiment_accuracy",
        "test/topic_macro_f1",
    ):
        assert tag in tags, tag
    assert len(events.Scalars("eval/sentiment_accuracy")) >= 2


def test_reloaded_model_repeats_test_predictions(finished_run):
    from transformers import AutoTokenizer

    model = BertForMultiTask.from_pretrained(finished_run / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(finished_run / "model")
    preprocessing = TextPreprocessing.from_dict(model.config.text_preprocessing)
    assert preprocessing.lowercase == "turkish"
    assert model.config.labels_for("sentiment") == ["negatif", "pozitif"]

    texts = [preprocessing(text) for text in ("Borsa rekor kırdı", "HASTANEDE VAKA ARTTI")]
    batch = MultiTaskCollator(tokenizer)([tokenizer(text) for text in texts])
    with torch.no_grad():
        first = model(**batch).logits
        again = BertForMultiTask.from_pretrained(finished_run / "model").eval()(**batch).logits
    for one, other in zip(first, again):
        assert torch.equal(one, other)


def test_second_run_gets_new_folder(tmp_path, tweets_csv):
    for _ in range(2):
        result = _train(tmp_path, tweets_csv, "--run_name", "same", "--num_train_epochs", "1")
        assert result.exit_code == 0, result.output
    folders = sorted(path.name for path in (tmp_path / "runs").iterdir())
    assert len(folders) == 2
    assert all(name.startswith("same-") for name in folders)


def test_single_task_run(tmp_path, tweets_csv):
    result = _train(tmp_path, tweets_csv, "--tasks", "topic", "--num_train_epochs", "1")
    assert result.exit_code == 0, result.output
    metrics = json.loads((_only_run(tmp_path) / "metrics.json").read_text(encoding="utf-8"))
    assert list(metrics["tasks"]) == ["topic"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--text_column", "txt"], "column 'txt'"),
        (["--tasks", "emotion"], "task 'emotion'"),
        (["--num_train_epoch", "2"], "--num_train_epoch"),
    ],
)
def test_bad_input_exits_2_without_run_folder(tmp_path, tweets_csv, extra, message):
    result = _train(tmp_path, tweets_csv, *extra)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_missing_data_file_exits_2(tmp_path):
    result = _train(tmp_path, tmp_path / "absent.csv")
    assert result.exit_code == 2
    assert "absent.csv" in result.output


def test_train_help_lists_options():
    result = CliRunner().invoke(main, ["train", "--help"])
    assert result.exit_code == 0
    assert "--from_scratch" in result.output
    assert "--label_columns" in result.output


def test_sweep_script_help():
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "sweep.py"), "--help"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0
    assert "--config" in completed.stdout


def test_script_entry_point_help():
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "train.py"), "--help"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0
    assert "--runs_dir" in completed.stdout


def test_real_tweets_short_run(tmp_path, covid_tweets):
    result = _train(tmp_path, covid_tweets, "--max_rows", "400", "--num_train_epochs", "1")
    assert result.exit_code == 0, result.output
    metrics = json.loads((_only_run(tmp_path) / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["tasks"]["sentiment"]["labels"] == ["negatif", "nötr", "pozitif"]
    assert metrics["tasks"]["topic"]["labels"] == ["dunya", "ekonomi", "kultur", "saglik", "siyaset", "spor", "teknoloji"]


def test_demo_command_trains_on_shipped_sample(tmp_path):
    result = CliRunner().invoke(
        main, ["demo", "--runs_dir", str(tmp_path / "runs"), "--num_train_epochs", "1", "--disable_tqdm", "true"]
    )
    assert result.exit_code == 0, result.output
    assert "majority baseline" in result.output
    metrics = json.loads((_only_run(tmp_path) / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["data"]["splits"]["train"]["rows"] > 300


def test_validation_metrics_are_best_epoch(finished_run):
    metrics = json.loads((finished_run / "metrics.json").read_text(encoding="utf-8"))
    events = EventAccumulator(str(finished_run / "tensorboard"))
    events.Reload()
    logged = [event.value for event in events.Scalars("eval/mean_macro_f1")]

    assert len(logged) == 2
    best = sum(metrics["tasks"][task]["validation"]["macro_f1"] for task in ("sentiment", "topic")) / 2
    assert best == pytest.approx(max(logged), abs=1e-6)


def test_tensorboard_records_hyperparameters(finished_run):
    events = EventAccumulator(str(finished_run / "tensorboard"))
    events.Reload()
    assert "hparam/test_mean_macro_f1" in events.Tags()["scalars"]
    hparams = events.PluginTagToContent("hparams")
    assert hparams
    assert any(b"micro" in content for content in hparams.values())


@pytest.mark.parametrize("command", ["evaluate", "predict", "sweep", "report"])
def test_group_loads_subcommand_on_use(command):
    listing = CliRunner().invoke(main, ["--help"])
    assert command in listing.output
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert f"Usage: main {command}" in result.output
