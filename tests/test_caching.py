"""The tokenization cache: hits return the same rows, and every input of the key invalidates it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mtl_hf.caching import CACHE_ENV, TOKENIZED_SUBDIR, cache_key, resolve_cache_dir, tokenize_cached
from mtl_hf.data import tokenize_frame
from mtl_hf.tasks import TaskSpec
from mtl_hf.text import TextPreprocessing
from mtl_hf.tokenization import train_wordpiece_tokenizer

from .conftest import labelled_rows

TASKS = [
    TaskSpec(name="sentiment", label_column="sentiment", labels=("negatif", "pozitif")),
    TaskSpec(name="topic", label_column="topic", labels=("ekonomi", "saglik", "spor")),
]
MAX_LENGTH = 16


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(labelled_rows(copies=2))


@pytest.fixture
def tokenizer(frame):
    return train_wordpiece_tokenizer(frame["text"], vocab_size=200)


def _entries(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / TOKENIZED_SUBDIR).iterdir())


def test_cache_hit_returns_same_rows(tmp_path, frame, tokenizer):
    preprocessing = TextPreprocessing()
    first = tokenize_cached(frame, TASKS, tokenizer, preprocessing, MAX_LENGTH, tmp_path)
    second = tokenize_cached(frame, TASKS, tokenizer, preprocessing, MAX_LENGTH, tmp_path)
    expected = tokenize_frame(frame, TASKS, tokenizer, preprocessing, MAX_LENGTH)

    assert len(_entries(tmp_path)) == 1
    assert second.to_dict() == expected.to_dict()
    assert first.to_dict() == expected.to_dict()


def test_cache_disabled_writes_nothing(tmp_path, frame, tokenizer):
    dataset = tokenize_cached(frame, TASKS, tokenizer, TextPreprocessing(), MAX_LENGTH, None)

    assert len(dataset) == len(frame)
    assert list(tmp_path.iterdir()) == []


def test_cache_key_changes_with_each_input(frame, tokenizer):
    preprocessing = TextPreprocessing()
    base = cache_key(frame, TASKS, tokenizer, preprocessing, MAX_LENGTH)

    edited = frame.copy()
    edited.loc[0, "text"] = edited.loc[0, "text"] + " ek"
    relabelled = frame.copy()
    relabelled.loc[0, "sentiment"] = "pozitif" if frame.loc[0, "sentiment"] == "negatif" else "negatif"
    other_tokenizer = train_wordpiece_tokenizer(frame["text"], vocab_size=60)
    other_tasks = [TASKS[0], TaskSpec(name="topic", label_column="topic", labels=("ekonomi", "saglik", "spor", "x"))]

    variants = {
        "text": cache_key(edited, TASKS, tokenizer, preprocessing, MAX_LENGTH),
        "label": cache_key(relabelled, TASKS, tokenizer, preprocessing, MAX_LENGTH),
        "row subset": cache_key(frame.head(5), TASKS, tokenizer, preprocessing, MAX_LENGTH),
        "tokenizer": cache_key(frame, TASKS, other_tokenizer, preprocessing, MAX_LENGTH),
        "preprocessing": cache_key(frame, TASKS, tokenizer, TextPreprocessing(lowercase="turkish"), MAX_LENGTH),
        "max_length": cache_key(frame, TASKS, tokenizer, preprocessing, MAX_LENGTH + 1),
        "label list": cache_key(frame, other_tasks, tokenizer, preprocessing, MAX_LENGTH),
    }
    for name, key in variants.items():
        assert key != base, f"changing the {name} kept the cache key"


def test_cache_key_is_stable(frame, tokenizer):
    preprocessing = TextPreprocessing()
    assert cache_key(frame, TASKS, tokenizer, preprocessing, MAX_LENGTH) == cache_key(
        frame.copy(), TASKS, tokenizer, preprocessing, MAX_LENGTH
    )


def test_resolve_cache_dir_options(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "from_env"))

    assert resolve_cache_dir(None) == tmp_path / "from_env"
    assert resolve_cache_dir("none") is None
    assert resolve_cache_dir(str(tmp_path / "given")) == tmp_path / "given"
