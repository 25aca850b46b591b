"""Per-task classification metrics (an ``evaluate`` metric), and the majority-class baseline."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import datasets
import evaluate
import numpy as np
from transformers import EvalPrediction

from .modeling import IGNORE_INDEX

COMBINED_METRIC = "mean_macro_f1"

_DESCRIPTION = "Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix."
_INPUTS = """
predictions: predicted class ids. references: true class ids.
num_labels (int, optional): number of classes, so that classes absent from both lists still get a row.
Macro-F1 averages over the classes present in the references or the predictions, as scikit-learn does.
"""


class ClassificationMetrics(evaluate.Metric):
    """Single-label classification metrics computed with numpy.

    It is instantiated directly instead of through ``evaluate.load("accuracy")``, which fetches
    the metric's script from the Hugging Face Hub and so fails offline.
    """

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, num_labels: int | None = None) -> dict:
        predictions = np.asarray(predictions, dtype=np.int64)
        references = np.asarray(references, dtype=np.int64)
        if num_labels is None:
            num_labels = int(max(predictions.max(initial=-1), references.max(initial=-1)) + 1)

        confusion = np.zeros((num_labels, num_labels), dtype=np.int64)
        np.add.at(confusion, (references, predictions), 1)

        true_positives = np.diag(confusion).astype(float)
        predicted = confusion.sum(axis=0)
        actual = confusion.sum(axis=1)
        precision = np.divide(true_positives, predicted, out=np.zeros(num_labels), where=predicted > 0)
        recall = np.divide(true_positives, actual, out=np.zeros(num_labels), where=actual > 0)
        f1_denominator = precision + recall
        f1 = np.divide(2 * precision * recall, f1_denominator, out=np.zeros(num_labels), where=f1_denominator > 0)

        present = (predicted + actual) > 0
        total = confusion.sum()
        return {
            "accuracy": float(true_positives.sum() / total) if total else 0.0,
            "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
            "precision": precision.tolist(),
            "recall": recall.tolist(),
            "f1": f1.tolist(),
            "support": actual.tolist(),
            "confusion_matrix": confusion.tolist(),
        }


def classification_report(predictions: np.ndarray, references: np.ndarray, num_labels: int) -> dict:
    """Compute :class:`ClassificationMetrics` for rows whose reference is not ``-100``."""
    labelled = references != IGNORE_INDEX
    metric = ClassificationMetrics(keep_in_memory=True)
    return metric.compute(
        predictions=predictions[labelled], references=references[labelled], num_labels=num_labels
    )


def cross_entropy(logits: np.ndarray, references: np.ndarray) -> float:
    """Return the mean cross-entropy of ``logits`` over rows whose reference is not ``-100``."""
    labelled = references != IGNORE_INDEX
    if not labelled.any():
        return float("nan")
    logits = logits[labelled].astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probabilities[np.arange(len(logits)), references[labelled]].mean())


def build_compute_metrics(
    task_names: Sequence[str], num_labels: Sequence[int]
) -> Callable[[EvalPrediction], dict[str, float]]:
    """Return a ``compute_metrics`` function for :class:`mtl_hf.trainer.MultiTaskTrainer`.

    It reports ``<task>_accuracy``, ``<task>_macro_f1`` and ``<task>_loss`` for each task, and
    ``mean_macro_f1`` over the tasks for best-model selection.
    """

    def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
        logits_per_task = prediction.predictions
        if not isinstance(logits_per_task, (tuple, list)):
            logits_per_task = (logits_per_task,)
        references = np.asarray(prediction.label_ids).reshape(len(logits_per_task[0]), -1)

        results: dict[str, float] = {}
        for index, (task, task_logits) in enumerate(zip(task_names, logits_per_task)):
            task_references = references[:, index]
            report = classification_report(task_logits.argmax(axis=-1), task_references, num_labels[index])
            results[f"{task}_accuracy"] = report["accuracy"]
            results[f"{task}_macro_f1"] = report["macro_f1"]
            results[f"{task}_loss"] = cross_entropy(task_logits, task_references)

        results[COMBINED_METRIC] = float(np.mean([results[f"{task}_macro_f1"] for task in task_names]))
        return results

    return compute_metrics


def majority_baseline(train_label_ids: np.ndarray, eval_label_ids: np.ndarray, num_labels: int) -> dict:
    """Score the constant prediction of the most frequent training class on ``eval_label_ids``."""
    train_labelled = train_label_ids[train_label_ids != IGNORE_INDEX]
    majority = int(np.bincount(train_labelled, minlength=num_labels).argmax())
    eval_labelled = eval_label_ids[eval_label_ids != IGNORE_INDEX]
    report = classification_report(np.full_like(eval_labelled, majority), eval_labelled, num_labels)
    return {"majority_class_id": majority, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
