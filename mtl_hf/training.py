"""The training entry point: data, model, Trainer, run folder and final metrics of one run."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import transformers
from accelerate import PartialState
from transformers import EarlyStoppingCallback, set_seed
from transformers.integrations import TensorBoardCallback
from transformers.trainer_utils import get_last_checkpoint

from . import __version__
from .data import DataSplits, MultiTaskCollator, load_splits, tokenize_frame
from .encoders import (
    build_scratch_encoder,
    load_pretrained_encoder,
    load_pretrained_tokenizer,
    resolve_lowercase,
)
from .metrics import build_compute_metrics, majority_baseline
from .runs import (
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_DIR,
    TENSORBOARD_DIR,
    create_run_dir,
    write_json,
    write_yaml,
)
from .settings import ModelArguments, Settings, SettingsError
from .text import TextPreprocessing
from .trainer import MultiTaskTrainer

logger = logging.getLogger(__name__)

# Dynamic padding to a multiple of 8 keeps tensor-core shapes on GPUs and costs little on CPUs.
PAD_TO_MULTIPLE_OF = 8


@dataclass
class RunResult:
    """Where a run was written and its final metrics (the content of metrics.json)."""

    run_dir: Path
    metrics: dict


def configure_logging(is_main_process: bool) -> None:
    """Log INFO from mtl_hf on the main process and warnings only elsewhere."""
    level = logging.INFO if is_main_process else logging.WARNING
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level, stream=sys.stderr)
    logging.getLogger("mtl_hf").setLevel(level)
    transformers.utils.logging.set_verbosity_warning()

    import datasets

    datasets.disable_progress_bars()


def default_run_name(settings: Settings) -> str:
    model_name = Path(settings.model.model).name if Path(settings.model.model).exists() else settings.model.model
    model_name = model_name.replace("/", "--")
    scratch = "-scratch" if settings.model.from_scratch else ""
    adapter = f"-lora{settings.model.lora_r}" if settings.model.uses_lora else ""
    return f"{model_name}{scratch}-{'+'.join(settings.data.task_names)}{adapter}"


def build_model(model_args: ModelArguments, splits: DataSplits):
    """Load or build the model and tokenizer, and resolve the text preprocessing they need."""
    tasks = {task.name: list(task.labels) for task in splits.tasks}
    config_values = {"classifier_dropout": model_args.classifier_dropout}

    if model_args.from_scratch:
        preprocessing = TextPreprocessing(resolve_lowercase(model_args.lowercase, None), model_args.clean_text)
        texts = [preprocessing(text) for text in splits.train["text"]]
        model, tokenizer = build_scratch_encoder(
            model_args.model, tasks, texts, model_args.vocab_size, model_args.max_length, **config_values
        )
    else:
        tokenizer = load_pretrained_tokenizer(model_args.model)
        preprocessing = TextPreprocessing(resolve_lowercase(model_args.lowercase, tokenizer), model_args.clean_text)
        model = load_pretrained_encoder(model_args.model, tasks, **config_values)

    model.config.text_preprocessing = preprocessing.to_dict()
    logger.info("Text preprocessing: lowercase=%s, clean=%s", preprocessing.lowercase, preprocessing.clean)
    return model, tokenizer, preprocessing


def _resolve_run_dir(settings: Settings) -> tuple[Path, str | None]:
    """Return the run folder and the checkpoint to resume from, if any."""
    resume_run = settings.training.resume_run
    if not resume_run:
        name = settings.training.run_name or default_run_name(settings)
        return create_run_dir(settings.training.runs_dir, name), None

    run_dir = Path(resume_run)
    if (run_dir / METRICS_FILE).exists():
        raise SettingsError(f"--resume_run {run_dir}: this run already finished ({METRICS_FILE} exists); start a new run.")
    checkpoint = get_last_checkpoint(str(run_dir / CHECKPOINTS_DIR)) if (run_dir / CHECKPOINTS_DIR).is_dir() else None
    if checkpoint is None:
        raise SettingsError(f"--resume_run {run_dir}: no checkpoint found under {run_dir / CHECKPOINTS_DIR}.")
    logger.info("Resuming %s from %s", run_dir, checkpoint)
    return run_dir, checkpoint


def _tensorboard_callback(run_dir: Path) -> TensorBoardCallback:
    callback = TensorBoardCallback()
    callback.logging_dir = str(run_dir / TENSORBOARD_DIR)
    return callback


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


def run_training(settings: Settings) -> RunResult:
    """Train one run end to end and return its folder and metrics.

    Under ``accelerate launch`` every process runs this function; only the main process writes
    the run folder's files, and the Trainer shards batches and gathers evaluation results.
    """
    state = PartialState()
    configure_logging(state.is_main_process)
    if settings.data.data is None:
        raise SettingsError("Missing --data: give a CSV, TSV, JSON Lines or Parquet file, or a Hub data set id.")
    set_seed(settings.training.seed)

    splits = load_splits(settings.data, settings.data.task_names)
    model, tokenizer, preprocessing = build_model(settings.model, splits)
    if settings.model.uses_lora:
        from .adapters import attach_lora

        model = attach_lora(model, settings.model)

    tokenized = {
        name: tokenize_frame(frame, splits.tasks, tokenizer, preprocessing, settings.model.max_length)
        for name, frame in splits.frames().items()
    }

    run_dir, checkpoint = _resolve_run_dir(settings)
    args = settings.training
    args.output_dir = str(run_dir / CHECKPOINTS_DIR)
    if state.is_main_process and checkpoint is None:
        write_yaml(run_dir / CONFIG_FILE, settings.to_dict())

    callbacks = [_tensorboard_callback(run_dir)]
    if args.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=args.early_stopping_patience))

    trainer = MultiTaskTrainer(
        model=model,
        args=args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"],
        data_collator=MultiTaskCollator(tokenizer, pad_to_multiple_of=PAD_TO_MULTIPLE_OF),
        processing_class=tokenizer,
        compute_metrics=build_compute_metrics([task.name for task in splits.tasks], [task.num_labels for task in splits.tasks]),
        callbacks=callbacks,
    )
    logger.info("Run folder: %s", run_dir)
    train_output = trainer.train(resume_from_checkpoint=checkpoint)

    validation_metrics = trainer.evaluate()
    test_metrics = trainer.evaluate(tokenized["test"], metric_key_prefix="test")
    metrics = summarise_run(settings, splits, trainer, train_output, validation_metrics, test_metrics)

    save_run_model(trainer, run_dir / MODEL_DIR)
    if state.is_main_process:
        write_json(run_dir / METRICS_FILE, metrics)
    close_tensorboard(trainer)
    state.wait_for_everyone()
    logger.info("Finished %s: test mean macro-F1 %.4f", run_dir, metrics["test_mean_macro_f1"])
    return RunResult(run_dir=run_dir, metrics=metrics)


def save_run_model(trainer: MultiTaskTrainer, model_dir: Path) -> None:
    """Save the trained model and tokenizer (on the main process) so ``from_pretrained`` reloads them."""
    trainer.save_model(str(model_dir))


def close_tensorboard(trainer: MultiTaskTrainer) -> None:
    """Flush and close the TensorBoard writer that the final evaluation reopened."""
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback) and callback.tb_writer is not None:
            callback.tb_writer.close()
            callback.tb_writer = None
