"""Score a trained model on a labelled file: per-task metrics, confusion matrices and a baseline.

Columns are found as in training (``--text-column``, ``--label-columns`` or a known layout), and
labels are mapped with the model's own label names. A label the model never saw cannot be
predicted, so its rows are counted, reported by name and left out of that task's metrics
instead of stopping the evaluation.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from .data import TEXT, build_frame, resolve_columns
from .files import DataFileError, atomic_output, read_table
from .inference import RUN_METRICS_FILE, Predictor
from .metrics import classification_report
from .modeling import IGNORE_INDEX

logger = logging.getLogger(__name__)

BASELINE_FROM_TRAINING = "training split"
BASELINE_FROM_FILE = "evaluated file"
CELL_PIXELS = 24
GRID_GREY = 200
# Colour of a cell that contains every row of its true label. An empty cell is white.
FULL_CELL_RGB = np.array([8, 48, 107], dtype=np.float64)


def read_labelled_file(
    data: str | Path,
    task_names: list[str],
    text_column: str | None,
    label_columns: dict[str, str],
    encoding: str | None,
    separator: str | None,
) -> tuple[pd.DataFrame, int, int]:
    """Read the file and return the rows with text and a label, the rows read and the rows dropped."""
    raw, _ = read_table(data, encoding=encoding, separator=separator)
    columns = resolve_columns(str(data), list(raw.columns), tuple(task_names), text_column, label_columns)

    if (raw[columns.text].astype(str).str.strip() == "").all():
        raise DataFileError(
            f"{data}: the text column {columns.text!r} is empty in all {len(raw)} rows. "
            "Name the column that holds the texts with --text-column."
        )
    frame, dropped = build_frame(str(data), raw, columns)
    if frame.empty:
        raise DataFileError(
            f"{data}: no row has both a text and a label in {', '.join(map(repr, columns.labels.values()))}. "
            "Name the label columns with --label-columns TASK=COLUMN."
        )
    return frame, len(raw), dropped


def training_label_counts(run_dir: Path | None) -> dict[str, dict[str, int]]:
    """Return each task's label counts in the training split, from the run's metrics.json, or {}."""
    if run_dir is None or not (run_dir / RUN_METRICS_FILE).is_file():
        return {}
    try:
        metrics = json.loads((run_dir / RUN_METRICS_FILE).read_text(encoding="utf-8"))
        return dict(metrics["data"]["splits"]["train"]["labels"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        logger.warning("%s: no training label counts (%s); the baseline uses the evaluated file", run_dir / RUN_METRICS_FILE, error)
        return {}


def encode_known_labels(values: pd.Series, labels: list[str]) -> tuple[np.ndarray, dict[str, int]]:
    """Return class ids (``-100`` for missing or unseen labels) and the count of each unseen label."""
    label2id = {label: index for index, label in enumerate(labels)}
    ids = np.full(len(values), IGNORE_INDEX, dtype=np.int64)
    unseen: Counter[str] = Counter()
    for position, value in enumerate(values):
        if value is None or pd.isna(value):
            continue
        if value in label2id:
            ids[position] = label2id[value]
        else:
            unseen[value] += 1
    return ids, dict(unseen.most_common())


def majority_class(labels: list[str], references: np.ndarray, train_counts: dict[str, int] | None) -> tuple[int, str]:
    """Return the majority class id, from the training counts when known, else from ``references``."""
    if train_counts:
        counts = [int(train_counts.get(label, 0)) for label in labels]
        if sum(counts):
            return int(np.argmax(counts)), BASELINE_FROM_TRAINING
    labelled = references[references != IGNORE_INDEX]
    return int(np.bincount(labelled, minlength=len(labels)).argmax()), BASELINE_FROM_FILE


def score_task(
    labels: list[str],
    predicted: np.ndarray,
    references: np.ndarray,
    unseen: dict[str, int],
    train_counts: dict[str, int] | None,
) -> dict:
    """Build one task's report: metrics, per-class scores, confusion matrix and majority baseline."""
    labelled = references != IGNORE_INDEX
    task_report: dict = {"labels": labels, "rows": int(labelled.sum()), "unseen_labels": unseen}
    if not labelled.any():
        return task_report

    report = classification_report(predicted, references, len(labels))
    task_report["accuracy"] = report["accuracy"]
    task_report["macro_f1"] = report["macro_f1"]
    task_report["per_class"] = {
        label: {
            "precision": report["precision"][index],
            "recall": report["recall"][index],
            "f1": report["f1"][index],
            "support": report["support"][index],
        }
        for index, label in enumerate(labels)
    }
    task_report["confusion_matrix"] = report["confusion_matrix"]

    majority, source = majority_class(labels, references, train_counts)
    baseline = classification_report(np.full_like(references, majority), references, len(labels))
    task_report["majority_baseline"] = {
        "label": labels[majority],
        "source": source,
        "accuracy": baseline["accuracy"],
        "macro_f1": baseline["macro_f1"],
    }
    return task_report


def evaluate_file(
    predictor: Predictor,
    data: str | Path,
    *,
    text_column: str | None = None,
    label_columns: dict[str, str] | None = None,
    encoding: str | None = None,
    separator: str | None = None,
    progress: bool = False,
) -> dict:
    """Predict every labelled row of ``data`` and return the per-task report (see :func:`score_task`)."""
    frame, rows_read, dropped = read_labelled_file(
        data, predictor.task_names, text_column, label_columns or {}, encoding, separator
    )
    probabilities = predictor.predict_probabilities(frame[TEXT].tolist(), progress=progress)
    run_dir = predictor.location.run_dir if predictor.location else None
    train_counts = training_label_counts(run_dir)

    tasks = {}
    for task, task_probabilities in zip(predictor.task_names, probabilities):
        labels = predictor.config.labels_for(task)
        references, unseen = encode_known_labels(frame[task], labels)
        if unseen:
            listed = ", ".join(f"{label!r} ({count} rows)" for label, count in unseen.items())
            logger.warning("%s: task %r has labels the model never saw, left out of its metrics: %s", data, task, listed)
        tasks[task] = score_task(labels, task_probabilities.argmax(axis=1), references, unseen, train_counts.get(task))
        if not tasks[task]["rows"]:
            logger.warning("%s: task %r has no row with a label the model knows; it gets no scores", data, task)

    return {
        "data": str(data),
        "model": str(predictor.location.model_dir) if predictor.location else None,
        "rows_read": rows_read,
        "rows_evaluated": len(frame),
        "rows_dropped": dropped,
        "tasks": tasks,
    }


def format_task(task: str, report: dict) -> list[str]:
    """Return the printed lines of one task: scores, baseline, per-class table and confusion matrix."""
    lines = [f"{task} ({report['rows']} rows)"]
    if "accuracy" not in report:
        lines.append("  no row with a label the model knows")
    else:
        baseline = report["majority_baseline"]
        lines.append(
            f"  accuracy {report['accuracy']:.3f}   macro-F1 {report['macro_f1']:.3f}   "
            f"majority baseline {baseline['label']!r} (from the {baseline['source']}): "
            f"accuracy {baseline['accuracy']:.3f}, macro-F1 {baseline['macro_f1']:.3f}"
        )
        width = max(12, *(len(label) + 2 for label in report["labels"]))
        lines.append(f"  {'label':<{width}}{'precision':>10}{'recall':>10}{'F1':>10}{'support':>10}")
        for label, scores in report["per_class"].items():
            lines.append(
                f"  {label:<{width}}{scores['precision']:>10.3f}{scores['recall']:>10.3f}"
                f"{scores['f1']:>10.3f}{scores['support']:>10d}"
            )
        lines.append("  confusion matrix (rows: true label, columns: predicted label)")
        lines.append("  " + " " * width + "".join(f"{label[:9]:>10}" for label in report["labels"]))
        for label, counts in zip(report["labels"], report["confusion_matrix"]):
            lines.append(f"  {label:<{width}}" + "".join(f"{count:>10d}" for count in counts))

    if report["unseen_labels"]:
        listed = ", ".join(f"{label!r} ({count} rows)" for label, count in report["unseen_labels"].items())
        lines.append(f"  labels the model never saw, left out: {listed}")
    return lines


def format_report(report: dict) -> str:
    """Return the whole report as a plain-text table."""
    lines = [
        f"Evaluated {report['model']} on {report['data']}: {report['rows_evaluated']} rows "
        f"({report['rows_dropped']} of {report['rows_read']} dropped for empty text or no label)",
    ]
    for task, task_report in report["tasks"].items():
        lines += ["", *format_task(task, task_report)]
    return "\n".join(lines)


def write_report_json(report: dict, path: str | Path, overwrite: bool = False) -> None:
    with atomic_output(path, overwrite=overwrite) as stream:
        json.dump(report, stream, ensure_ascii=False, indent=2)
        stream.write("\n")


def confusion_matrix_image(matrix: list[list[int]]) -> np.ndarray:
    """Draw a confusion matrix as an ``(height, width, 3)`` uint8 heat map, one square per cell.

    Each cell is shaded by its share of the true label's rows (its row), from white for none to
    dark blue for all, so that rare and frequent classes are equally readable. Grey lines
    separate the cells; the label order is that of the model's label names.
    """
    counts = np.asarray(matrix, dtype=np.float64)
    row_totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, row_totals, out=np.zeros_like(counts), where=row_totals > 0)

    white = np.full(3, 255.0)
    colours = white + shares[..., None] * (FULL_CELL_RGB - white)
    image = np.repeat(np.repeat(colours, CELL_PIXELS, axis=0), CELL_PIXELS, axis=1)
    image[::CELL_PIXELS, :, :] = GRID_GREY
    image[:, ::CELL_PIXELS, :] = GRID_GREY
    return image.round().astype(np.uint8)


def log_to_tensorboard(report: dict, log_dir: str | Path) -> None:
    """Write each task's scores, its text report and its confusion-matrix image to TensorBoard."""
    from torch.utils.tensorboard import SummaryWriter  # imported here: only --log-dir needs it

    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        for task, task_report in report["tasks"].items():
            if "accuracy" not in task_report:
                continue
            writer.add_scalar(f"evaluate/{task}/accuracy", task_report["accuracy"])
            writer.add_scalar(f"evaluate/{task}/macro_f1", task_report["macro_f1"])
            # Four leading spaces make TensorBoard's Markdown show the table in a fixed-width font.
            table = "\n".join("    " + line for line in format_task(task, task_report))
            writer.add_text(f"evaluate/{task}/report", table)
            image = confusion_matrix_image(task_report["confusion_matrix"])
            writer.add_image(f"evaluate/{task}/confusion_matrix", image, dataformats="HWC")
    finally:
        writer.close()
    logger.info("Wrote the evaluation to TensorBoard under %s", log_dir)
