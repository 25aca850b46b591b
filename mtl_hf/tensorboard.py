"""TensorBoard logging of a run: the writer's folder, hyperparameters, and closing the writer."""

from __future__ import annotations

from pathlib import Path

from transformers.integrations import TensorBoardCallback

from .runs import TENSORBOARD_DIR
from .settings import Settings
from .trainer import MultiTaskTrainer


def tensorboard_callback(run_dir: Path) -> TensorBoardCallback:
    callback = TensorBoardCallback()
    callback.logging_dir = str(run_dir / TENSORBOARD_DIR)
    return callback


def tensorboard_writer(trainer: MultiTaskTrainer):
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback) and callback.tb_writer is not None:
            return callback.tb_writer
    return None


def record_hyperparameters(trainer: MultiTaskTrainer, settings: Settings, metrics: dict) -> None:
    """Write the run's settings and test scores to TensorBoard's HParams view.

    Sweeps put runs side by side there, filterable by model, tasks and adapter.
    """
    writer = tensorboard_writer(trainer)
    if writer is None:
        return
    hyperparameters = {
        "model": settings.model.model,
        "from_scratch": settings.model.from_scratch,
        "tasks": "+".join(settings.data.task_names),
        "adapter": metrics["adapter"],
        "learning_rate": settings.training.learning_rate,
        "num_train_epochs": settings.training.num_train_epochs,
        "per_device_train_batch_size": settings.training.per_device_train_batch_size,
        "seed": settings.training.seed,
    }
    scores = {"hparam/test_mean_macro_f1": metrics["test_mean_macro_f1"]}
    for task, task_metrics in metrics["tasks"].items():
        scores[f"hparam/test_{task}_accuracy"] = task_metrics["test"]["accuracy"]
        scores[f"hparam/test_{task}_macro_f1"] = task_metrics["test"]["macro_f1"]
    # run_name "." keeps the HParams record in the run's own event folder instead of a timestamped subfolder.
    writer.add_hparams(hyperparameters, scores, run_name=".")


def close_tensorboard(trainer: MultiTaskTrainer) -> None:
    """Flush and close the TensorBoard writer that the final evaluation reopened."""
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback) and callback.tb_writer is not None:
            callback.tb_writer.close()
            callback.tb_writer = None

