import pytest

from mtl_hf.text import TextPreprocessing, clean_tweet, turkish_lower


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IŞIK", "ışık"),
        ("İSTANBUL", "istanbul"),
        ("Irak İzmir", "ırak izmir"),
        ("I\u0307zmir", "izmir"),  # İ written as I + combining dot above
        ("ÇĞÖŞÜ", "çğöşü"),
    ],
)
def test_turkish_lower_dotted_and_dotless_i(text, expected):
    assert turkish_lower(text) == expected


def test_python_lower_differs_for_dotted_capital_i():
    assert "İ".lower() != turkish_lower("İ")


def test_clean_tweet_removes_links_mentions_digits_punctuation():
    cleaned = clean_tweet("@haber SON DAKİKA: 15 il'de yasak! https://t.co/abc #koronavirüs")
    assert cleaned == "SON DAKİKA il de yasak koronavirüs"


def test_preprocessing_cleans_then_lowercases():
    preprocessing = TextPreprocessing(lowercase="turkish", clean=True)
    assert preprocessing("IRAK'ta 3 PATLAMA!") == "ırak ta patlama"


def test_preprocessing_rejects_unknown_lowercase():
    with pytest.raises(ValueError, match="lowercase"):
        TextPreprocessing(lowercase="english")
