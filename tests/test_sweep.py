"""The sweep on tiny scratch models: every run, resuming after an interruption, and the report."""

from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import mtl_hf.training
from mtl_hf.report import REPORT_CSV, REPORT_FIGURE, REPORT_MARKDOWN, report_command
from mtl_hf.runs import CONFIG_FILE, METRICS_FILE
from mtl_hf.settings import SettingsError
from mtl_hf.sweep import load_sweep, run_sweep, sweep_command
from tests.conftest import labelled_rows, write_csv

RUNS_BEFORE_INTERRUPTION = 5


def _write_sweep_file(folder: Path, data: Path, **sweep) -> Path:
    content = {
        "sweep": {"name": "ladder", "models": ["micro", "tiny"], "modes": ["sentiment", "topic", "multitask"],
                  "lora_ranks": [0, 2], **sweep},
        "model": {"from_scratch": True, "vocab_size": 150, "max_length": 32},
        "data": {"data": str(data)},
        "training": {"num_train_epochs": 1, "per_device_train_batch_size": 16, "logging_steps": 1,
                     "eval_strategy": "no", "save_strategy": "no", "load_best_model_at_end": False,
                     "disable_tqdm": True, "runs_dir": str(folder / "runs")},
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    return path


class _Interruption(RuntimeError):
    pass


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Run a 2 x 3 x 2 sweep that stops after a few runs, then run it again to the end."""
    folder = tmp_path_factory.mktemp("sweep")
    data = write_csv(folder / "tweets.csv", labelled_rows(copies=5))
    config = _write_sweep_file(folder, data)
    plan = load_sweep(config)
    real_run_training = mtl_hf.training.run_training
    trained = []

    def counting_run_training(settings, stop_after=None):
        if stop_after is not None and len(trained) == stop_after:
            raise _Interruption()
        trained.append(settings.training.run_name)
        return real_run_training(settings)

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(mtl_hf.training, "run_training", lambda settings: counting_run_training(settings, RUNS_BEFORE_INTERRUPTION))
    with pytest.raises(_Interruption):
        run_sweep(plan)
    before = list(trained)

    monkeypatch.setattr(mtl_hf.training, "run_training", counting_run_training)
    result = CliRunner().invoke(sweep_command, ["--config", str(config)])
    monkeypatch.undo()
    assert result.exit_code == 0, result.output
    return {"plan": plan, "before": before, "after": trained[len(before):], "output": result.output}


def test_sweep_plans_every_combination(sweep):
    names = [run.name for run in sweep["plan"].runs]

    assert len(names) == 12
    assert len(set(names)) == 12
    assert "tiny-scratch-multitask-lora2" in names


def test_sweep_resume_skips_finished_runs(sweep):
    assert len(sweep["before"]) == RUNS_BEFORE_INTERRUPTION
    assert len(sweep["after"]) == 12 - RUNS_BEFORE_INTERRUPTION
    assert not set(sweep["before"]) & set(sweep["after"])


def test_sweep_writes_one_folder_per_run(sweep):
    finished = list(sweep["plan"].sweep_dir.glob(f"*/{METRICS_FILE}"))

    assert len(finished) == 12


def test_sweep_runs_share_split_and_seed(sweep):
    configs = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in sweep["plan"].sweep_dir.glob(f"*/{CONFIG_FILE}")]

    assert len({config["data"]["split_seed"] for config in configs}) == 1
    assert len({config["training"]["seed"] for config in configs}) == 1


def test_report_has_row_per_model_adapter(sweep):
    table = pd.read_csv(sweep["plan"].sweep_dir / REPORT_CSV)

    assert len(table) == 4
    assert set(zip(table["model"], table["adapter"])) == {
        ("micro-scratch", "full"), ("micro-scratch", "lora-r2"), ("tiny-scratch", "full"), ("tiny-scratch", "lora-r2")
    }


def test_report_has_comparison_columns(sweep):
    table = pd.read_csv(sweep["plan"].sweep_dir / REPORT_CSV)

    for column in ("sentiment alone accuracy", "sentiment multitask macro-F1", "topic majority accuracy",
                   "train loss multitask topic", "train loss multitask sum", "time multitask (s)",
                   "trainable multitask", "parameters"):
        assert column in table.columns, column
        assert table[column].notna().all(), column


def test_report_lora_trains_fewer_parameters(sweep):
    table = pd.read_csv(sweep["plan"].sweep_dir / REPORT_CSV).set_index(["model", "adapter"])

    assert table.loc[("tiny-scratch", "lora-r2"), "trainable multitask"] < table.loc[("tiny-scratch", "full"), "trainable multitask"]


def test_report_files_written(sweep):
    assert (sweep["plan"].sweep_dir / REPORT_MARKDOWN).read_text(encoding="utf-8").startswith("| model | adapter |")
    assert (sweep["plan"].sweep_dir / REPORT_FIGURE).read_text(encoding="utf-8").startswith("<svg")


def test_report_command_rebuilds_table(sweep):
    (sweep["plan"].sweep_dir / REPORT_CSV).unlink()
    result = CliRunner().invoke(report_command, [str(sweep["plan"].sweep_dir)])

    assert result.exit_code == 0, result.output
    assert (sweep["plan"].sweep_dir / REPORT_CSV).is_file()


def test_report_command_rejects_empty_folder(tmp_path):
    result = CliRunner().invoke(report_command, [str(tmp_path)])

    assert result.exit_code == 2
    assert "No finished run" in result.output


def test_sweep_file_rejects_unknown_mode(tmp_path):
    config = _write_sweep_file(tmp_path, tmp_path / "data.csv", modes=["sentiment", "emotion"])

    with pytest.raises(SettingsError, match="emotion"):
        load_sweep(config)


def test_sweep_command_unknown_option_exits_2(tmp_path):
    config = _write_sweep_file(tmp_path, tmp_path / "data.csv", lora_rank=[4])
    result = CliRunner().invoke(sweep_command, ["--config", str(config)])

    assert result.exit_code == 2
    assert "lora_rank" in result.output
