from mtl_hf.tokenization import SPECIAL_TOKENS, train_wordpiece_tokenizer
from tests.conftest import labelled_rows

TEXTS = [row["text"] for row in labelled_rows()] + ["Işık İzmir'de ağır şiddetli yağış"]


def test_wordpiece_ids_follow_sorted_tokens():
    vocab = train_wordpiece_tokenizer(TEXTS, vocab_size=500, min_frequency=1).get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    specials = list(SPECIAL_TOKENS.values())
    assert tokens[: len(specials)] == specials
    assert tokens[len(specials) :] == sorted(tokens[len(specials) :])


def test_special_tokens_come_first():
    tokenizer = train_wordpiece_tokenizer(TEXTS, vocab_size=500, min_frequency=1)
    assert [tokenizer.convert_ids_to_tokens(index) for index in range(5)] == list(SPECIAL_TOKENS.values())
    assert tokenizer.pad_token_id == 0


def test_turkish_letters_kept_and_wrapped_in_cls_sep():
    tokenizer = train_wordpiece_tokenizer(TEXTS, vocab_size=500, min_frequency=1)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("ışık ağır")["input_ids"])
    assert tokens[0] == "[CLS]"
    assert tokens[-1] == "[SEP]"
    assert "[UNK]" not in tokens
    assert "".join(token.removeprefix("##") for token in tokens[1:-1]) == "ışıkağır"
