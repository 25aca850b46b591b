"""The sweep report: one row per model and adapter, rebuilt from the run folders alone.

Each finished run folder contains ``config.yaml`` (model, tasks, LoRA rank) and ``metrics.json``
(scores, losses, timing, parameter counts), which is all the report reads. A run trained on one
task is that task "alone"; a run trained on several tasks is "multitask".
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import click
import pandas as pd
import yaml

from .figures import size_figure_svg
from .files import atomic_output
from .runs import CONFIG_FILE, METRICS_FILE, read_json

logger = logging.getLogger(__name__)

RUNS_CSV = "runs.csv"
REPORT_CSV = "report.csv"
REPORT_MARKDOWN = "report.md"
REPORT_FIGURE = "report.svg"
MULTITASK_MODE = "multitask"
MISSING = "–"


def read_run(run_dir: Path) -> list[dict]:
    """Return one record per task of a finished run: scores, losses, time and parameter counts."""
    config = yaml.safe_load((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    metrics = read_json(run_dir / METRICS_FILE)
    model = config["model"]
    model_name = Path(model["model"]).name + ("-scratch" if model["from_scratch"] else "")
    mode = MULTITASK_MODE if len(metrics["tasks"]) > 1 else next(iter(metrics["tasks"]))

    records = []
    for task, scores in metrics["tasks"].items():
        records.append(
            {
                "run": run_dir.name,
                "model": model_name,
                "adapter": metrics["adapter"],
                "mode": mode,
                "task": task,
                "test_accuracy": scores["test"]["accuracy"],
                "test_macro_f1": scores["test"]["macro_f1"],
                "majority_accuracy": scores["majority_baseline"]["accuracy"],
                "majority_macro_f1": scores["majority_baseline"]["macro_f1"],
                "task_train_loss": scores["final_train_loss"],
                "run_train_loss": metrics["final_train_loss"],
                "train_time_s": metrics["timing"]["train_runtime_s"],
                "parameters": metrics["parameters"]["total"],
                "trainable_parameters": metrics["parameters"]["trainable"],
            }
        )
    return records


def collect_runs(sweep_dir: str | Path) -> pd.DataFrame:
    """Read every finished run under ``sweep_dir`` into one long table (a row per run and task)."""
    sweep_dir = Path(sweep_dir)
    records = []
    for metrics_file in sorted(sweep_dir.glob(f"*/{METRICS_FILE}")):
        run_dir = metrics_file.parent
        if not (run_dir / CONFIG_FILE).is_file():
            logger.warning("Skipped %s: it has %s but no %s", run_dir, METRICS_FILE, CONFIG_FILE)
            continue
        records.extend(read_run(run_dir))
    if not records:
        raise FileNotFoundError(f"No finished run (a folder with {METRICS_FILE}) found under {sweep_dir}.")

    runs = pd.DataFrame.from_records(records)
    # A run repeated in the sweep folder (started again by hand) counts once: its newest folder.
    return runs.drop_duplicates(subset=["model", "adapter", "mode", "task"], keep="last").reset_index(drop=True)


def build_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Pivot the long table to one row per model and adapter, ordered by model size.

    Per task: accuracy and macro-F1 trained alone and in the multi-task model, the majority-class
    baseline, and the final training loss of each. The multi-task run's summed loss sits beside
    the per-task losses, which are the ones comparable to a single-task run's loss.
    """
    tasks = sorted(runs["task"].unique())
    rows = []
    for (model, adapter), group in runs.groupby(["model", "adapter"], sort=False):
        row = {"model": model, "adapter": adapter, "parameters": int(group["parameters"].max())}
        for task in tasks:
            alone = group[(group["mode"] == task) & (group["task"] == task)]
            joint = group[(group["mode"] == MULTITASK_MODE) & (group["task"] == task)]
            for label, part in (("alone", alone), ("multitask", joint)):
                row[f"{task} {label} accuracy"] = _first(part, "test_accuracy")
                row[f"{task} {label} macro-F1"] = _first(part, "test_macro_f1")
            row[f"{task} majority accuracy"] = _first(group[group["task"] == task], "majority_accuracy")
            row[f"{task} majority macro-F1"] = _first(group[group["task"] == task], "majority_macro_f1")
        for task in tasks:
            row[f"train loss {task} alone"] = _first(group[(group["mode"] == task) & (group["task"] == task)], "task_train_loss")
            row[f"train loss multitask {task}"] = _first(group[(group["mode"] == MULTITASK_MODE) & (group["task"] == task)], "task_train_loss")
        row["train loss multitask sum"] = _first(group[group["mode"] == MULTITASK_MODE], "run_train_loss")
        for mode in (*tasks, MULTITASK_MODE):
            part = group[group["mode"] == mode]
            row[f"time {mode} (s)"] = _first(part, "train_time_s")
            row[f"trainable {mode}"] = _first(part, "trainable_parameters")
        rows.append(row)

    table = pd.DataFrame(rows)
    return table.sort_values(["parameters", "model", "adapter"], kind="stable").reset_index(drop=True)


def _first(frame: pd.DataFrame, column: str):
    return frame[column].iloc[0] if len(frame) else None


def _format_cell(column: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if "accuracy" in column:
        return f"{100 * value:.1f}%"
    if "macro-F1" in column or "loss" in column:
        return f"{value:.3f}"
    if column.startswith("time"):
        return f"{value:.1f}"
    if column == "parameters" or column.startswith("trainable"):
        return f"{int(value):,}"
    return str(value)


def table_markdown(table: pd.DataFrame) -> str:
    """Render the report table as a Markdown (GitHub) table; accuracies in percent, times in seconds."""
    columns = list(table.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(_format_cell(column, row[column]) for column in columns) + " |")
    return "\n".join(lines) + "\n"


def write_report(sweep_dir: str | Path) -> list[Path]:
    """Write runs.csv, report.csv, report.md and report.svg into ``sweep_dir`` and return their paths.

    The files are derived from the run folders alone, so rebuilding them replaces the previous
    report; no run folder is changed.
    """
    sweep_dir = Path(sweep_dir)
    runs = collect_runs(sweep_dir)
    table = build_table(runs)

    paths = [sweep_dir / name for name in (RUNS_CSV, REPORT_CSV, REPORT_MARKDOWN, REPORT_FIGURE)]
    with atomic_output(paths[0], overwrite=True) as stream:
        runs.to_csv(stream, index=False)
    with atomic_output(paths[1], overwrite=True) as stream:
        table.to_csv(stream, index=False)
    with atomic_output(paths[2], overwrite=True) as stream:
        stream.write(table_markdown(table))
    with atomic_output(paths[3], overwrite=True) as stream:
        stream.write(size_figure_svg(runs))
    logger.info("Report of %d runs written to %s", runs["run"].nunique(), sweep_dir)
    return paths


@click.command("report")
@click.argument("sweep_dir", type=click.Path(file_okay=False))
def report_command(sweep_dir: str) -> None:
    """Rebuild the report table (Markdown, CSV, SVG figure) of SWEEP_DIR from its run folders."""
    if not Path(sweep_dir).is_dir():
        raise click.BadParameter(f"{sweep_dir} is not a folder: give a sweep folder such as runs/ladder.", param_hint="SWEEP_DIR")
    try:
        written = write_report(sweep_dir)
    except FileNotFoundError as error:
        raise click.UsageError(str(error)) from error
    click.echo((Path(sweep_dir) / REPORT_MARKDOWN).read_text(encoding="utf-8"))
    click.echo("Written: " + ", ".join(str(path) for path in written))
