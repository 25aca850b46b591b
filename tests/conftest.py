"""Shared fixtures: tiny models built from a config, small data files, and the real tweets when present."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import pytest
import torch

from mtl_hf import BertForMultiTask, BertMultiTaskConfig
from mtl_hf.tokenization import train_wordpiece_tokenizer

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
COVID_TWEETS = SHARED_DATA / "tr_covid_tweets_2020_05.csv"

TASKS = {"sentiment": ["negatif", "pozitif"], "topic": ["ekonomi", "saglik", "spor"]}

# Texts whose words give away both labels, so that a tiny model learns them in a few steps.
_SENTENCES = {
    ("negatif", "ekonomi"): "borsa sert düştü enflasyon kriz faiz kaybı",
    ("pozitif", "ekonomi"): "borsa rekor kırdı ihracat büyüme müjde kazanç",
    ("negatif", "saglik"): "hastanede vaka arttı salgın ölüm kayıp",
    ("pozitif", "saglik"): "aşı başarılı hastane açıldı iyileşme müjde",
    ("negatif", "spor"): "takım maçı kaybetti gol yedi küme düştü",
    ("pozitif", "spor"): "takım maçı kazandı şampiyon oldu gol attı",
}


def tiny_config(**overrides) -> BertMultiTaskConfig:
    """Return the configuration of a 2-layer BERT with hidden size 32, fast enough for unit tests."""
    values = dict(
        vocab_size=120,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        tasks=TASKS,
    )
    values.update(overrides)
    return BertMultiTaskConfig(**values)


@pytest.fixture
def tiny_model() -> BertForMultiTask:
    return BertForMultiTask(tiny_config())


def labelled_rows(copies: int = 12) -> list[dict]:
    """Return rows with the columns text, sentiment and topic; each text gets a numbered variant."""
    rows = []
    for index in range(copies):
        for (sentiment, topic), sentence in _SENTENCES.items():
            rows.append({"text": f"{sentence} haber {index}", "sentiment": sentiment, "topic": topic})
    return rows


def write_csv(path: Path, rows: list[dict], fieldnames: list[str] | None = None) -> Path:
    fieldnames = fieldnames or list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def tweets_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "tweets.csv", labelled_rows())


@pytest.fixture
def covid_tweets() -> Path:
    if not COVID_TWEETS.is_file():
        pytest.skip(f"real tweets not found at {COVID_TWEETS}; they exist only beside the project checkout")
    return COVID_TWEETS


@pytest.fixture(autouse=True, scope="session")
def _isolated_tokenization_cache(tmp_path_factory):
    """Keep the tests' tokenization cache out of the user's home folder; subprocesses inherit it."""
    previous = os.environ.get("MTL_HF_CACHE")
    os.environ["MTL_HF_CACHE"] = str(tmp_path_factory.mktemp("mtl_hf_cache"))
    yield
    if previous is None:
        os.environ.pop("MTL_HF_CACHE", None)
    else:
        os.environ["MTL_HF_CACHE"] = previous


@pytest.fixture(autouse=True)
def _quiet_third_party_logs():
    logging.getLogger("transformers").setLevel(logging.ERROR)
    yield


# Text preprocessing saved with the tiny inference model: Turkish lower-casing and tweet cleaning.
PREPROCESSING = {"lowercase": "turkish", "clean": True}


def save_tiny_model(folder: Path) -> Path:
    """Save an untrained 2-layer BertForMultiTask and a scratch tokenizer to ``folder`` as a run would."""
    tokenizer = train_wordpiece_tokenizer([row["text"] for row in labelled_rows()], vocab_size=120)
    tokenizer.model_max_length = 64
    torch.manual_seed(0)
    model = BertForMultiTask(tiny_config(vocab_size=len(tokenizer), text_preprocessing=PREPROCESSING))
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run folder whose model/ subfolder contains the tiny model."""
    run = tmp_path_factory.mktemp("run")
    save_tiny_model(run / "model")
    return run
