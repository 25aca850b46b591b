"""Loading a model folder for inference, and streaming predictions from files and standard input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from mtl_hf import BertForMultiTask
from mtl_hf import prediction as prediction_module
from mtl_hf.commands import predict_command
from mtl_hf.files import DataFileError
from mtl_hf.inference import ModelLoadError, Predictor, locate_model, predict_texts
from mtl_hf.prediction import iter_line_chunks, predict_file, predict_lines
from tests.conftest import write_csv

TEXTS = ["Borsa rekor kırdı", "takım maçı kaybetti", "aşı başarılı", "hastanede vaka arttı", "borsa sert düştü"]
OUTPUT_COLUMNS = ["sentiment_label", "sentiment_probability", "topic_label", "topic_probability"]


@pytest.fixture(scope="module")
def predictor(run_dir: Path) -> Predictor:
    return Predictor.from_path(run_dir, batch_size=2)


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _copy_model(run_dir: Path, target: Path) -> Path:
    target.mkdir()
    for file in (run_dir / "model").iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


# Loading


def test_run_folder_resolves_to_model_subfolder(run_dir):
    assert locate_model(run_dir).model_dir == run_dir / "model"


def test_model_folder_loads_directly(run_dir):
    assert Predictor.from_path(run_dir / "model").task_names == ["sentiment", "topic"]


def test_saved_preprocessing_is_applied(predictor):
    assert predictor.preprocessing.lowercase == "turkish"
    assert predictor.preprocessing.clean is True


def test_config_without_tasks_is_rejected(run_dir, tmp_path):
    folder = _copy_model(run_dir, tmp_path / "plain")
    config = json.loads((folder / "config.json").read_text())
    del config["tasks"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="no task label maps"):
        Predictor.from_path(folder)


def test_missing_folder_is_rejected(tmp_path):
    with pytest.raises(ModelLoadError, match="folder not found"):
        Predictor.from_path(tmp_path / "absent")


def test_pickled_weights_need_allow_pickle(run_dir, tmp_path):
    folder = _copy_model(run_dir, tmp_path / "pickled")
    model = BertForMultiTask.from_pretrained(str(folder))
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()

    with pytest.raises(ModelLoadError, match="--allow-pickle"):
        Predictor.from_path(folder)
    assert Predictor.from_path(folder, allow_pickle=True).task_names == ["sentiment", "topic"]


# Python API


def test_predict_texts_gives_label_and_probability_per_task(predictor):
    rows = predictor.predict_texts(TEXTS)
    assert len(rows) == len(TEXTS)
    assert list(rows[0]) == OUTPUT_COLUMNS
    assert rows[0]["topic_label"] in ("ekonomi", "saglik", "spor")
    assert 0.0 < rows[0]["sentiment_probability"] <= 1.0


def test_batching_keeps_each_row_prediction(predictor):
    batched = predictor.predict_texts(TEXTS)
    one_by_one = [predictor.predict_texts([text])[0] for text in TEXTS]
    for together, alone in zip(batched, one_by_one):
        assert together["topic_label"] == alone["topic_label"]
        assert together["topic_probability"] == pytest.approx(alone["topic_probability"], abs=1e-5)


def test_cleaning_makes_raw_tweet_match_clean_text(predictor):
    raw, clean = predictor.predict_texts(["BORSA REKOR @haber https://t.co/x 2020!", "borsa rekor"])
    assert raw == clean


def test_module_function_loads_and_predicts(run_dir):
    assert len(predict_texts(run_dir, TEXTS[:2])) == 2


def test_empty_text_list_gives_no_rows(predictor):
    assert predictor.predict_texts([]) == []


# Files


def _texts_csv(path: Path, texts: list[str] = TEXTS) -> Path:
    rows = [{"id": str(index), "text": text} for index, text in enumerate(texts)]
    return write_csv(path, rows)


def test_csv_output_keeps_input_columns_then_predictions(predictor, tmp_path):
    output = tmp_path / "out.csv"
    predict_file(predictor, _texts_csv(tmp_path / "in.csv"), output, progress=False)
    frame = _read_csv(output)
    assert list(frame.columns) == ["id", "text", *OUTPUT_COLUMNS]
    assert frame["text"].tolist() == TEXTS


def test_rows_stay_in_order_across_chunks(predictor, tmp_path, monkeypatch):
    chunk_sizes = []
    original = prediction_module.iter_table_chunks

    def recording_chunks(*args, **kwargs):
        table_format, chunks = original(*args, **kwargs)
        return table_format, (chunk_sizes.append(len(chunk)) or chunk for chunk in chunks)

    monkeypatch.setattr(prediction_module, "iter_table_chunks", recording_chunks)
    output = tmp_path / "out.csv"
    predict_file(predictor, _texts_csv(tmp_path / "in.csv"), output, chunk_rows=2, progress=False)

    assert chunk_sizes == [2, 2, 1]
    assert _read_csv(output)["id"].tolist() == ["0", "1", "2", "3", "4"]


def test_chunked_output_equals_single_chunk_output(predictor, tmp_path):
    data = _texts_csv(tmp_path / "in.csv")
    predict_file(predictor, data, tmp_path / "small.csv", chunk_rows=2, progress=False)
    predict_file(predictor, data, tmp_path / "large.csv", chunk_rows=100, progress=False)
    assert (tmp_path / "small.csv").read_text() == (tmp_path / "large.csv").read_text()


def test_jsonl_output_has_one_object_per_row(predictor, tmp_path):
    output = tmp_path / "out.jsonl"
    predict_file(predictor, _texts_csv(tmp_path / "in.csv"), output, progress=False)
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [record["text"] for record in records] == TEXTS
    assert isinstance(records[0]["topic_probability"], float)


def test_existing_output_is_kept_without_overwrite(predictor, tmp_path):
    output = tmp_path / "out.csv"
    output.write_text("earlier results\n")
    with pytest.raises(FileExistsError, match="--overwrite"):
        predict_file(predictor, _texts_csv(tmp_path / "in.csv"), output, progress=False)
    assert output.read_text() == "earlier results\n"


def test_overwrite_replaces_output(predictor, tmp_path):
    output = tmp_path / "out.csv"
    output.write_text("earlier results\n")
    predict_file(predictor, _texts_csv(tmp_path / "in.csv"), output, overwrite=True, progress=False)
    assert len(_read_csv(output)) == len(TEXTS)


class _InterruptingPredictor:
    """Wraps a predictor and raises KeyboardInterrupt on the second chunk, as Ctrl-C would."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.calls = 0

    def output_columns(self) -> list[str]:
        return self.predictor.output_columns()

    def predict_texts(self, texts):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return self.predictor.predict_texts(texts)


def test_interrupted_predict_leaves_no_file(predictor, tmp_path):
    data = _texts_csv(tmp_path / "in.csv")
    output = tmp_path / "out" / "predictions.csv"
    with pytest.raises(KeyboardInterrupt):
        predict_file(_InterruptingPredictor(predictor), data, output, chunk_rows=2, progress=False)
    assert list(output.parent.iterdir()) == []


def test_empty_text_rows_get_empty_predictions(predictor, tmp_path):
    output = tmp_path / "out.csv"
    predict_file(predictor, _texts_csv(tmp_path / "in.csv", ["borsa", "  ", "takım"]), output, progress=False)
    frame = _read_csv(output)
    assert frame["topic_label"].tolist()[1] == ""
    assert frame["topic_label"].tolist()[0] != ""


def test_all_empty_text_column_is_rejected(predictor, tmp_path):
    data = write_csv(tmp_path / "in.csv", [{"id": "1", "text": ""}, {"id": "2", "text": " "}])
    output = tmp_path / "out.csv"
    with pytest.raises(DataFileError, match="empty in all 2 rows"):
        predict_file(predictor, data, output, progress=False)
    assert not output.exists()


def test_named_text_column_is_used(predictor, tmp_path):
    data = write_csv(tmp_path / "in.csv", [{"a": "x", "Tweet Metni": "borsa"}])
    output = tmp_path / "out.csv"
    predict_file(predictor, data, output, text_column="tweet metni", progress=False)
    assert _read_csv(output)["Tweet Metni"].tolist() == ["borsa"]


def test_unknown_text_column_lists_columns(predictor, tmp_path):
    data = write_csv(tmp_path / "in.csv", [{"a": "x", "b": "borsa"}])
    with pytest.raises(DataFileError, match="columns are: 'a', 'b'"):
        predict_file(predictor, data, tmp_path / "out.csv", progress=False)


def test_input_column_named_like_output_is_rejected(predictor, tmp_path):
    data = write_csv(tmp_path / "in.csv", [{"text": "borsa", "topic_label": "spor"}])
    with pytest.raises(DataFileError, match="'topic_label'"):
        predict_file(predictor, data, tmp_path / "out.csv", progress=False)


def test_unknown_output_suffix_is_rejected(predictor, tmp_path):
    with pytest.raises(DataFileError, match="--format"):
        predict_file(predictor, _texts_csv(tmp_path / "in.csv"), tmp_path / "out.xlsx", progress=False)


# Files as people have them


def _write_text(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


TURKISH_TEXTS = ["Şırnak'ta ığdır ÇİĞ", "Görüşme iptal"]
FILE_KINDS = {
    "utf8": ("text\nŞırnak'ta ığdır ÇİĞ\nGörüşme iptal\n", "utf-8", None),
    "utf8_bom": ("text\nŞırnak'ta ığdır ÇİĞ\nGörüşme iptal\n", "utf-8-sig", None),
    "utf16": ("text\nŞırnak'ta ığdır ÇİĞ\nGörüşme iptal\n", "utf-16", None),
    "cp1254": ("text\nŞırnak'ta ığdır ÇİĞ\nGörüşme iptal\n", "cp1254", "cp1254"),
    "iso_8859_9": ("text\nŞırnak'ta ığdır ÇİĞ\nGörüşme iptal\n", "iso-8859-9", "iso-8859-9"),
    "semicolon": ("id;text\n1;Şırnak'ta ığdır ÇİĞ\n2;Görüşme iptal\n", "utf-8", None),
    "tab": ("id\ttext\n1\tŞırnak'ta ığdır ÇİĞ\n2\tGörüşme iptal\n", "utf-8", None),
    "crlf": ("id,text\r\n1,Şırnak'ta ığdır ÇİĞ\r\n2,Görüşme iptal\r\n", "utf-8", None),
    "unnamed_index": (",text\n0,Şırnak'ta ığdır ÇİĞ\n1,Görüşme iptal\n", "utf-8", None),
}


@pytest.mark.parametrize("kind", list(FILE_KINDS))
def test_file_kind_is_read(predictor, tmp_path, kind):
    text, encoding, named_encoding = FILE_KINDS[kind]
    data = _write_text(tmp_path / "in.csv", text, encoding)
    output = tmp_path / "out.csv"
    predict_file(predictor, data, output, encoding=named_encoding, progress=False)
    assert _read_csv(output)["text"].tolist() == TURKISH_TEXTS


def test_unnamed_index_column_is_dropped(predictor, tmp_path):
    text, encoding, _ = FILE_KINDS["unnamed_index"]
    output = tmp_path / "out.csv"
    predict_file(predictor, _write_text(tmp_path / "in.csv", text, encoding), output, progress=False)
    assert list(_read_csv(output).columns) == ["text", *OUTPUT_COLUMNS]


def test_quoted_newline_stays_one_row(predictor, tmp_path):
    data = _write_text(tmp_path / "in.csv", 'id,text\n1,"iki\nsatır"\n2,tek\n', "utf-8")
    output = tmp_path / "out.jsonl"
    predict_file(predictor, data, output, progress=False)
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [record["text"] for record in records] == ["iki\nsatır", "tek"]


def test_undecodable_bytes_report_offset(predictor, tmp_path):
    data = tmp_path / "in.csv"
    data.write_bytes(b"text\nabc\xff\xfe\n")
    with pytest.raises(DataFileError, match="byte offset 8"):
        predict_file(predictor, data, tmp_path / "out.csv", encoding="utf-8", progress=False)


# Standard input


def test_lines_are_predicted_in_order(predictor, tmp_path):
    output = tmp_path / "out.jsonl"
    predict_lines(predictor, ["borsa\n", "\n", "takım\r\n"], output, chunk_rows=2, progress=False)
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [record["text"] for record in records] == ["borsa", "", "takım"]
    assert records[1]["topic_label"] is None


def test_line_chunks_split_at_chunk_rows():
    chunks = list(iter_line_chunks(["a\n", "b\n", "c\n"], chunk_rows=2))
    assert [chunk["text"].tolist() for chunk in chunks] == [["a", "b"], ["c"]]


# Command line


def _predict(arguments: list[str], stdin: str | None = None):
    return CliRunner().invoke(predict_command, ["--no-progress", *arguments], input=stdin)


def test_command_writes_csv(run_dir, tmp_path):
    output = tmp_path / "out.csv"
    result = _predict(["--model", str(run_dir), "--data", str(_texts_csv(tmp_path / "in.csv")), "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert len(_read_csv(output)) == len(TEXTS)


def test_command_reads_standard_input(run_dir):
    result = _predict(["--model", str(run_dir)], stdin="borsa rekor\ntakım kaybetti\n")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert [json.loads(line)["text"] for line in lines] == ["borsa rekor", "takım kaybetti"]


BAD_FILES = {
    "empty": (b"", "file is empty"),
    "header_only": (b"id,text\n", "no data rows"),
    "empty_text_column": (b"id,text\n1,\n2,\n", "empty in all 2 rows"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_command_bad_file_exits_2(run_dir, tmp_path, case):
    content, message = BAD_FILES[case]
    data = tmp_path / "in.csv"
    data.write_bytes(content)
    result = _predict(["--model", str(run_dir), "--data", str(data), "--output", str(tmp_path / "out.csv")])
    assert result.exit_code == 2
    assert message in result.output
    assert str(data) in result.output


def test_command_model_without_tasks_exits_2(run_dir, tmp_path):
    folder = _copy_model(run_dir, tmp_path / "plain")
    config = json.loads((folder / "config.json").read_text())
    config["tasks"] = None
    (folder / "config.json").write_text(json.dumps(config))
    result = _predict(["--model", str(folder), "--data", str(_texts_csv(tmp_path / "in.csv"))])
    assert result.exit_code == 2
    assert "no task label maps" in result.output


def test_command_existing_output_exits_2(run_dir, tmp_path):
    output = tmp_path / "out.csv"
    output.write_text("keep\n")
    result = _predict(["--model", str(run_dir), "--data", str(_texts_csv(tmp_path / "in.csv")), "--output", str(output)])
    assert result.exit_code == 2
    assert output.read_text() == "keep\n"


def test_tsv_output_is_tab_separated(tmp_path, run_dir):
    from click.testing import CliRunner

    from mtl_hf.commands import predict_command

    data = tmp_path / "tweets.csv"
    data.write_text("text\nborsa rekor kırdı\nmaç kazanıldı\n", encoding="utf-8")
    output = tmp_path / "predictions.tsv"

    result = CliRunner().invoke(predict_command, ["--model", str(run_dir), "--data", str(data), "--output", str(output), "--no-progress"])

    assert result.exit_code == 0, result.output
    header = output.read_text(encoding="utf-8").splitlines()[0]
    assert header.split("\t")[0] == "text"
    assert "sentiment_label" in header.split("\t")
