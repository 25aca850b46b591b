import logging

import pandas as pd
import pytest

from mtl_hf.data import (
    KEY,
    TEXT,
    MultiTaskCollator,
    dedup_key,
    load_splits,
    parse_label_columns,
    split_by_text,
)
from mtl_hf.files import DataFileError
from mtl_hf.settings import DataArguments
from mtl_hf.tokenization import train_wordpiece_tokenizer
from tests.conftest import labelled_rows, write_csv

TASK_NAMES = ("sentiment", "topic")


def _args(data, **values) -> DataArguments:
    return DataArguments(data=str(data), **values)


def test_sample_layout_found_without_options(tweets_csv):
    splits = load_splits(_args(tweets_csv), TASK_NAMES)
    assert [task.name for task in splits.tasks] == ["sentiment", "topic"]
    assert splits.tasks[0].labels == ("negatif", "pozitif")
    assert len(splits.train) + len(splits.validation) + len(splits.test) == len(labelled_rows())


def test_son_data_layout_with_index_and_trailing_spaces(tmp_path):
    rows = [
        {"": str(index), "hour": "09", "tweet": row["text"], "Tweets_duygu": row["sentiment"], "sınıflandırma": row["topic"] + " "}
        for index, row in enumerate(labelled_rows())
    ]
    path = write_csv(tmp_path / "SonData.csv", rows)

    splits = load_splits(_args(path), TASK_NAMES)

    assert splits.tasks[1].label_column == "sınıflandırma"
    assert splits.tasks[1].labels == ("ekonomi", "saglik", "spor")


def test_covid_layout_renames_sentiment_codes(tmp_path):
    rows = [
        {"Description": row["text"], "Sentiment_Analysis": code, "Polarity": "0.5", "Topic": row["topic"] + " "}
        for row, code in zip(labelled_rows(), ["-1", "0", "1"] * 100)
    ]
    splits = load_splits(_args(write_csv(tmp_path / "covid.csv", rows)), TASK_NAMES)
    assert splits.tasks[0].labels == ("negatif", "nötr", "pozitif")


def test_label_columns_option_names_columns(tmp_path):
    rows = [{"icerik": row["text"], "duygu": row["sentiment"], "konu": row["topic"]} for row in labelled_rows()]
    path = write_csv(tmp_path / "custom.csv", rows)
    splits = load_splits(_args(path, text_column="icerik", label_columns="sentiment=duygu,topic=konu"), TASK_NAMES)
    assert splits.tasks[1].label_column == "konu"


def test_column_match_ignores_turkish_case(tmp_path):
    rows = [{"TWEET": row["text"], "TWEETS_DUYGU": row["sentiment"], "SINIFLANDIRMA": row["topic"]} for row in labelled_rows()]
    splits = load_splits(_args(write_csv(tmp_path / "upper.csv", rows)), TASK_NAMES)
    assert splits.tasks[1].label_column == "SINIFLANDIRMA"


def test_misspelt_column_lists_columns(tmp_path):
    path = write_csv(tmp_path / "tweets.csv", labelled_rows())
    with pytest.raises(DataFileError) as error:
        load_splits(_args(path, text_column="txt"), TASK_NAMES)
    message = str(error.value)
    assert str(path) in message
    assert "'txt'" in message
    assert "Did you mean 'text'" in message
    assert "'sentiment'" in message


def test_unknown_layout_asks_for_text_column(tmp_path):
    path = write_csv(tmp_path / "other.csv", [{"a": "x", "b": "y"}])
    with pytest.raises(DataFileError, match="--text_column"):
        load_splits(_args(path), TASK_NAMES)


def test_missing_file_named_in_error(tmp_path):
    with pytest.raises(DataFileError, match="not found"):
        load_splits(_args(tmp_path / "nothing.csv"), TASK_NAMES)


def test_empty_text_and_unlabelled_rows_skipped_and_logged(tmp_path, caplog):
    rows = labelled_rows()
    rows[3]["text"] = "  "
    rows[5]["sentiment"] = rows[5]["topic"] = ""
    path = write_csv(tmp_path / "tweets.csv", rows)

    with caplog.at_level(logging.WARNING, logger="mtl_hf"):
        splits = load_splits(_args(path), TASK_NAMES)

    assert splits.dropped_rows["train"] == 2
    assert "skipped 1 rows with empty text (rows 4)" in caplog.text
    assert "skipped 1 rows with no label (rows 6)" in caplog.text


def test_row_with_one_label_is_kept_with_mask(tmp_path):
    rows = labelled_rows()
    for row in rows[:10]:
        row["topic"] = ""
    splits = load_splits(_args(write_csv(tmp_path / "tweets.csv", rows)), TASK_NAMES)

    total = sum(len(frame) for frame in splits.frames().values())
    assert total == len(rows)
    masked = sum((splits.label_ids(name)[:, 1] == -100).sum() for name in ("train", "validation", "test"))
    assert masked == 10


def test_single_class_task_rejected(tmp_path):
    rows = labelled_rows()
    for row in rows:
        row["sentiment"] = "negatif"
    with pytest.raises(DataFileError, match="'sentiment'.*at least two"):
        load_splits(_args(write_csv(tmp_path / "tweets.csv", rows)), TASK_NAMES)


def test_label_only_in_test_file_rejected(tmp_path):
    train = write_csv(tmp_path / "train.csv", labelled_rows())
    test_rows = labelled_rows(1)
    test_rows[0]["topic"] = "magazin"
    test = write_csv(tmp_path / "test.csv", test_rows)

    with pytest.raises(DataFileError) as error:
        load_splits(_args(train, test_data=str(test)), TASK_NAMES)
    message = str(error.value)
    assert str(test) in message
    assert "'magazin' (1 rows)" in message


def test_separate_files_report_leakage(tmp_path, caplog):
    train = write_csv(tmp_path / "train.csv", labelled_rows())
    test = write_csv(tmp_path / "test.csv", labelled_rows(1))
    with caplog.at_level(logging.WARNING, logger="mtl_hf"):
        splits = load_splits(_args(train, test_data=str(test)), TASK_NAMES)
    assert splits.sources["test"] == str(test)
    assert "6 of 6 test rows" in caplog.text


def test_split_keeps_copies_on_one_side():
    texts = [f"haber {index % 40}" for index in range(200)]  # every text five times
    frame = pd.DataFrame({TEXT: texts})
    frame[KEY] = frame[TEXT].map(dedup_key)

    train, validation, test = split_by_text(frame, 0.1, 0.1, seed=1)

    assert set(train[KEY]).isdisjoint(validation[KEY])
    assert set(train[KEY]).isdisjoint(test[KEY])
    assert set(validation[KEY]).isdisjoint(test[KEY])
    assert len(train) + len(validation) + len(test) == 200


def test_split_depends_on_seed_only():
    frame = pd.DataFrame({TEXT: [f"haber {index}" for index in range(100)]})
    frame[KEY] = frame[TEXT]
    first = split_by_text(frame, 0.2, 0.2, seed=3)[2][TEXT].tolist()
    again = split_by_text(frame, 0.2, 0.2, seed=3)[2][TEXT].tolist()
    other = split_by_text(frame, 0.2, 0.2, seed=4)[2][TEXT].tolist()
    assert first == again
    assert first != other


def test_dedup_key_treats_case_and_links_as_copies():
    assert dedup_key("İSTANBUL'da yağmur https://t.co/x") == dedup_key("istanbul da yağmur")


def test_parse_label_columns_rejects_bad_item():
    assert parse_label_columns("sentiment=duygu, topic=konu") == {"sentiment": "duygu", "topic": "konu"}
    with pytest.raises(ValueError, match="TASK=COLUMN"):
        parse_label_columns("sentiment")


def test_collator_pads_and_stacks_labels():
    tokenizer = train_wordpiece_tokenizer(["kısa", "daha uzun bir cümle"], vocab_size=60, min_frequency=1)
    features = [
        {**tokenizer("kısa"), "labels": [0, -100], "length": 3},
        {**tokenizer("daha uzun bir cümle"), "labels": [1, 2], "length": 6},
    ]
    batch = MultiTaskCollator(tokenizer, pad_to_multiple_of=8)(features)
    assert batch["input_ids"].shape == (2, 8)
    assert batch["labels"].tolist() == [[0, -100], [1, 2]]
    assert "length" not in batch


def test_hub_dataset_id_loaded_through_datasets(monkeypatch):
    import datasets

    requested = {}

    def fake_load_dataset(path, split):
        requested.update(path=path, split=split)
        return datasets.Dataset.from_list(labelled_rows())

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    splits = load_splits(DataArguments(data="someone/turkish-tweets", hub_split="train"), TASK_NAMES)

    assert requested == {"path": "someone/turkish-tweets", "split": "train"}
    assert splits.tasks[1].labels == ("ekonomi", "saglik", "spor")


def test_unreachable_hub_dataset_error_names_id(monkeypatch):
    import datasets

    def failing_load_dataset(path, split):
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", failing_load_dataset)
    with pytest.raises(DataFileError, match="someone/absent.*not a local file.*offline"):
        load_splits(DataArguments(data="someone/absent"), TASK_NAMES)
