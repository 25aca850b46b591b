"""The content of a run's metrics.json: per-task scores, the majority baseline, timings and data counts."""

from __future__ import annotations

from . import __version__
from .data import DataSplits
from .metrics import majority_baseline
from .settings import Settings
from .trainer import MultiTaskTrainer


def best_validation_metrics(trainer: MultiTaskTrainer) -> dict:
    """Return the logged validation metrics of the model training ended with, or {} if none were logged.

    That is the best evaluation under ``load_best_model_at_end``, else the last one. Reading them
    from the log avoids a second validation pass, which would also add a duplicate point to TensorBoard.
    """
    evaluations = [entry for entry in trainer.state.log_history if "eval_loss" in entry]
    if not evaluations:
        return {}
    metric = trainer.args.metric_for_best_model
    if trainer.args.load_best_model_at_end and trainer.state.best_metric is not None and metric:
        key = metric if metric.startswith("eval_") else f"eval_{metric}"
        for entry in evaluations:
            if entry.get(key) == trainer.state.best_metric:
                return entry
    return evaluations[-1]


def _last_logged(log_history: list[dict], key: str) -> float | None:
    values = [entry[key] for entry in log_history if key in entry]
    return values[-1] if values else None


def summarise_run(
    settings: Settings,
    splits: DataSplits,
    trainer: MultiTaskTrainer,
    train_output,
    validation_metrics: dict,
    test_metrics: dict,
) -> dict:
    """Assemble metrics.json: per-task scores beside the majority baseline, timings and data counts."""
    train_ids, test_ids = splits.label_ids("train"), splits.label_ids("test")
    history = trainer.state.log_history

    tasks = {}
    for index, task in enumerate(splits.tasks):
        baseline = majority_baseline(train_ids[:, index], test_ids[:, index], task.num_labels)
        baseline["majority_label"] = task.labels[baseline.pop("majority_class_id")]
        tasks[task.name] = {
            "labels": list(task.labels),
            "test": {name: test_metrics.get(f"test_{task.name}_{name}") for name in ("accuracy", "macro_f1", "loss")},
            "validation": {
                name: validation_metrics.get(f"eval_{task.name}_{name}") for name in ("accuracy", "macro_f1", "loss")
            },
            "majority_baseline": baseline,
            "final_train_loss": _last_logged(history, f"loss_{task.name}"),
        }

    parameters = sum(parameter.numel() for parameter in trainer.model.parameters())
    trainable = sum(parameter.numel() for parameter in trainer.model.parameters() if parameter.requires_grad)
    return {
        "mtl_hf_version": __version__,
        "model": settings.model.model,
        "from_scratch": settings.model.from_scratch,
        "adapter": f"lora-r{settings.model.lora_r}" if settings.model.uses_lora else "full",
        "tasks": tasks,
        "test_mean_macro_f1": test_metrics.get("test_mean_macro_f1"),
        "final_train_loss": _last_logged(history, "loss"),
        "train_loss_mean": train_output.training_loss,
        "timing": {
            "train_runtime_s": train_output.metrics.get("train_runtime"),
            "train_samples_per_second": train_output.metrics.get("train_samples_per_second"),
            "epoch_time_s": trainer.epoch_timer.epoch_seconds,
        },
        "parameters": {"total": parameters, "trainable": trainable},
        "global_steps": trainer.state.global_step,
        "data": splits.summary(),
    }

