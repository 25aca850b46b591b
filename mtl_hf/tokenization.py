"""WordPiece tokenizers trained on the training texts, for encoders built from scratch."""

from __future__ import annotations

from collections.abc import Iterable

from accelerate import PartialState
from accelerate.utils import broadcast_object_list
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}
DEFAULT_MIN_FREQUENCY = 2


def train_wordpiece_tokenizer(
    texts: Iterable[str], vocab_size: int, min_frequency: int = DEFAULT_MIN_FREQUENCY
) -> PreTrainedTokenizerFast:
    """Train a BERT-style WordPiece tokenizer on ``texts``.

    The normaliser neither lower-cases nor strips accents: the texts arrive already normalised by
    :class:`mtl_hf.text.TextPreprocessing`, and stripping accents would merge Turkish letters such
    as ş/s and ö/o.
    """
    tokenizer = Tokenizer(models.WordPiece(unk_token=SPECIAL_TOKENS["unk_token"]))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()

    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS.values()),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.model = _renumbered_wordpiece(tokenizer.get_vocab())

    cls_id = tokenizer.token_to_id(SPECIAL_TOKENS["cls_token"])
    sep_id = tokenizer.token_to_id(SPECIAL_TOKENS["sep_token"])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **SPECIAL_TOKENS)


def _renumbered_wordpiece(vocab: dict[str, int]) -> models.WordPiece:
    """Return a WordPiece model with the special tokens first and the rest in sorted order.

    The trainer numbers tokens differently from one call to the next (tokenizers 0.23 breaks
    frequency ties in hash-map order), so two runs on the same texts would give the same word
    different ids. WordPiece matching does not depend on the ids, so renumbering is safe.
    """
    # NOTE: the trainer also breaks merge ties at random, so the token set itself can differ between
    # trainings (1 token in 8,000 on the COVID tweets, more on tiny corpora). Distributed and resumed
    # runs therefore share one trained tokenizer rather than training it again.
    specials = list(SPECIAL_TOKENS.values())
    ordered = specials + sorted(token for token in vocab if token not in specials)
    return models.WordPiece(
        vocab={token: index for index, token in enumerate(ordered)}, unk_token=SPECIAL_TOKENS["unk_token"]
    )


def train_shared_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train the scratch tokenizer on the main process and return the same one on every process.

    WordPiece training is not deterministic across processes (the order of equally frequent
    tokens varies), so each process training its own would give different token ids.
    """
    state = PartialState()
    if state.num_processes == 1:
        return train_wordpiece_tokenizer(texts, vocab_size=vocab_size)

    serialised: list[str | None] = [None]
    if state.is_main_process:
        serialised[0] = train_wordpiece_tokenizer(texts, vocab_size=vocab_size).backend_tokenizer.to_str()
    broadcast_object_list(serialised, from_process=0)
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(serialised[0]), **SPECIAL_TOKENS)

