"""Tests for mtl_hf.files: reading data tables and writing outputs atomically."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from mtl_hf.files import (
    DETECTION_SAMPLE_BYTES,
    READ_BLOCK_SIZE,
    DataFileError,
    TableFormat,
    atomic_output,
    iter_table_chunks,
    read_table,
)

TURKISH_TEXT = "Işık İzmir'de ağır şiddetli"
# U+2019 is at 0x92 in cp1254, a byte that ISO-8859-9 leaves to a control code.
TURKISH_TEXT_CP1254 = "Işık İzmir’de ağır şiddetli"
SONDATA_HEADER = ",hour,tweet,Tweets_duygu,sınıflandırma"


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def write_text(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    return write_bytes(tmp_path, name, text.encode(encoding))


def collect_chunks(path: Path, **options) -> tuple[TableFormat, list[pd.DataFrame]]:
    table_format, chunks = iter_table_chunks(path, **options)
    return table_format, list(chunks)


# ---------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("write_encoding", "text", "detected"),
    [
        ("utf-8", TURKISH_TEXT, "utf-8"),
        ("utf-8-sig", TURKISH_TEXT, "utf-8-sig"),
        ("utf-16", TURKISH_TEXT, "utf-16"),
        ("cp1254", TURKISH_TEXT_CP1254, "cp1254"),
        ("iso-8859-9", TURKISH_TEXT, "iso-8859-9"),
    ],
)
def test_encoding_detected_turkish_kept(tmp_path, write_encoding, text, detected):
    path = write_text(tmp_path, "tweets.csv", f"id,tweet\n1,{text}\n", write_encoding)

    frame, table_format = read_table(path)

    assert table_format.encoding == detected
    assert frame.loc[0, "tweet"] == text
    assert list(frame.columns) == ["id", "tweet"]


def test_utf16_le_bom_bytes_detected(tmp_path):
    data = b"\xff\xfe" + f"id,tweet\n1,{TURKISH_TEXT}\n".encode("utf-16-le")
    path = write_bytes(tmp_path, "tweets.csv", data)

    frame, table_format = read_table(path)

    assert table_format.encoding == "utf-16"
    assert frame.loc[0, "tweet"] == TURKISH_TEXT


def test_utf8_bom_not_in_column_name(tmp_path):
    path = write_text(tmp_path, "tweets.csv", "hour,tweet\n1,a\n", "utf-8-sig")

    frame, _ = read_table(path)

    assert list(frame.columns) == ["hour", "tweet"]


def test_stray_bom_stripped_when_utf8_named(tmp_path):
    path = write_text(tmp_path, "tweets.csv", "hour,tweet\n1,a\n", "utf-8-sig")

    frame, table_format = read_table(path, encoding="utf-8")

    assert table_format.encoding == "utf-8"
    assert list(frame.columns) == ["hour", "tweet"]


def test_named_encoding_used_exactly(tmp_path):
    # Without a name, detection would pick cp1254 for the 0x92 byte.
    path = write_text(tmp_path, "tweets.csv", f"id,tweet\n1,{TURKISH_TEXT_CP1254}\n", "cp1254")

    frame, table_format = read_table(path, encoding="iso-8859-9")

    assert table_format.encoding == "iso-8859-9"
    assert frame.loc[0, "tweet"] == TURKISH_TEXT_CP1254.replace("’", "\x92")


def test_wrong_named_encoding_reports_offset(tmp_path):
    prefix = "id,tweet\n1,Izmir"
    path = write_text(tmp_path, "tweets.csv", f"{prefix}’de\n", "cp1254")
    offset = len(prefix.encode("cp1254"))

    with pytest.raises(DataFileError) as caught:
        read_table(path, encoding="utf-8")

    message = str(caught.value)
    assert str(path) in message
    assert f"byte offset {offset}" in message
    assert "0x92" in message
    assert "encodings tried: utf-8" in message
    assert "--encoding" in message


def test_unknown_encoding_name_rejected(tmp_path):
    path = write_text(tmp_path, "tweets.csv", "id,tweet\n1,a\n")

    with pytest.raises(DataFileError) as caught:
        read_table(path, encoding="turkish-ish")

    assert str(path) in str(caught.value)
    assert "unknown encoding 'turkish-ish'" in str(caught.value)


def test_nul_byte_rejected_as_binary(tmp_path):
    path = write_bytes(tmp_path, "tweets.csv", b"id,tweet\n1,a\x00b\n")

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    message = str(caught.value)
    assert str(path) in message
    assert "NUL byte at byte offset 12" in message
    assert "encodings tried: utf-8" in message
    assert "--encoding" in message


def test_utf16_without_bom_rejected_with_hint(tmp_path):
    path = write_text(tmp_path, "tweets.csv", "id,tweet\n1,a\n", "utf-16-le")

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert "NUL byte at byte offset 1" in str(caught.value)
    assert "--encoding utf-16-le" in str(caught.value)


def test_utf16_without_bom_read_when_named(tmp_path):
    path = write_text(tmp_path, "tweets.csv", f"id,tweet\n1,{TURKISH_TEXT}\n", "utf-16-le")

    frame, _ = read_table(path, encoding="utf-16-le")

    assert frame.loc[0, "tweet"] == TURKISH_TEXT


# ---------------------------------------------------------------------------
# Separators and CSV layout
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "separator"),
    [("data.csv", ","), ("data.csv", ";"), ("data.csv", "\t"), ("data.txt", ";"), ("data.tsv", "\t")],
)
def test_separator_detected(tmp_path, name, separator):
    text = separator.join(["hour", "tweet", "label"]) + "\n" + separator.join(["10", "a b", "-1"]) + "\n"
    path = write_text(tmp_path, name, text)

    frame, table_format = read_table(path)

    assert table_format.separator == separator
    assert list(frame.columns) == ["hour", "tweet", "label"]
    assert frame.loc[0, "label"] == "-1"


def test_separator_inside_quoted_header_ignored(tmp_path):
    path = write_text(tmp_path, "data.csv", '"a,b,c";d;e\n1;2;3\n')

    frame, table_format = read_table(path)

    assert table_format.separator == ";"
    assert list(frame.columns) == ["a,b,c", "d", "e"]


def test_named_separator_overrides_detection(tmp_path):
    path = write_text(tmp_path, "data.csv", "a;b,c\n1;2,3\n")

    frame, table_format = read_table(path, separator=";")

    assert table_format.separator == ";"
    assert list(frame.columns) == ["a", "b,c"]


def test_escaped_tab_separator_accepted(tmp_path):
    path = write_text(tmp_path, "data.csv", "a\tb\n1\t2\n")

    _, table_format = read_table(path, separator="\\t")

    assert table_format.separator == "\t"


def test_multi_character_separator_rejected(tmp_path):
    path = write_text(tmp_path, "data.csv", "a,b\n1,2\n")

    with pytest.raises(DataFileError) as caught:
        read_table(path, separator="||")

    assert str(path) in str(caught.value)
    assert "invalid separator" in str(caught.value)


def test_single_column_file_read(tmp_path):
    path = write_text(tmp_path, "data.csv", "tweet\nmerhaba\n")

    frame, table_format = read_table(path)

    assert table_format.separator == ","
    assert frame["tweet"].tolist() == ["merhaba"]


def test_quoted_field_with_newline_and_separator(tmp_path):
    path = write_text(tmp_path, "data.csv", 'id;tweet\n1;"first line;\nsecond ""quoted"""\n2;plain\n')

    frame, _ = read_table(path)

    assert len(frame) == 2
    assert frame.loc[0, "tweet"] == 'first line;\nsecond "quoted"'
    assert frame.loc[1, "tweet"] == "plain"


def test_crlf_line_ends_not_in_values(tmp_path):
    path = write_text(tmp_path, "data.csv", "id,tweet\r\n1,a\r\n2,b\r\n")

    frame, _ = read_table(path)

    assert frame["tweet"].tolist() == ["a", "b"]
    assert list(frame.columns) == ["id", "tweet"]


def test_no_trailing_newline_keeps_row(tmp_path):
    path = write_text(tmp_path, "data.csv", "id,tweet\n1,a\n2,b")

    frame, _ = read_table(path)

    assert frame["tweet"].tolist() == ["a", "b"]


def test_blank_lines_skipped(tmp_path):
    path = write_text(tmp_path, "data.csv", "id,tweet\n\n1,a\n\n2,b\n\n")

    frame, _ = read_table(path)

    assert frame["id"].tolist() == ["1", "2"]


def test_labels_stay_strings(tmp_path):
    path = write_text(tmp_path, "data.csv", "label,score,note\n-1,007,NA\n0,1.50,\nNaN,null,None\n")

    frame, _ = read_table(path)

    assert frame["label"].tolist() == ["-1", "0", "NaN"]
    assert frame["score"].tolist() == ["007", "1.50", "null"]
    assert frame["note"].tolist() == ["NA", "", "None"]
    assert all(isinstance(value, str) for value in frame.to_numpy().ravel())


def test_short_row_filled_with_empty_strings(tmp_path):
    path = write_text(tmp_path, "data.csv", "a,b,c\n1,2\n")

    frame, _ = read_table(path)

    assert frame.loc[0, "c"] == ""


def test_column_names_stripped_case_kept(tmp_path):
    path = write_text(tmp_path, "data.csv", " Hour ,\tTweet , sınıflandırma \n1,a,b\n")

    frame, _ = read_table(path)

    assert list(frame.columns) == ["Hour", "Tweet", "sınıflandırma"]


# ---------------------------------------------------------------------------
# Unnamed columns
# ---------------------------------------------------------------------------


def test_sondata_index_column_dropped(tmp_path):
    text = f"{SONDATA_HEADER}\n0,10,{TURKISH_TEXT},-1,0\n1,11,başka,1,2\n"
    path = write_text(tmp_path, "SonData.csv", text)

    frame, _ = read_table(path)

    assert list(frame.columns) == ["hour", "tweet", "Tweets_duygu", "sınıflandırma"]
    assert frame["sınıflandırma"].tolist() == ["0", "2"]
    assert frame["Tweets_duygu"].tolist() == ["-1", "1"]


def test_pandas_to_csv_index_dropped(tmp_path):
    path = tmp_path / "data.csv"
    pd.DataFrame({"tweet": ["a", "b", "c"]}, index=[5, 2, 9]).to_csv(path)

    frame, _ = read_table(path)

    assert list(frame.columns) == ["tweet"]
    assert frame["tweet"].tolist() == ["a", "b", "c"]


def test_unnamed_0_index_column_dropped(tmp_path):
    path = write_text(tmp_path, "data.csv", "Unnamed: 0,tweet\n0,a\n1,b\n")

    frame, _ = read_table(path)

    assert list(frame.columns) == ["tweet"]


def test_unnamed_text_column_kept(tmp_path):
    path = write_text(tmp_path, "data.csv", ",tweet\nx,a\n1,b\n")

    frame, _ = read_table(path)

    assert list(frame.columns) == ["unnamed_0", "tweet"]
    assert frame["unnamed_0"].tolist() == ["x", "1"]


def test_unnamed_repeated_numbers_kept(tmp_path):
    path = write_text(tmp_path, "data.csv", ",tweet\n1,a\n1,b\n")

    frame, _ = read_table(path)

    assert list(frame.columns) == ["unnamed_0", "tweet"]


def test_empty_header_cell_renamed(tmp_path):
    path = write_text(tmp_path, "data.csv", "id,,tweet\n1,x,a\n")

    frame, _ = read_table(path)

    assert list(frame.columns) == ["id", "unnamed_1", "tweet"]


# ---------------------------------------------------------------------------
# JSON Lines and Parquet
# ---------------------------------------------------------------------------


def test_jsonl_values_read_as_text(tmp_path):
    lines = [
        {"tweet": TURKISH_TEXT, "label": -1, "score": 1.0, "flag": True, "tags": ["a", 1], "note": None},
        {"tweet": "b", "label": 0, "score": 0.25, "flag": False, "tags": [], "note": "NA"},
    ]
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n"
    path = write_text(tmp_path, "data.jsonl", text)

    frame, table_format = read_table(path)

    assert table_format == TableFormat("jsonl", "utf-8", None)
    assert frame["tweet"].tolist() == [TURKISH_TEXT, "b"]
    assert frame["label"].tolist() == ["-1", "0"]
    assert frame["score"].tolist() == ["1.0", "0.25"]
    assert frame["flag"].tolist() == ["true", "false"]
    assert frame["tags"].tolist() == ['["a", 1]', "[]"]
    assert frame["note"].tolist() == ["", "NA"]


def test_jsonl_missing_keys_become_empty(tmp_path):
    path = write_text(tmp_path, "data.jsonl", '{"a": "1"}\r\n\r\n{"b": "2"}')

    frame, _ = read_table(path)

    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].tolist() == ["1", ""]
    assert frame["b"].tolist() == ["", "2"]


def test_jsonl_in_cp1254_detected(tmp_path):
    path = write_text(tmp_path, "data.jsonl", json.dumps({"tweet": TURKISH_TEXT_CP1254}, ensure_ascii=False), "cp1254")

    frame, table_format = read_table(path)

    assert table_format.encoding == "cp1254"
    assert frame.loc[0, "tweet"] == TURKISH_TEXT_CP1254


def test_json_array_accepted(tmp_path):
    path = write_text(tmp_path, "data.json", '[{"tweet": "a", "label": 1}, {"tweet": "b", "label": 0}]')

    frame, _ = read_table(path)

    assert frame["label"].tolist() == ["1", "0"]


def test_jsonl_invalid_line_named(tmp_path):
    path = write_text(tmp_path, "data.jsonl", '{"a": 1}\n{"a": \n')

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert str(path) in str(caught.value)
    assert "invalid JSON at line 2" in str(caught.value)


def test_jsonl_non_object_line_rejected(tmp_path):
    path = write_text(tmp_path, "data.jsonl", '{"a": 1}\n[1, 2]\n')

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert "line 2 is a JSON list, not an object" in str(caught.value)


def test_parquet_values_read_as_text(tmp_path):
    path = tmp_path / "data.parquet"
    source = pd.DataFrame(
        {"tweet": [TURKISH_TEXT, "b"], "label": pd.array([-1, None], dtype="Int64"), "flag": [True, False]}
    )
    source.to_parquet(path)

    frame, table_format = read_table(path)

    assert table_format == TableFormat("parquet", None, None)
    assert list(frame.columns) == ["tweet", "label", "flag"]
    assert frame["tweet"].tolist() == [TURKISH_TEXT, "b"]
    assert frame["label"].tolist() == ["-1", ""]
    assert frame["flag"].tolist() == ["true", "false"]


def test_parquet_pandas_index_not_a_column(tmp_path):
    path = tmp_path / "data.pq"
    pd.DataFrame({"tweet": ["a", "b"]}, index=pd.Index([7, 3], name="row")).to_parquet(path)

    frame, _ = read_table(path)

    assert list(frame.columns) == ["tweet"]


def test_invalid_parquet_rejected(tmp_path):
    path = write_text(tmp_path, "data.parquet", "id,tweet\n1,a\n")

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert str(path) in str(caught.value)
    assert "not a valid Parquet file" in str(caught.value)


# ---------------------------------------------------------------------------
# Error messages
# ---------------------------------------------------------------------------


def test_unsupported_suffix_lists_supported(tmp_path):
    path = write_text(tmp_path, "data.xlsx", "x")

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    message = str(caught.value)
    assert str(path) in message
    assert "unsupported file suffix '.xlsx'" in message
    assert ".csv, .tsv, .txt, .jsonl, .json, .parquet, .pq" in message


def test_missing_file_names_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    with pytest.raises(DataFileError) as caught:
        read_table("missing.csv")

    assert "file not found" in str(caught.value)
    assert str(tmp_path / "missing.csv") in str(caught.value)


def test_directory_rejected(tmp_path):
    path = tmp_path / "folder.csv"
    path.mkdir()

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert str(path) in str(caught.value)
    assert "is a directory" in str(caught.value)


@pytest.mark.parametrize("name", ["data.csv", "data.jsonl", "data.parquet"])
def test_zero_byte_file_rejected(tmp_path, name):
    path = write_bytes(tmp_path, name, b"")

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert str(path) in str(caught.value)
    assert "file is empty (0 bytes)" in str(caught.value)


@pytest.mark.parametrize("data", [b" \n\r\n\t", b"\xef\xbb\xbf\n"])
def test_whitespace_only_file_rejected(tmp_path, data):
    path = write_bytes(tmp_path, "data.csv", data)

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert str(path) in str(caught.value)
    assert "file is empty (only whitespace)" in str(caught.value)


@pytest.mark.parametrize(("name", "text"), [("data.csv", "id,tweet\n"), ("data.json", "[]"), ("data.tsv", "id\ttweet")])
def test_header_only_rejected(tmp_path, name, text):
    path = write_text(tmp_path, name, text)

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert str(path) in str(caught.value)
    assert "no data rows" in str(caught.value)


def test_parquet_without_rows_rejected(tmp_path):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"tweet": pd.Series([], dtype=str)}).to_parquet(path)

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert "no data rows" in str(caught.value)


def test_malformed_row_names_line(tmp_path):
    path = write_text(tmp_path, "data.csv", "id,tweet\n1,a\n2,b,extra\n")

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    message = str(caught.value)
    assert str(path) in message
    assert "malformed row at line 3" in message
    assert "--separator" in message
    assert "\n" not in message


def test_extra_field_in_first_row_rejected(tmp_path):
    path = write_text(tmp_path, "data.csv", "id,tweet\n1,a,extra\n")

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert "malformed row" in str(caught.value)
    assert "more fields than the header" in str(caught.value)


def test_unclosed_quote_rejected(tmp_path):
    path = write_text(tmp_path, "data.csv", 'id,tweet\n1,"a\n2,b\n')

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert "malformed row" in str(caught.value)
    assert "--separator" in str(caught.value)


def test_duplicate_columns_after_strip_rejected(tmp_path):
    path = write_text(tmp_path, "data.csv", "tweet, tweet ,label\na,b,1\n")

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert str(path) in str(caught.value)
    assert "duplicate column names after stripping whitespace: 'tweet'" in str(caught.value)


def test_duplicate_jsonl_keys_after_strip_rejected(tmp_path):
    path = write_text(tmp_path, "data.jsonl", '{"tweet": "a", "tweet ": "b"}\n')

    with pytest.raises(DataFileError) as caught:
        read_table(path)

    assert "duplicate column names" in str(caught.value)


# ---------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------


def test_read_logs_one_info_line(tmp_path, caplog):
    text = f"{SONDATA_HEADER}\n0,10,a,-1,0\n1,11,b,1,2\n"
    path = write_text(tmp_path, "SonData.csv", text.replace(",", ";"), "cp1254")
    caplog.set_level(logging.INFO, logger="mtl_hf.files")

    read_table(path)

    assert len(caplog.records) == 1
    assert caplog.records[0].levelno == logging.INFO
    assert caplog.records[0].getMessage() == (
        f"Read {path}: csv, encoding iso-8859-9, separator ';', 2 rows, 4 columns (dropped unnamed index column)"
    )


def test_read_log_groups_row_thousands(tmp_path, caplog):
    rows = "".join(f"{number},x\n" for number in range(2716))
    path = write_text(tmp_path, "data.csv", "id,tweet\n" + rows)
    caplog.set_level(logging.INFO, logger="mtl_hf.files")

    read_table(path)

    assert "2,716 rows, 2 columns" in caplog.records[0].getMessage()


# ---------------------------------------------------------------------------
# Chunked reading
# ---------------------------------------------------------------------------


def test_csv_chunk_sizes_add_up(tmp_path):
    rows = "".join(f"{number},tweet {number}\n" for number in range(25))
    path = write_text(tmp_path, "data.csv", "id,tweet\n" + rows)

    table_format, chunks = collect_chunks(path, chunk_rows=10)

    assert table_format == TableFormat("csv", "utf-8", ",")
    assert [len(chunk) for chunk in chunks] == [10, 10, 5]
    assert pd.concat(chunks, ignore_index=True).equals(read_table(path)[0])


def test_jsonl_chunk_sizes_add_up(tmp_path):
    text = "".join(json.dumps({"id": number, "tweet": f"t{number}"}) + "\n" for number in range(7))
    path = write_text(tmp_path, "data.jsonl", text)

    _, chunks = collect_chunks(path, chunk_rows=3)

    assert [len(chunk) for chunk in chunks] == [3, 3, 1]
    assert pd.concat(chunks, ignore_index=True).equals(read_table(path)[0])


def test_parquet_chunk_sizes_add_up(tmp_path):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"id": range(7), "tweet": [f"t{number}" for number in range(7)]}).to_parquet(path)

    table_format, chunks = collect_chunks(path, chunk_rows=3)

    assert table_format == TableFormat("parquet", None, None)
    assert [len(chunk) for chunk in chunks] == [3, 3, 1]
    assert pd.concat(chunks, ignore_index=True).equals(read_table(path)[0])


def test_chunks_drop_index_every_chunk(tmp_path):
    rows = "".join(f"{number},{number % 3},tweet\n" for number in range(5))
    path = write_text(tmp_path, "data.csv", ",label,tweet\n" + rows)

    _, chunks = collect_chunks(path, chunk_rows=2)

    assert all(list(chunk.columns) == ["label", "tweet"] for chunk in chunks)


def test_chunks_detect_cp1254_and_separator(tmp_path):
    path = write_text(tmp_path, "data.csv", f"id;tweet\n1;{TURKISH_TEXT_CP1254}\n", "cp1254")

    table_format, chunks = collect_chunks(path)

    assert table_format == TableFormat("csv", "cp1254", ";")
    assert chunks[0].loc[0, "tweet"] == TURKISH_TEXT_CP1254


def test_chunks_sample_cuts_utf8_character(tmp_path):
    # Two-byte letters fill the file, so the detection sample ends inside one
    # of them at an odd byte count, which must not rule out UTF-8.
    row = f"1,{'ş' * 40}\n"
    text = "id,tweets\n" + row * (DETECTION_SAMPLE_BYTES // len(row.encode("utf-8")) + 10)
    path = write_text(tmp_path, "data.csv", text)
    first_byte_after_sample = path.read_bytes()[DETECTION_SAMPLE_BYTES]

    table_format, chunks = collect_chunks(path)

    assert 0x80 <= first_byte_after_sample <= 0xBF, "the sample must end inside a character"
    assert table_format.encoding == "utf-8"
    assert chunks[0].loc[0, "tweets"] == "ş" * 40


def test_chunks_utf16_read(tmp_path):
    path = write_text(tmp_path, "data.tsv", f"id\ttweet\n1\t{TURKISH_TEXT}\n2\tb\n", "utf-16")

    table_format, chunks = collect_chunks(path, chunk_rows=1)

    assert table_format == TableFormat("csv", "utf-16", "\t")
    assert [chunk.loc[0, "tweet"] for chunk in chunks] == [TURKISH_TEXT, "b"]


def test_chunks_header_only_rejected_on_call(tmp_path):
    path = write_text(tmp_path, "data.csv", "id,tweet\n")

    with pytest.raises(DataFileError) as caught:
        iter_table_chunks(path)

    assert "no data rows" in str(caught.value)


def test_chunks_late_decode_failure_reports_offset(tmp_path):
    # The sample is plain ASCII, so detection picks UTF-8. The cp1254 bytes
    # sit beyond the first block read from the file, so they fail only while
    # later chunks are read.
    header = b"id,tweet\n"
    rows = b"".join(b"%07d,plain ascii text\n" % number for number in range(2 * READ_BLOCK_SIZE // 25))
    data = header + rows + "7,Izmir’de\n".encode("cp1254")
    path = write_bytes(tmp_path, "data.csv", data)
    offset = len(header + rows) + len("7,Izmir")

    table_format, chunks = iter_table_chunks(path, chunk_rows=10_000)

    assert table_format.encoding == "utf-8"
    with pytest.raises(DataFileError) as caught:
        list(chunks)
    assert f"byte offset {offset}" in str(caught.value)
    assert "0x92" in str(caught.value)
    assert "--encoding" in str(caught.value)


def test_chunks_new_jsonl_key_rejected(tmp_path):
    path = write_text(tmp_path, "data.jsonl", '{"a": 1}\n{"a": 2}\n{"a": 3, "b": 4}\n')

    _, chunks = iter_table_chunks(path, chunk_rows=2)

    with pytest.raises(DataFileError) as caught:
        list(chunks)
    assert "line 3 has key 'b'" in str(caught.value)


def test_chunks_zero_rows_rejected(tmp_path):
    path = write_text(tmp_path, "data.csv", "id,tweet\n1,a\n")

    with pytest.raises(ValueError, match="chunk_rows must be at least 1"):
        iter_table_chunks(path, chunk_rows=0)


def test_chunks_malformed_row_rejected(tmp_path):
    path = write_text(tmp_path, "data.csv", "id,tweet\n1,a\n2,b\n3,c,extra\n")

    _, chunks = iter_table_chunks(path, chunk_rows=1)

    with pytest.raises(DataFileError) as caught:
        list(chunks)
    assert "malformed row at line 4" in str(caught.value)


def test_chunked_read_logs_one_info_line(tmp_path, caplog):
    path = write_text(tmp_path, "data.csv", "id,tweet\n1,a\n2,b\n")
    caplog.set_level(logging.INFO, logger="mtl_hf.files")

    collect_chunks(path, chunk_rows=1)

    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage() == (
        f"Reading {path} in chunks of 1 rows: csv, encoding utf-8, separator ',', 2 columns"
    )


# ---------------------------------------------------------------------------
# atomic_output
# ---------------------------------------------------------------------------


def partial_files(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if path.name.endswith(".partial")]


def test_atomic_output_writes_text(tmp_path):
    path = tmp_path / "out" / "predictions.csv"

    with atomic_output(path) as handle:
        handle.write(f"id,tweet\r\n1,{TURKISH_TEXT}\n")

    assert path.read_bytes() == f"id,tweet\r\n1,{TURKISH_TEXT}\n".encode("utf-8")
    assert partial_files(path.parent) == []


def test_atomic_output_writes_bytes(tmp_path):
    path = tmp_path / "model.bin"

    with atomic_output(path, mode="wb") as handle:
        handle.write(b"\x00\x01")

    assert path.read_bytes() == b"\x00\x01"


def test_atomic_output_uses_hidden_partial_file(tmp_path):
    path = tmp_path / "out.txt"

    with atomic_output(path) as handle:
        handle.write("x")
        in_progress = partial_files(tmp_path)
        target_exists_during_write = path.exists()

    assert len(in_progress) == 1
    assert in_progress[0].name.startswith(".out.txt.")
    assert not target_exists_during_write


def test_atomic_output_rejects_existing_file(tmp_path):
    path = write_text(tmp_path, "out.txt", "old")

    with pytest.raises(FileExistsError) as caught:
        with atomic_output(path) as handle:
            handle.write("new")

    assert str(path) in str(caught.value)
    assert "--overwrite" in str(caught.value)
    assert path.read_text() == "old"
    assert partial_files(tmp_path) == []


def test_atomic_output_overwrites_when_asked(tmp_path):
    path = write_text(tmp_path, "out.txt", "old")

    with atomic_output(path, overwrite=True) as handle:
        handle.write("new")

    assert path.read_text() == "new"


def test_atomic_output_exception_leaves_nothing(tmp_path):
    path = tmp_path / "out.txt"

    with pytest.raises(RuntimeError):
        with atomic_output(path) as handle:
            handle.write("half")
            raise RuntimeError("training failed")

    assert not path.exists()
    assert partial_files(tmp_path) == []


def test_atomic_output_interrupt_leaves_nothing(tmp_path):
    path = tmp_path / "out.txt"

    with pytest.raises(KeyboardInterrupt):
        with atomic_output(path, mode="wb") as handle:
            handle.write(b"half")
            raise KeyboardInterrupt

    assert not path.exists()
    assert partial_files(tmp_path) == []


def test_atomic_output_failure_keeps_existing_file(tmp_path):
    path = write_text(tmp_path, "out.txt", "old")

    with pytest.raises(RuntimeError):
        with atomic_output(path, overwrite=True) as handle:
            handle.write("half")
            raise RuntimeError("training failed")

    assert path.read_text() == "old"
    assert partial_files(tmp_path) == []


def test_atomic_output_rejects_read_mode(tmp_path):
    with pytest.raises(ValueError, match="mode must be one of"):
        with atomic_output(tmp_path / "out.txt", mode="r"):
            pass
