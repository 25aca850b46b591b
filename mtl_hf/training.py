"""The training entry point: data, model, Trainer, run folder and final metrics of one run."""

from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import transformers
from accelerate import PartialState
from transformers import AutoTokenizer, EarlyStoppingCallback, set_seed
from transformers.trainer_utils import get_last_checkpoint

from .caching import resolve_cache_dir, tokenize_cached
from .data import DataSplits, MultiTaskCollator, load_splits
from .encoders import (
    build_scratch_encoder,
    load_pretrained_encoder,
    load_pretrained_tokenizer,
    resolve_lowercase,
)
from .metrics import build_compute_metrics
from .runs import (
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_DIR,
    create_run_dir,
    write_json,
    write_yaml,
)
from .settings import ModelArguments, MultiTaskTrainingArguments, Settings, SettingsError
from .text import TextPreprocessing
from .run_summary import best_validation_metrics, summarise_run
from .tensorboard import close_tensorboard, record_hyperparameters, tensorboard_callback
from .tokenization import train_shared_tokenizer
from .trainer import MultiTaskTrainer

logger = logging.getLogger(__name__)

# Dynamic padding to a multiple of 8 keeps tensor-core shapes on GPUs and costs little on CPUs.
PAD_TO_MULTIPLE_OF = 8


@dataclass
class RunResult:
    """The folder of a finished run and its final metrics (the content of metrics.json)."""

    run_dir: Path
    metrics: dict


def configure_logging(is_main_process: bool) -> None:
    """Log INFO from mtl_hf on the main process and warnings only elsewhere."""
    level = logging.INFO if is_main_process else logging.WARNING
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level, stream=sys.stderr)
    logging.getLogger("mtl_hf").setLevel(level)
    transformers.utils.logging.set_verbosity_warning()
    # The per-file "Loading weights" and "Writing model shards" bars repeat at every checkpoint and
    # drown the training log; the Trainer's own progress bar (--disable_tqdm) is not affected.
    transformers.utils.logging.disable_progress_bar()

    import datasets

    datasets.disable_progress_bars()


def default_run_name(settings: Settings) -> str:
    model_name = Path(settings.model.model).name if Path(settings.model.model).exists() else settings.model.model
    model_name = model_name.replace("/", "--")
    scratch = "-scratch" if settings.model.from_scratch else ""
    adapter = f"-lora{settings.model.lora_r}" if settings.model.uses_lora else ""
    return f"{model_name}{scratch}-{'+'.join(settings.data.task_names)}{adapter}"


def build_model(model_args: ModelArguments, splits: DataSplits, tokenizer_dir: str | None = None):
    """Load or build the model and tokenizer, and resolve the text preprocessing they need.

    With ``--from_scratch``, ``tokenizer_dir`` (the checkpoint a run resumes from) supplies the
    tokenizer; otherwise the main process trains it and sends it to the other processes.
    """
    tasks = {task.name: list(task.labels) for task in splits.tasks}
    config_values = {"classifier_dropout": model_args.classifier_dropout}

    if model_args.from_scratch:
        preprocessing = TextPreprocessing(resolve_lowercase(model_args.lowercase, None), model_args.clean_text)
        texts = [preprocessing(text) for text in splits.train["text"]]
        if tokenizer_dir is not None:
            tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        else:
            tokenizer = train_shared_tokenizer(texts, model_args.vocab_size)
        model, tokenizer = build_scratch_encoder(
            model_args.model, tasks, texts, model_args.vocab_size, model_args.max_length, tokenizer, **config_values
        )
    else:
        tokenizer = load_pretrained_tokenizer(model_args.model)
        preprocessing = TextPreprocessing(resolve_lowercase(model_args.lowercase, tokenizer), model_args.clean_text)
        model = load_pretrained_encoder(model_args.model, tasks, **config_values)

    model.config.text_preprocessing = preprocessing.to_dict()
    logger.info("Text preprocessing: lowercase=%s, clean=%s", preprocessing.lowercase, preprocessing.clean)
    return model, tokenizer, preprocessing


def _find_resume_checkpoint(settings: Settings) -> tuple[Path, str] | None:
    """Return the run folder of ``--resume_run`` and its last checkpoint, or None for a new run."""
    resume_run = settings.training.resume_run
    if not resume_run:
        return None

    run_dir = Path(resume_run)
    if (run_dir / METRICS_FILE).exists():
        raise SettingsError(f"--resume_run {run_dir}: this run already finished ({METRICS_FILE} exists); start a new run.")
    checkpoint = get_last_checkpoint(str(run_dir / CHECKPOINTS_DIR)) if (run_dir / CHECKPOINTS_DIR).is_dir() else None
    if checkpoint is None:
        raise SettingsError(f"--resume_run {run_dir}: no checkpoint found under {run_dir / CHECKPOINTS_DIR}.")
    logger.info("Resuming %s from %s", run_dir, checkpoint)
    return run_dir, checkpoint


def _create_new_run_dir(settings: Settings) -> Path:
    name = settings.training.run_name or default_run_name(settings)
    return create_run_dir(settings.training.runs_dir, name)


def log_training_plan(args: MultiTaskTrainingArguments, train_rows: int, num_processes: int) -> None:
    """Log the effective batch size, the optimizer steps and the learning-rate schedule once."""
    if not PartialState().is_main_process:
        return
    effective_batch = args.per_device_train_batch_size * num_processes * args.gradient_accumulation_steps
    # The Trainer keeps the last partial batch, so each process gets ceil(rows / global batch) batches.
    batches_per_epoch = math.ceil(train_rows / (args.per_device_train_batch_size * num_processes))
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / args.gradient_accumulation_steps))
    total_steps = args.max_steps if args.max_steps > 0 else math.ceil(args.num_train_epochs * steps_per_epoch)
    logger.info(
        "Effective batch size %d (per-device batch %d, processes %d, gradient accumulation steps %d); "
        "%d optimizer steps (%d per epoch)",
        effective_batch, args.per_device_train_batch_size, num_processes, args.gradient_accumulation_steps,
        total_steps, steps_per_epoch,
    )
    logger.info(
        "Learning rate %g, schedule %s, %d warm-up steps",
        args.learning_rate, getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type),
        args.get_warmup_steps(total_steps),
    )


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
    resume = _find_resume_checkpoint(settings)
    model, tokenizer, preprocessing = build_model(settings.model, splits, tokenizer_dir=resume[1] if resume else None)
    if settings.model.uses_lora:
        from .adapters import attach_lora

        model = attach_lora(model, settings.model)

    cache_dir = resolve_cache_dir(settings.data.cache_dir)
    tokenized = {
        name: tokenize_cached(frame, splits.tasks, tokenizer, preprocessing, settings.model.max_length, cache_dir)
        for name, frame in splits.frames().items()
    }

    run_dir, checkpoint = resume if resume else (_create_new_run_dir(settings), None)
    args = settings.training
    args.output_dir = str(run_dir / CHECKPOINTS_DIR)
    if state.is_main_process and checkpoint is None:
        write_yaml(run_dir / CONFIG_FILE, settings.to_dict())

    callbacks = [tensorboard_callback(run_dir)]
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
    log_training_plan(args, len(tokenized["train"]), state.num_processes)
    train_output = trainer.train(resume_from_checkpoint=checkpoint)

    validation_metrics = best_validation_metrics(trainer) or trainer.evaluate()
    test_metrics = trainer.evaluate(tokenized["test"], metric_key_prefix="test")
    metrics = summarise_run(settings, splits, trainer, train_output, validation_metrics, test_metrics)

    save_run_model(trainer, run_dir / MODEL_DIR)
    if state.is_main_process:
        write_json(run_dir / METRICS_FILE, metrics)
        record_hyperparameters(trainer, settings, metrics)
    close_tensorboard(trainer)
    state.wait_for_everyone()
    logger.info("Finished %s: test mean macro-F1 %.4f", run_dir, metrics["test_mean_macro_f1"])
    return RunResult(run_dir=run_dir, metrics=metrics)


def save_run_model(trainer: MultiTaskTrainer, model_dir: Path) -> None:
    """Save the trained model and tokenizer (on the main process) so ``from_pretrained`` reloads them."""
    trainer.save_model(str(model_dir))
    if _is_adapter_model(trainer) and trainer.is_world_process_zero():
        from .adapters import save_base_model

        save_base_model(trainer.model, model_dir)


def _is_adapter_model(trainer: MultiTaskTrainer) -> bool:
    """Return whether the trained model is peft-wrapped (a LoRA run)."""
    return hasattr(trainer.model, "peft_config")
