"""A disk cache of tokenized splits, so that a second run with the same inputs skips tokenization.

A cached split is found by a key that hashes everything its content depends on:

* the rows being tokenized (each row's text and task labels, after reading, cleaning and
  splitting), so a changed data file, ``--max_rows`` or split setting gives a new key;
* the task names and their label lists, which fix the class ids;
* the tokenizer: its class, its serialised ``tokenizer.json`` (fast tokenizers) or its vocabulary,
  and its special tokens;
* the text preprocessing and ``max_length``;
* the versions of mtl_hf, transformers and tokenizers.

A key that matches therefore always means the same token ids, and a stale entry is never read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import tokenizers
import transformers
from transformers import PreTrainedTokenizerBase

from . import __version__
from .data import TEXT, tokenize_frame
from .tasks import TaskSpec
from .text import TextPreprocessing

logger = logging.getLogger(__name__)

CACHE_ENV = "MTL_HF_CACHE"
CACHE_DISABLED = "none"
TOKENIZED_SUBDIR = "tokenized"
# The top-level "truncation" and "padding" entries of a tokenizer.json: null or an object nested at most twice.
_CALL_SETTINGS = re.compile(r'"(?:truncation|padding)":(?:null|\{(?:[^{}]|\{[^{}]*\})*\}),?')


def default_cache_dir() -> Path:
    """Return ``$MTL_HF_CACHE``, else ``$HF_HOME/mtl_hf``, else ``~/.cache/huggingface/mtl_hf``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    hf_home = os.environ.get("HF_HOME", str(Path.home() / ".cache" / "huggingface"))
    return Path(hf_home).expanduser() / "mtl_hf"


def resolve_cache_dir(option: str | None) -> Path | None:
    """Turn the ``--cache_dir`` value into a folder, or None when caching is turned off."""
    if option is None:
        return default_cache_dir()
    if option.strip().lower() == CACHE_DISABLED:
        return None
    return Path(option).expanduser()


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """Hash what decides a tokenizer's output: its class, its rules or vocabulary, and its special tokens."""
    digest = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # Each tokenizer call overwrites the backend's truncation and padding, so they are left out.
        # The max_length that matters is in the key anyway. A regular expression removes them because
        # parsing and re-serialising MiniLM's 30k-token vocabulary took about 0.3 s on a 2-core CPU.
        digest.update(_CALL_SETTINGS.sub("", backend.to_str()).encode())
    else:
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    digest.update(json.dumps(tokenizer.special_tokens_map, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def rows_fingerprint(frame: pd.DataFrame, tasks: list[TaskSpec]) -> str:
    """Hash the text and label columns of ``frame``, row by row and in order."""
    columns = [TEXT] + [task.name for task in tasks]
    row_hashes = pd.util.hash_pandas_object(frame[columns].astype(str), index=False).to_numpy()
    digest = hashlib.sha256(row_hashes.tobytes())
    digest.update(json.dumps([[task.name, list(task.labels)] for task in tasks]).encode())
    return digest.hexdigest()


def cache_key(
    frame: pd.DataFrame,
    tasks: list[TaskSpec],
    tokenizer: PreTrainedTokenizerBase,
    preprocessing: TextPreprocessing,
    max_length: int,
) -> str:
    """Return the hex key of one split's tokenized form (see the module docstring for its parts)."""
    parts = {
        "rows": rows_fingerprint(frame, tasks),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "preprocessing": preprocessing.to_dict(),
        "max_length": max_length,
        "versions": [__version__, transformers.__version__, tokenizers.__version__],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def tokenize_cached(
    frame: pd.DataFrame,
    tasks: list[TaskSpec],
    tokenizer: PreTrainedTokenizerBase,
    preprocessing: TextPreprocessing,
    max_length: int,
    cache_dir: Path | None,
):
    """Return :func:`mtl_hf.data.tokenize_frame` of ``frame``, read from ``cache_dir`` when it is there.

    With ``cache_dir`` None this only tokenizes.
    """
    import datasets

    if cache_dir is None:
        return tokenize_frame(frame, tasks, tokenizer, preprocessing, max_length)

    entry = cache_dir / TOKENIZED_SUBDIR / cache_key(frame, tasks, tokenizer, preprocessing, max_length)
    if entry.is_dir():
        logger.info("Reading tokenized rows from the cache %s", entry)
        return datasets.load_from_disk(str(entry))

    dataset = tokenize_frame(frame, tasks, tokenizer, preprocessing, max_length)
    _store(dataset, entry)
    return dataset


def _store(dataset, entry: Path) -> None:
    """Write ``dataset`` to a temporary folder and rename it into place.

    Renaming makes the entry appear whole or not at all, so a reader never sees a half-written
    entry, and when several processes store the same key, the first rename wins and the others
    drop their copy. A cache that cannot be written is logged and skipped, because training can
    go on without it.
    """
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
        dataset.save_to_disk(str(staging))
    except OSError as error:
        logger.warning("Could not write the tokenization cache under %s: %s", entry.parent, error)
        return

    try:
        staging.rename(entry)
        logger.info("Stored tokenized rows in the cache %s", entry)
    except OSError:
        # Another process stored the same key first, and its entry has the same content.
        shutil.rmtree(staging, ignore_errors=True)
