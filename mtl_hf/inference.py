"""Load a trained multi-task model for inference and predict every task's label for texts.

A model is loaded from a run folder (its ``model/`` subfolder is used) or from a model folder
written by ``save_pretrained``. Weights are read from safetensors files only, unless the caller
allows pickled weights (``pytorch_model.bin``), because unpickling a file can run arbitrary code.
Remote code is never trusted: the model class is always :class:`BertForMultiTask`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from .configuration import BertMultiTaskConfig
from .modeling import BertForMultiTask
from .text import TextPreprocessing

logger = logging.getLogger(__name__)

MODEL_SUBFOLDER = "model"
RUN_METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.json"
SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
ADAPTER_CONFIG_FILE = "adapter_config.json"
ADAPTER_SAFETENSORS_FILE = "adapter_model.safetensors"
BASE_MODEL_DIR = "base"
DEFAULT_BATCH_SIZE = 32
LABEL_SUFFIX = "_label"
PROBABILITY_SUFFIX = "_probability"


class ModelLoadError(ValueError):
    """Raised for a model path that cannot be used; the message names the path and what to do."""


@dataclass(frozen=True)
class ModelLocation:
    """The model folder to load, and the run folder it belongs to, if any."""

    model_dir: Path
    run_dir: Path | None


def _is_model_dir(path: Path) -> bool:
    # A LoRA run's model folder contains the adapter config, and its encoder config only under base/.
    return (path / CONFIG_FILE).is_file() or (path / ADAPTER_CONFIG_FILE).is_file()


def locate_model(path: str | Path) -> ModelLocation:
    """Resolve a run folder or a model folder to the folder that contains ``config.json``."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelLoadError(f"--model {path}: folder not found. Pass a run folder or a model folder.")
    if not path.is_dir():
        raise ModelLoadError(f"--model {path}: not a folder. Pass a run folder or a model folder.")

    if _is_model_dir(path / MODEL_SUBFOLDER):
        return ModelLocation(model_dir=path / MODEL_SUBFOLDER, run_dir=path)
    if _is_model_dir(path):
        run_dir = path.parent if (path.parent / RUN_METRICS_FILE).is_file() else None
        return ModelLocation(model_dir=path, run_dir=run_dir)
    raise ModelLoadError(
        f"--model {path}: no {CONFIG_FILE} in this folder or in its {MODEL_SUBFOLDER}/ subfolder. "
        "Pass a run folder written by `mtl-hf train` or its model/ folder."
    )


def read_task_config(model_dir: Path) -> BertMultiTaskConfig:
    """Read the model's config and check that it names the tasks and their label names."""
    config_path = model_dir / CONFIG_FILE
    try:
        values = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{config_path}: invalid JSON ({error}). Pass an intact model folder.") from error

    tasks = values.get("tasks") if isinstance(values, dict) else None
    if not tasks or not all(isinstance(labels, list) and labels for labels in tasks.values()):
        raise ModelLoadError(
            f"{config_path}: not an mtl_hf multi-task model: no task label maps ('tasks' is missing or empty). "
            "Pass a model trained with `mtl-hf train`."
        )
    return BertMultiTaskConfig.from_pretrained(str(model_dir))


def check_weight_files(model_dir: Path, allow_pickle: bool) -> None:
    """Raise unless the folder has safetensors weights, or pickled weights that the caller allowed."""
    if any((model_dir / name).is_file() for name in SAFETENSORS_FILES):
        return
    pickled = [name for name in PICKLE_FILES if (model_dir / name).is_file()]
    if pickled and allow_pickle:
        logger.warning("%s: loading pickled weights from %s, as --allow-pickle requested", model_dir, pickled[0])
        return
    if pickled:
        raise ModelLoadError(
            f"{model_dir}: the weights are pickled ({pickled[0]}), and unpickling can run arbitrary code. "
            "Pass --allow-pickle only if you trust the file, or convert it to safetensors."
        )
    raise ModelLoadError(f"{model_dir}: no model weights found ({SAFETENSORS_FILES[0]} is missing). Pass a complete model folder.")


def load_model(model_dir: Path, allow_pickle: bool = False) -> BertForMultiTask:
    """Load a fully fine-tuned model, or a LoRA run's model with its adapter merged in."""
    if (model_dir / ADAPTER_CONFIG_FILE).is_file():
        return _load_adapter_model(model_dir, allow_pickle)

    config = read_task_config(model_dir)
    check_weight_files(model_dir, allow_pickle)
    # None lets transformers prefer safetensors and fall back to the pickled file that was allowed.
    use_safetensors = None if allow_pickle else True
    model = BertForMultiTask.from_pretrained(str(model_dir), config=config, use_safetensors=use_safetensors)
    return model.eval()


def _load_adapter_model(model_dir: Path, allow_pickle: bool) -> BertForMultiTask:
    if not (model_dir / ADAPTER_SAFETENSORS_FILE).is_file() and not allow_pickle:
        raise ModelLoadError(
            f"{model_dir}: the adapter weights are not in {ADAPTER_SAFETENSORS_FILE}. Pass --allow-pickle only if "
            "you trust the folder, or save the adapter again as safetensors."
        )
    base_dir = model_dir / BASE_MODEL_DIR
    if base_dir.is_dir():
        read_task_config(base_dir)
        check_weight_files(base_dir, allow_pickle)

    from .adapters import load_adapter_model  # peft is only needed for LoRA runs

    # Merging removes the adapter indirection, so prediction runs a plain BertForMultiTask.
    return load_adapter_model(model_dir).merge_and_unload().eval()


def load_tokenizer(model_dir: Path) -> PreTrainedTokenizerBase:
    try:
        return AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{model_dir}: the tokenizer cannot be loaded ({error}). Pass a model folder saved with its tokenizer.") from error


def _batches(texts: Sequence[str], batch_size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(texts), batch_size):
        yield texts[start : start + batch_size]


class Predictor:
    """Predict each task's label and probability for texts, with the preprocessing saved in training."""

    def __init__(
        self,
        model: BertForMultiTask,
        tokenizer: PreTrainedTokenizerBase,
        batch_size: int = DEFAULT_BATCH_SIZE,
        location: ModelLocation | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"Invalid batch size {batch_size}: give a positive number of texts.")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.location = location
        self.config: BertMultiTaskConfig = model.config
        self.preprocessing = TextPreprocessing.from_dict(self.config.text_preprocessing)
        self.max_length = min(tokenizer.model_max_length, self.config.max_position_embeddings)

    @classmethod
    def from_path(cls, path: str | Path, batch_size: int = DEFAULT_BATCH_SIZE, allow_pickle: bool = False) -> "Predictor":
        """Load the model and tokenizer of a run folder or model folder."""
        location = locate_model(path)
        model = load_model(location.model_dir, allow_pickle=allow_pickle)
        tokenizer = load_tokenizer(location.model_dir)
        logger.info(
            "Loaded %s: tasks %s; text preprocessing lowercase=%s, clean=%s",
            location.model_dir,
            ", ".join(model.task_names),
            model.config.text_preprocessing and model.config.text_preprocessing.get("lowercase"),
            model.config.text_preprocessing and model.config.text_preprocessing.get("clean"),
        )
        return cls(model, tokenizer, batch_size=batch_size, location=location)

    @property
    def task_names(self) -> list[str]:
        return self.config.task_names

    def output_columns(self) -> list[str]:
        """Return the added column names: ``<task>_label`` and ``<task>_probability`` per task."""
        return [f"{task}{suffix}" for task in self.task_names for suffix in (LABEL_SUFFIX, PROBABILITY_SUFFIX)]

    @torch.inference_mode()
    def predict_probabilities(self, texts: Sequence[str], progress: bool = False) -> list[np.ndarray]:
        """Return one ``(len(texts), num_labels)`` probability array per task, in ``task_names`` order.

        ``progress`` shows a bar of the texts done on standard error.
        """
        per_task: list[list[np.ndarray]] = [[] for _ in self.task_names]
        bar = tqdm(total=len(texts), unit=" rows", file=sys.stderr, disable=not progress, desc="inference")
        for batch in _batches(texts, self.batch_size):
            encodings = self.tokenizer(
                [self.preprocessing(text) for text in batch],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            output = self.model(**encodings.to(self.model.device))
            for index, logits in enumerate(output.logits):
                per_task[index].append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
            bar.update(len(batch))
        bar.close()

        return [
            np.concatenate(arrays) if arrays else np.zeros((0, len(self.config.labels_for(task))))
            for task, arrays in zip(self.task_names, per_task)
        ]

    def predict_texts(self, texts: Iterable[str]) -> list[dict]:
        """Return, for each text in order, ``{"<task>_label": name, "<task>_probability": p}`` per task."""
        texts = [str(text) for text in texts]
        probabilities = self.predict_probabilities(texts)

        rows: list[dict] = [{} for _ in texts]
        for task, task_probabilities in zip(self.task_names, probabilities):
            labels = self.config.labels_for(task)
            best = task_probabilities.argmax(axis=1) if len(texts) else []
            for row, class_id, probs in zip(rows, best, task_probabilities):
                row[f"{task}{LABEL_SUFFIX}"] = labels[int(class_id)]
                row[f"{task}{PROBABILITY_SUFFIX}"] = float(probs[class_id])
        return rows


def predict_texts(
    model: str | Path, texts: Iterable[str], batch_size: int = DEFAULT_BATCH_SIZE, allow_pickle: bool = False
) -> list[dict]:
    """Load ``model`` (a run or model folder) and predict every task for ``texts``; see :meth:`Predictor.predict_texts`."""
    return Predictor.from_path(model, batch_size=batch_size, allow_pickle=allow_pickle).predict_texts(texts)
