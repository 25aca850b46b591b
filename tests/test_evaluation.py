"""Scoring a saved model on labelled files: metrics, unseen labels, baseline, outputs and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mtl_hf.commands import evaluate_command
from mtl_hf.evaluation import confusion_matrix_image, evaluate_file, format_report, log_to_tensorboard
from mtl_hf.files import DataFileError, read_table
from mtl_hf.inference import Predictor
from tests.conftest import labelled_rows, write_csv

REAL_TWEET_ROWS = 200


@pytest.fixture(scope="module")
def predictor(run_dir: Path) -> Predictor:
    return Predictor.from_path(run_dir / "model")


@pytest.fixture
def labelled_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "test.csv", labelled_rows(copies=2))


def _with_unseen_labels(path: Path) -> Path:
    rows = labelled_rows(copies=2)
    rows += [{"text": "hava güneşli", "sentiment": "nötr", "topic": "hava"}] * 3
    rows += [{"text": "borsa düştü", "sentiment": "negatif", "topic": "magazin"}]
    return write_csv(path, rows)


def _evaluate(arguments: list[str]):
    return CliRunner().invoke(evaluate_command, ["--no-progress", *arguments])


# Report contents


def test_report_has_scores_per_task(predictor, labelled_csv):
    report = evaluate_file(predictor, labelled_csv)
    assert set(report["tasks"]) == {"sentiment", "topic"}
    assert 0.0 <= report["tasks"]["topic"]["accuracy"] <= 1.0
    assert 0.0 <= report["tasks"]["topic"]["macro_f1"] <= 1.0


def test_per_class_scores_name_every_label(predictor, labelled_csv):
    per_class = evaluate_file(predictor, labelled_csv)["tasks"]["topic"]["per_class"]
    assert list(per_class) == ["ekonomi", "saglik", "spor"]
    assert [scores["support"] for scores in per_class.values()] == [4, 4, 4]


def test_confusion_matrix_counts_every_row(predictor, labelled_csv):
    matrix = np.array(evaluate_file(predictor, labelled_csv)["tasks"]["sentiment"]["confusion_matrix"])
    assert matrix.shape == (2, 2)
    assert matrix.sum() == 12


def test_accuracy_matches_predictions(predictor, labelled_csv):
    report = evaluate_file(predictor, labelled_csv)
    predicted = [row["topic_label"] for row in predictor.predict_texts([row["text"] for row in labelled_rows(copies=2)])]
    expected = np.mean([label == row["topic"] for label, row in zip(predicted, labelled_rows(copies=2))])
    assert report["tasks"]["topic"]["accuracy"] == pytest.approx(expected)


def test_unseen_labels_are_counted_by_name(predictor, tmp_path):
    report = evaluate_file(predictor, _with_unseen_labels(tmp_path / "test.csv"))
    assert report["tasks"]["topic"]["unseen_labels"] == {"hava": 3, "magazin": 1}
    assert report["tasks"]["sentiment"]["unseen_labels"] == {"nötr": 3}


def test_unseen_label_rows_leave_only_that_task(predictor, tmp_path):
    report = evaluate_file(predictor, _with_unseen_labels(tmp_path / "test.csv"))
    assert report["tasks"]["topic"]["rows"] == 12
    assert report["tasks"]["sentiment"]["rows"] == 13


def test_baseline_uses_evaluated_file_without_run(predictor, tmp_path):
    rows = labelled_rows(copies=2) + [{"text": "spor haberi", "sentiment": "pozitif", "topic": "spor"}]
    baseline = evaluate_file(predictor, write_csv(tmp_path / "test.csv", rows))["tasks"]["topic"]["majority_baseline"]
    assert baseline["label"] == "spor"
    assert baseline["source"] == "evaluated file"
    assert baseline["accuracy"] == pytest.approx(5 / 13)


def test_baseline_uses_training_counts_of_run(run_dir, labelled_csv):
    metrics = {"data": {"splits": {"train": {"labels": {"topic": {"saglik": 9, "spor": 2}, "sentiment": {}}}}}}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    try:
        report = evaluate_file(Predictor.from_path(run_dir), labelled_csv)
    finally:
        (run_dir / "metrics.json").unlink()
    assert report["tasks"]["topic"]["majority_baseline"]["label"] == "saglik"
    assert report["tasks"]["topic"]["majority_baseline"]["source"] == "training split"
    assert report["tasks"]["sentiment"]["majority_baseline"]["source"] == "evaluated file"


def test_named_label_columns_are_used(predictor, tmp_path):
    rows = [{"tweet": row["text"], "duygu": row["sentiment"], "konu": row["topic"]} for row in labelled_rows(copies=1)]
    data = write_csv(tmp_path / "test.csv", rows)
    report = evaluate_file(predictor, data, text_column="tweet", label_columns={"sentiment": "duygu", "topic": "konu"})
    assert report["rows_evaluated"] == 6


def test_text_table_lists_labels_and_baseline(predictor, tmp_path):
    text = format_report(evaluate_file(predictor, _with_unseen_labels(tmp_path / "test.csv")))
    assert "majority baseline" in text
    assert "confusion matrix" in text
    assert "'hava' (3 rows)" in text


# Errors


def test_missing_label_column_is_rejected(predictor, tmp_path):
    data = write_csv(tmp_path / "test.csv", [{"text": "borsa", "sentiment": "negatif"}])
    with pytest.raises(DataFileError, match="column 'topic' \\(expected by the mtl-hf-sample layout for task 'topic'\\) not found.*--label_columns topic=COLUMN"):
        evaluate_file(predictor, data)


def test_all_empty_text_is_rejected(predictor, tmp_path):
    data = write_csv(tmp_path / "test.csv", [{"text": " ", "sentiment": "negatif", "topic": "spor"}])
    with pytest.raises(DataFileError, match="empty in all 1 rows"):
        evaluate_file(predictor, data)


def test_rows_without_labels_are_rejected(predictor, tmp_path):
    data = write_csv(tmp_path / "test.csv", [{"text": "borsa", "sentiment": "", "topic": ""}])
    with pytest.raises(DataFileError, match="no row has both a text and a label"):
        evaluate_file(predictor, data)


# Outputs


def test_confusion_image_shades_by_row_share():
    image = confusion_matrix_image([[4, 0], [1, 1]])
    assert image.shape == (48, 48, 3)
    assert image.dtype == np.uint8
    assert tuple(image[12, 12]) == (8, 48, 107)
    assert tuple(image[12, 36]) == (255, 255, 255)


def test_tensorboard_gets_an_event_file(predictor, labelled_csv, tmp_path):
    log_to_tensorboard(evaluate_file(predictor, labelled_csv), tmp_path / "logs")
    assert list((tmp_path / "logs").glob("events.out.tfevents.*"))


def test_command_prints_and_writes_json(run_dir, labelled_csv, tmp_path):
    report_path = tmp_path / "report.json"
    result = _evaluate(["--model", str(run_dir), "--data", str(labelled_csv), "--json", str(report_path)])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output
    assert json.loads(report_path.read_text(encoding="utf-8"))["rows_evaluated"] == 12


def test_command_keeps_existing_json(run_dir, labelled_csv, tmp_path):
    report_path = tmp_path / "report.json"
    report_path.write_text("{}")
    result = _evaluate(["--model", str(run_dir), "--data", str(labelled_csv), "--json", str(report_path)])
    assert result.exit_code == 2
    assert report_path.read_text() == "{}"


def test_command_missing_label_column_exits_2(run_dir, tmp_path):
    data = write_csv(tmp_path / "test.csv", [{"text": "borsa", "sentiment": "negatif"}])
    result = _evaluate(["--model", str(run_dir), "--data", str(data)])
    assert result.exit_code == 2
    assert "column 'topic' (expected by the mtl-hf-sample layout for task 'topic') not found" in result.output
    assert "--label_columns topic=COLUMN" in result.output


def test_command_invalid_label_columns_exits_2(run_dir, labelled_csv):
    result = _evaluate(["--model", str(run_dir), "--data", str(labelled_csv), "--label-columns", "topic"])
    assert result.exit_code == 2
    assert "TASK=COLUMN" in result.output


def test_real_tweets_report_unseen_labels(predictor, covid_tweets, tmp_path):
    # The first rows only, in the file's own columns, keep the test fast.
    raw, _ = read_table(covid_tweets)
    sample = tmp_path / "covid_sample.csv"
    raw.head(REAL_TWEET_ROWS).to_csv(sample, index=False)

    report = evaluate_file(predictor, sample)
    assert report["tasks"]["sentiment"]["unseen_labels"]["nötr"] > 0
    assert report["rows_evaluated"] == REAL_TWEET_ROWS
