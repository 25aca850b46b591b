"""Read user data tables robustly and write output files atomically.

`read_table` and `iter_table_chunks` accept delimited text (.csv, .tsv, .txt),
JSON Lines (.jsonl, .json) and Parquet (.parquet, .pq). Every column comes back
as text, with missing values as "", so labels such as "-1", "0" or "NA" keep
their spelling. When the caller names no encoding or separator, both are
detected, and one INFO line per file records what was found.

Unnamed columns: a first column whose header cell is empty or "Unnamed: 0", as
pandas `to_csv` writes the index, is dropped when its values are unique
non-negative integers (row numbers) and other columns remain. Any other column
with an empty header cell is kept and renamed to "unnamed_<position>", with the
position counted from 0, and a column already named "Unnamed: <n>" keeps that
name.

`atomic_output` writes a file through a temporary file in the same folder, so
an interrupted run never leaves a partial output at the target path.

Every problem with an input file raises `DataFileError`, whose one-line message
names the file and the next step for the user.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import os
import re
import secrets
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .errors import DataFileError

logger = logging.getLogger(__name__)

DELIMITED_KIND = "csv"
JSONL_KIND = "jsonl"
PARQUET_KIND = "parquet"
SUFFIX_KINDS = {
    ".csv": DELIMITED_KIND,
    ".tsv": DELIMITED_KIND,
    ".txt": DELIMITED_KIND,
    ".jsonl": JSONL_KIND,
    ".json": JSONL_KIND,
    ".parquet": PARQUET_KIND,
    ".pq": PARQUET_KIND,
}

# Encoding and separator detection in iter_table_chunks looks at this many
# leading bytes only, so a large file is never read twice.
DETECTION_SAMPLE_BYTES = 64 * 1024
# Bytes read from a file, or characters read from a decoded stream, at a time.
READ_BLOCK_SIZE = 1024 * 1024

UTF8 = "utf-8"
UTF8_WITH_BOM = "utf-8-sig"
UTF16 = "utf-16"
WINDOWS_TURKISH = "cp1254"
ISO_TURKISH = "iso-8859-9"
# cp1254 places printable characters (’ “ ” € and others) at 0x80-0x9F, where
# ISO-8859-9 has only C1 control codes. Elsewhere the two agree, including on
# the Turkish letters ğ Ğ ı İ ş Ş.
CP1254_ONLY_BYTES = re.compile(b"[\x80-\x9f]")
WIDE_CODEC_PREFIXES = ("utf-16", "utf-32")

CANDIDATE_SEPARATORS = (",", ";", "\t")
DEFAULT_SEPARATOR = ","
TSV_SUFFIX = ".tsv"
QUOTE_CHAR = '"'

UNNAMED_INDEX_NAMES = ("", "Unnamed: 0")
UNNAMED_COLUMN_PREFIX = "unnamed_"
ROW_NUMBER_PATTERN = r"[0-9]+"
BYTE_ORDER_MARK = "\ufeff"

ENCODING_HINT = "Pass --encoding with the file's encoding, for example --encoding cp1254."
PANDAS_LINE_PATTERN = re.compile(r"\b(?:line|row) (\d+)")
OUTPUT_MODES = ("w", "wt", "wb")
PARTIAL_SUFFIX = ".partial"



@dataclass(frozen=True)
class TableFormat:
    """Format of a data file, as given by the caller or detected."""

    kind: str
    encoding: str | None
    separator: str | None


@dataclass(frozen=True)
class _ColumnNames:
    """Cleaned column names and what the cleaning changed."""

    names: list[str]
    has_index_candidate: bool
    notes: list[str]


# ---------------------------------------------------------------------------
# Public reading functions
# ---------------------------------------------------------------------------


def read_table(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    separator: str | None = None,
) -> tuple[pd.DataFrame, TableFormat]:
    """Read a whole data file into a DataFrame of text columns.

    The encoding is detected over the whole file, not a sample. `encoding` and
    `separator` override detection, and an encoding given that fails to decode
    raises DataFileError. Parquet ignores both, and JSON Lines ignores
    `separator`. Raises DataFileError for any file that cannot be used.
    """
    file_path, kind = _validate_input_path(path)
    if kind == PARQUET_KIND:
        return _read_parquet(file_path)

    data = file_path.read_bytes()
    encoding, tried = _choose_encoding(file_path, data, encoding, complete=True)
    text = _decode_all(file_path, data, encoding, tried)
    _reject_blank_text(file_path, text)

    if kind == JSONL_KIND:
        frame, notes = _read_json_text(file_path, text)
        table_format = TableFormat(JSONL_KIND, encoding, None)
    else:
        separator = _choose_separator(file_path, text, separator)
        frame, notes = _read_delimited_text(file_path, text, separator)
        table_format = TableFormat(DELIMITED_KIND, encoding, separator)

    _log_read(file_path, table_format, frame, notes)
    return frame, table_format


def iter_table_chunks(
    path: str | os.PathLike[str],
    *,
    chunk_rows: int = 10_000,
    encoding: str | None = None,
    separator: str | None = None,
) -> tuple[TableFormat, Iterator[pd.DataFrame]]:
    """Detect the format of a data file and return an iterator over its rows in chunks.

    Each chunk is a DataFrame of at most `chunk_rows` rows with the same
    columns as `read_table` returns. Detection reads only the first
    DETECTION_SAMPLE_BYTES bytes. The first chunk is read before this function
    returns, so an empty or header-only file raises here. Later chunks raise
    DataFileError, with the byte offset, when bytes further on do not decode.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}.")

    file_path, kind = _validate_input_path(path)
    if kind == PARQUET_KIND:
        return _iter_parquet_chunks(file_path, chunk_rows)

    with file_path.open("rb") as handle:
        sample = handle.read(DETECTION_SAMPLE_BYTES)
    complete = len(sample) == file_path.stat().st_size
    encoding, tried = _choose_encoding(file_path, sample, encoding, complete=complete)
    sample_text = _decode_sample(file_path, sample, encoding, tried, complete=complete)
    if complete:
        _reject_blank_text(file_path, sample_text)

    if kind == JSONL_KIND:
        return _iter_json_chunks(file_path, sample_text, encoding, tried, chunk_rows)

    separator = _choose_separator(file_path, sample_text, separator)
    return _iter_delimited_chunks(file_path, sample_text, encoding, tried, separator, chunk_rows)


# ---------------------------------------------------------------------------
# Path and kind checks
# ---------------------------------------------------------------------------


def _validate_input_path(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """Validate that the path names a non-empty file with a supported suffix, and return it with its kind.

    Raises DataFileError otherwise.
    """
    file_path = Path(path)
    kind = SUFFIX_KINDS.get(file_path.suffix.lower())
    if kind is None:
        supported = ", ".join(SUFFIX_KINDS)
        raise DataFileError(
            f"{file_path}: unsupported file suffix '{file_path.suffix}'. "
            f"Supported suffixes: {supported}. Rename or convert the file."
        )

    if not file_path.exists():
        raise DataFileError(
            f"{file_path}: file not found (looked at {file_path.absolute()}). "
            "Check the path and the working directory."
        )
    if file_path.is_dir():
        raise DataFileError(f"{file_path}: path is a directory, not a data file. Pass the path of a file inside it.")
    if file_path.stat().st_size == 0:
        raise DataFileError(
            f"{file_path}: file is empty (0 bytes). Check that the export finished, or pass another file."
        )

    return file_path, kind


def _reject_blank_text(file_path: Path, text: str) -> None:
    if not text.strip():
        raise DataFileError(
            f"{file_path}: file is empty (only whitespace). Check that the export finished, or pass another file."
        )


def _reject_no_rows(file_path: Path) -> None:
    raise DataFileError(f"{file_path}: file has a header but no data rows. Pass a file that contains data.")


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------


def _choose_encoding(
    file_path: Path, data: bytes, requested: str | None, *, complete: bool
) -> tuple[str, tuple[str, ...]]:
    """Return the encoding to use and the encodings considered, for error messages.

    `complete` is false when `data` is only the start of the file, so a
    multi-byte character cut at its end is not a decode failure.
    """
    if requested is not None:
        try:
            codecs.lookup(requested)
        except LookupError:
            raise DataFileError(
                f"{file_path}: unknown encoding '{requested}'. "
                "Pass a Python codec name such as utf-8, cp1254 or iso-8859-9."
            ) from None
        return requested, (requested,)

    # A byte order mark is decisive, because text in cp1254 or ISO-8859-9
    # practically never starts with those bytes.
    if data.startswith(codecs.BOM_UTF8):
        return UTF8_WITH_BOM, (UTF8_WITH_BOM,)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return UTF16, (UTF16,)

    try:
        codecs.getincrementaldecoder(UTF8)().decode(data, final=complete)
    except UnicodeDecodeError:
        pass
    else:
        return UTF8, (UTF8,)

    # Single-byte code pages decode nearly any byte, so they come last, and
    # cp1254 only when its extra printable range is in use.
    if CP1254_ONLY_BYTES.search(data):
        try:
            data.decode(WINDOWS_TURKISH)
        except UnicodeDecodeError:
            # NOTE: ISO-8859-9 decodes these bytes as C1 control codes, so such
            # a file is most likely in another code page that the caller should name.
            return ISO_TURKISH, (UTF8, WINDOWS_TURKISH, ISO_TURKISH)
        return WINDOWS_TURKISH, (UTF8, WINDOWS_TURKISH)
    return ISO_TURKISH, (UTF8, ISO_TURKISH)


def _decode_all(file_path: Path, data: bytes, encoding: str, tried: tuple[str, ...]) -> str:
    _reject_nul_bytes(file_path, data, 0, encoding, tried)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise _decode_error(file_path, error, len(data), encoding, tried) from None


def _decode_sample(
    file_path: Path, sample: bytes, encoding: str, tried: tuple[str, ...], *, complete: bool
) -> str:
    _reject_nul_bytes(file_path, sample, 0, encoding, tried)
    try:
        return codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
    except UnicodeDecodeError as error:
        raise _decode_error(file_path, error, len(sample), encoding, tried) from None


def _reject_nul_bytes(file_path: Path, block: bytes, block_offset: int, encoding: str, tried: tuple[str, ...]) -> None:
    """Raise DataFileError when a block of a file in a single- or variable-byte encoding contains a NUL byte.

    Text in those encodings has no NUL bytes, so one means a binary file or
    UTF-16 without a byte order mark.
    """
    if codecs.lookup(encoding).name.startswith(WIDE_CODEC_PREFIXES):
        return
    position = block.find(b"\x00")
    if position < 0:
        return
    raise DataFileError(
        f"{file_path}: NUL byte at byte offset {block_offset + position}, so the file is binary, not text "
        f"(encodings tried: {', '.join(tried)}). If it is UTF-16 without a byte order mark, pass "
        "--encoding utf-16-le or --encoding utf-16-be. Otherwise pass a CSV or JSON Lines file."
    )


def _decode_error(
    file_path: Path, error: UnicodeDecodeError, bytes_fed: int, encoding: str, tried: tuple[str, ...]
) -> DataFileError:
    """Build the DataFileError for a decode failure, with the offset from the start of the file.

    Decoders report `error.start` relative to `error.object`, which is the tail
    of the bytes fed so far (they drop a byte order mark or keep an incomplete
    character from the previous block), so the absolute offset follows from
    the total fed.
    """
    offset = bytes_fed - len(error.object) + error.start
    bad_byte = error.object[error.start]
    return DataFileError(
        f"{file_path}: cannot decode byte 0x{bad_byte:02x} at byte offset {offset} as {encoding} "
        f"(encodings tried: {', '.join(tried)}). {ENCODING_HINT}"
    )


class _DecodingReader(io.TextIOBase):
    """Text stream over a binary file that reports decode failures with their byte offset in the file."""

    def __init__(self, raw: BinaryIO, file_path: Path, encoding: str, tried: tuple[str, ...]) -> None:
        super().__init__()
        self._raw = raw
        self._file_path = file_path
        self._encoding = encoding
        self._tried = tried
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self._bytes_fed = 0
        self._pending = ""
        self._at_end = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        limit = -1 if size is None else size
        while not self._at_end and (limit < 0 or len(self._pending) < limit):
            self._decode_next_block()

        if limit < 0:
            text, self._pending = self._pending, ""
        else:
            text, self._pending = self._pending[:limit], self._pending[limit:]
        return text

    def _decode_next_block(self) -> None:
        block = self._raw.read(READ_BLOCK_SIZE)
        _reject_nul_bytes(self._file_path, block, self._bytes_fed, self._encoding, self._tried)
        self._bytes_fed += len(block)
        self._at_end = not block

        try:
            self._pending += self._decoder.decode(block, final=self._at_end)
        except UnicodeDecodeError as error:
            raise _decode_error(self._file_path, error, self._bytes_fed, self._encoding, self._tried) from None


# ---------------------------------------------------------------------------
# Column names and the unnamed index column
# ---------------------------------------------------------------------------


def _clean_column_names(file_path: Path, raw_names: Iterable[Any]) -> _ColumnNames:
    """Strip whitespace and stray byte order marks from names, name empty ones, and reject duplicates."""
    names: list[str] = []
    notes: list[str] = []
    for position, raw in enumerate(raw_names):
        name = str(raw).strip().strip(BYTE_ORDER_MARK).strip()
        if not name and position > 0:
            name = f"{UNNAMED_COLUMN_PREFIX}{position}"
            notes.append(f"named empty header cell {position} '{name}'")
        names.append(name)

    # An empty first name is renamed only when the column turns out not to be
    # an index, which is known only once rows are read.
    has_index_candidate = bool(names) and names[0] in UNNAMED_INDEX_NAMES

    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        listed = ", ".join(f"'{name}'" for name in duplicates)
        raise DataFileError(
            f"{file_path}: duplicate column names after stripping whitespace: {listed}. "
            "Rename the columns so that each name is unique."
        )
    return _ColumnNames(names, has_index_candidate, notes)


def _is_row_number_column(values: pd.Series) -> bool:
    """Return whether the values look like a written pandas index: unique non-negative integers."""
    return bool(values.str.fullmatch(ROW_NUMBER_PATTERN).all()) and values.is_unique


def _resolve_index_column(frame: pd.DataFrame, columns: _ColumnNames) -> tuple[bool, list[str]]:
    """Decide from the first rows whether to drop the first column as an index.

    Returns whether to drop it and the notes for the log line. A first column
    that is not an index keeps "Unnamed: 0", or gets a visible name when its
    header cell was empty.
    """
    notes = list(columns.notes)
    if not columns.has_index_candidate:
        return False, notes

    if len(frame.columns) > 1 and _is_row_number_column(frame.iloc[:, 0]):
        notes.append("dropped unnamed index column")
        return True, notes

    if frame.columns[0] == "":
        notes.append(f"named empty header cell 0 '{UNNAMED_COLUMN_PREFIX}0'")
    return False, notes


def _apply_index_decision(frame: pd.DataFrame, drop_index: bool) -> pd.DataFrame:
    if drop_index:
        return frame.iloc[:, 1:]
    if frame.columns[0] == "":
        return frame.rename(columns={"": f"{UNNAMED_COLUMN_PREFIX}0"})
    return frame


# ---------------------------------------------------------------------------
# Delimited text
# ---------------------------------------------------------------------------


def _choose_separator(file_path: Path, text: str, requested: str | None) -> str:
    if requested is not None:
        # A shell passes "\t" typed on the command line as two characters.
        separator = "\t" if requested == "\\t" else requested
        if len(separator) != 1:
            raise DataFileError(
                f"{file_path}: invalid separator {requested!r}. Pass a single character such as ',', ';' or '\\t'."
            )
        return separator

    if file_path.suffix.lower() == TSV_SUFFIX:
        return "\t"
    return _sniff_separator(text)


def _sniff_separator(text: str) -> str:
    """Return the candidate separator that occurs most often in the header record outside quotes.

    A tie goes to the earlier candidate in CANDIDATE_SEPARATORS, and a header
    without any candidate is a single column, read with DEFAULT_SEPARATOR.
    """
    counts = dict.fromkeys(CANDIDATE_SEPARATORS, 0)
    in_quotes = False
    for character in text:
        if character == QUOTE_CHAR:
            # A doubled quote inside a quoted field toggles twice, so it needs no special case.
            in_quotes = not in_quotes
        elif in_quotes:
            continue
        elif character in "\r\n":
            break
        elif character in counts:
            counts[character] += 1

    best = max(CANDIDATE_SEPARATORS, key=lambda candidate: counts[candidate])
    return best if counts[best] > 0 else DEFAULT_SEPARATOR


def _parse_header(file_path: Path, text: str, separator: str) -> list[str]:
    """Parse the header record with the csv module.

    pandas renames a repeated name "a" to "a.1", so its own header cannot show
    duplicates.
    """
    reader = csv.reader(io.StringIO(text), delimiter=separator, quotechar=QUOTE_CHAR)
    try:
        return next(reader, [])
    except csv.Error as error:
        raise DataFileError(
            f"{file_path}: malformed header row: {error}. Check the quoting in the first line."
        ) from None


def _open_csv_reader(source: IO[str], separator: str, chunk_rows: int | None) -> Any:
    # index_col=False stops pandas from silently turning the first column into
    # the index when data rows have one field more than the header.
    return pd.read_csv(
        source,
        sep=separator,
        quotechar=QUOTE_CHAR,
        dtype=str,
        keep_default_na=False,
        index_col=False,
        chunksize=chunk_rows,
    )


@contextmanager
def _csv_errors_as_data_file_errors(file_path: Path, separator: str) -> Iterator[None]:
    """Translate pandas parse errors and its lost-data warning into DataFileError."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            yield
        except pd.errors.ParserError as error:
            raise _malformed_row_error(file_path, str(error), separator) from None
        except pd.errors.ParserWarning as warning:
            detail = f"the first data row has more fields than the header ({warning})"
            raise _malformed_row_error(file_path, detail, separator) from None
        except pd.errors.EmptyDataError:
            raise DataFileError(
                f"{file_path}: file is empty (only whitespace). Check that the export finished, or pass another file."
            ) from None


def _malformed_row_error(file_path: Path, detail: str, separator: str) -> DataFileError:
    detail = " ".join(detail.split())
    match = PANDAS_LINE_PATTERN.search(detail)
    location = f" at line {match.group(1)}" if match else ""
    return DataFileError(
        f"{file_path}: malformed row{location}: {detail}. Check the quoting in that row, "
        f"or pass --separator if {separator!r} is not the separator."
    )


def _rename_columns(
    file_path: Path, frame: pd.DataFrame, header: list[str], separator: str
) -> tuple[pd.DataFrame, _ColumnNames]:
    columns = _clean_column_names(file_path, header)
    if len(columns.names) != len(frame.columns):
        # The csv module and pandas parse the same quoting rules, so a
        # mismatch means the header record itself is malformed.
        raise _malformed_row_error(
            file_path,
            f"the header has {len(frame.columns)} fields for pandas but {len(columns.names)} for the csv module",
            separator,
        )
    frame.columns = columns.names
    return frame, columns


def _read_delimited_text(file_path: Path, text: str, separator: str) -> tuple[pd.DataFrame, list[str]]:
    header = _parse_header(file_path, text, separator)
    with _csv_errors_as_data_file_errors(file_path, separator):
        frame = _open_csv_reader(io.StringIO(text), separator, None)

    if frame.empty:
        _reject_no_rows(file_path)

    frame, columns = _rename_columns(file_path, frame, header, separator)
    drop_index, notes = _resolve_index_column(frame, columns)
    return _apply_index_decision(frame, drop_index).reset_index(drop=True), notes


def _iter_delimited_chunks(
    file_path: Path,
    sample_text: str,
    encoding: str,
    tried: tuple[str, ...],
    separator: str,
    chunk_rows: int,
) -> tuple[TableFormat, Iterator[pd.DataFrame]]:
    header = _parse_header(file_path, sample_text, separator)
    handle = file_path.open("rb")
    try:
        reader = _open_csv_reader(_DecodingReader(handle, file_path, encoding, tried), separator, chunk_rows)
        first = _next_csv_chunk(file_path, reader, separator)
        if first is None or first.empty:
            _reject_no_rows(file_path)

        first, columns = _rename_columns(file_path, first, header, separator)
        drop_index, notes = _resolve_index_column(first, columns)
    except BaseException:
        handle.close()
        raise

    table_format = TableFormat(DELIMITED_KIND, encoding, separator)
    _log_chunked_read(file_path, table_format, len(columns.names) - drop_index, chunk_rows, notes)
    return table_format, _delimited_chunks(file_path, handle, reader, first, columns.names, drop_index, separator)


def _next_csv_chunk(file_path: Path, reader: Any, separator: str) -> pd.DataFrame | None:
    with _csv_errors_as_data_file_errors(file_path, separator):
        return next(reader, None)


def _delimited_chunks(
    file_path: Path,
    handle: BinaryIO,
    reader: Any,
    first: pd.DataFrame,
    names: list[str],
    drop_index: bool,
    separator: str,
) -> Iterator[pd.DataFrame]:
    try:
        chunk: pd.DataFrame | None = first
        while chunk is not None:
            chunk.columns = names
            yield _apply_index_decision(chunk, drop_index).reset_index(drop=True)
            chunk = _next_csv_chunk(file_path, reader, separator)
    finally:
        reader.close()
        handle.close()


# ---------------------------------------------------------------------------
# JSON Lines
# ---------------------------------------------------------------------------


def _json_value_to_text(value: Any) -> str:
    """Convert one parsed JSON value to text.

    null becomes "", booleans keep their JSON spelling, integers stay exact,
    and lists and objects are written back as JSON. A float comes back in
    Python's shortest round-trip form, so "1.0" stays "1.0" but "1e5" becomes "100000.0".
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, default=str)


def _parse_json_record(file_path: Path, line: str, line_number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataFileError(
            f"{file_path}: invalid JSON at line {line_number}: {error.msg} (column {error.colno}). "
            "Write one JSON object per line."
        ) from None
    if not isinstance(record, dict):
        raise DataFileError(
            f"{file_path}: line {line_number} is a JSON {type(record).__name__}, not an object. "
            "Write one JSON object per line."
        )
    return record


def _iter_numbered_json_lines(source: IO[str]) -> Iterator[tuple[int, str]]:
    """Yield (line number, line) for each non-blank line, split at "\\n" only.

    str.splitlines would also split at U+2028, which JSON strings may contain unescaped.
    """
    remainder = ""
    line_number = 0
    while True:
        block = source.read(READ_BLOCK_SIZE)
        lines = (remainder + block).split("\n")
        remainder = lines.pop() if block else ""
        for line in lines:
            line_number += 1
            if line.strip():
                yield line_number, line
        if not block:
            return


def _is_json_array(text: str) -> bool:
    return text.lstrip(BYTE_ORDER_MARK + " \t\r\n").startswith("[")


def _parse_json_array(file_path: Path, text: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse a JSON array of objects into (location, record) pairs."""
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataFileError(
            f"{file_path}: invalid JSON at line {error.lineno}: {error.msg} (column {error.colno}). "
            "Pass a JSON array of objects or JSON Lines."
        ) from None

    located = [(f"record {number}", record) for number, record in enumerate(records, start=1)]
    for location, record in located:
        if not isinstance(record, dict):
            raise DataFileError(
                f"{file_path}: {location} of the JSON array is a {type(record).__name__}, not an object. "
                "Pass an array of objects."
            )
    return located


def _iter_json_lines_records(file_path: Path, source: IO[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for number, line in _iter_numbered_json_lines(source):
        yield f"line {number}", _parse_json_record(file_path, line, number)


def _iter_json_records(file_path: Path, source: IO[str], first_text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (location, record) pairs from a JSON Lines file or a JSON array, as the start of `first_text` shows."""
    if _is_json_array(first_text):
        # NOTE: a JSON array is parsed whole, so memory grows with the file
        # even in iter_table_chunks. JSON Lines input keeps memory flat.
        return iter(_parse_json_array(file_path, source.read()))
    return _iter_json_lines_records(file_path, source)


def _batched(records: Iterator[tuple[str, dict[str, Any]]], size: int) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    batch: list[tuple[str, dict[str, Any]]] = []
    for item in records:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _collect_keys(batch: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Return the keys of all records in first-seen order."""
    keys: dict[str, None] = {}
    for _, record in batch:
        keys.update(dict.fromkeys(record))
    return list(keys)


def _records_to_frame(batch: list[tuple[str, dict[str, Any]]], keys: list[str], names: list[str]) -> pd.DataFrame:
    """Build a text DataFrame from records, with "" for a key that a record lacks."""
    rows = [[_json_value_to_text(record.get(key)) for key in keys] for _, record in batch]
    return pd.DataFrame(rows, columns=names, dtype=str)


def _read_json_text(file_path: Path, text: str) -> tuple[pd.DataFrame, list[str]]:
    records = list(_iter_json_records(file_path, io.StringIO(text), text))
    if not records:
        _reject_no_rows(file_path)

    keys = _collect_keys(records)
    columns = _clean_column_names(file_path, keys)
    frame = _records_to_frame(records, keys, columns.names)
    drop_index, notes = _resolve_index_column(frame, columns)
    return _apply_index_decision(frame, drop_index), notes


def _iter_json_chunks(
    file_path: Path,
    sample_text: str,
    encoding: str,
    tried: tuple[str, ...],
    chunk_rows: int,
) -> tuple[TableFormat, Iterator[pd.DataFrame]]:
    handle = file_path.open("rb")
    try:
        source = _DecodingReader(handle, file_path, encoding, tried)
        batches = _batched(_iter_json_records(file_path, source, sample_text), chunk_rows)
        first = next(batches, [])
        if not first:
            _reject_no_rows(file_path)

        # Every chunk gets the columns of the first one, so later records must
        # not bring new keys.
        keys = _collect_keys(first)
        columns = _clean_column_names(file_path, keys)
        first_frame = _records_to_frame(first, keys, columns.names)
        drop_index, notes = _resolve_index_column(first_frame, columns)
    except BaseException:
        handle.close()
        raise

    table_format = TableFormat(JSONL_KIND, encoding, None)
    _log_chunked_read(file_path, table_format, len(keys) - drop_index, chunk_rows, notes)
    chunks = _json_chunks(file_path, handle, batches, first_frame, keys, columns.names, drop_index, chunk_rows)
    return table_format, chunks


def _json_chunks(
    file_path: Path,
    handle: BinaryIO,
    batches: Iterator[list[tuple[str, dict[str, Any]]]],
    first_frame: pd.DataFrame,
    keys: list[str],
    names: list[str],
    drop_index: bool,
    chunk_rows: int,
) -> Iterator[pd.DataFrame]:
    try:
        yield _apply_index_decision(first_frame, drop_index)
        for batch in batches:
            _reject_new_keys(file_path, batch, set(keys), chunk_rows)
            yield _apply_index_decision(_records_to_frame(batch, keys, names), drop_index)
    finally:
        handle.close()


def _reject_new_keys(
    file_path: Path, batch: list[tuple[str, dict[str, Any]]], known: set[str], chunk_rows: int
) -> None:
    for location, record in batch:
        new_keys = [key for key in record if key not in known]
        if new_keys:
            raise DataFileError(
                f"{file_path}: {location} has key '{new_keys[0]}', which none of the first {chunk_rows:,} "
                "records has. Give every record the same keys, or read the file with read_table."
            )


# ---------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------


def _open_parquet(file_path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(file_path)
    except (pa.ArrowInvalid, OSError) as error:
        raise DataFileError(
            f"{file_path}: not a valid Parquet file ({error}). Check that the file was written completely, "
            "or rename it if it is CSV or JSON Lines."
        ) from None


def _parquet_data_columns(parquet_file: pq.ParquetFile) -> list[str]:
    """Return the column names without the index columns that pandas stores in its metadata."""
    pandas_metadata = parquet_file.schema_arrow.pandas_metadata or {}
    index_columns = {name for name in pandas_metadata.get("index_columns", []) if isinstance(name, str)}
    return [name for name in parquet_file.schema_arrow.names if name not in index_columns]


def _arrow_column_to_text(file_path: Path, name: str, column: pa.Array | pa.ChunkedArray) -> list[str]:
    try:
        text = pc.cast(column, pa.string())
    except pa.ArrowNotImplementedError:
        # Nested types (lists, structs) have no cast to string, so they are written as JSON.
        return [_json_value_to_text(value) for value in column.to_pylist()]
    except pa.ArrowInvalid as error:
        raise DataFileError(
            f"{file_path}: column '{name}' cannot be read as text ({error}). Convert it to a string column."
        ) from None
    return pc.fill_null(text, "").to_pylist()


def _batch_to_frame(
    file_path: Path, batch: pa.Table | pa.RecordBatch, raw_names: list[str], names: list[str]
) -> pd.DataFrame:
    data = {name: _arrow_column_to_text(file_path, raw, batch.column(raw)) for name, raw in zip(names, raw_names)}
    return pd.DataFrame(data, columns=names, dtype=str)


def _read_parquet(file_path: Path) -> tuple[pd.DataFrame, TableFormat]:
    parquet_file = _open_parquet(file_path)
    try:
        raw_names = _parquet_data_columns(parquet_file)
        columns = _clean_column_names(file_path, raw_names)
        if parquet_file.metadata.num_rows == 0:
            _reject_no_rows(file_path)

        table = parquet_file.read(columns=raw_names)
    finally:
        parquet_file.close()

    frame = _batch_to_frame(file_path, table, raw_names, columns.names)
    drop_index, notes = _resolve_index_column(frame, columns)
    frame = _apply_index_decision(frame, drop_index)

    table_format = TableFormat(PARQUET_KIND, None, None)
    _log_read(file_path, table_format, frame, notes)
    return frame, table_format


def _iter_parquet_chunks(file_path: Path, chunk_rows: int) -> tuple[TableFormat, Iterator[pd.DataFrame]]:
    parquet_file = _open_parquet(file_path)
    try:
        raw_names = _parquet_data_columns(parquet_file)
        columns = _clean_column_names(file_path, raw_names)
        if parquet_file.metadata.num_rows == 0:
            _reject_no_rows(file_path)

        batches = parquet_file.iter_batches(batch_size=chunk_rows, columns=raw_names)
        first = _batch_to_frame(file_path, next(batches), raw_names, columns.names)
        drop_index, notes = _resolve_index_column(first, columns)
    except BaseException:
        parquet_file.close()
        raise

    table_format = TableFormat(PARQUET_KIND, None, None)
    _log_chunked_read(file_path, table_format, len(columns.names) - drop_index, chunk_rows, notes)
    chunks = _parquet_chunks(file_path, parquet_file, batches, first, raw_names, columns.names, drop_index)
    return table_format, chunks


def _parquet_chunks(
    file_path: Path,
    parquet_file: pq.ParquetFile,
    batches: Iterator[pa.RecordBatch],
    first: pd.DataFrame,
    raw_names: list[str],
    names: list[str],
    drop_index: bool,
) -> Iterator[pd.DataFrame]:
    try:
        yield _apply_index_decision(first, drop_index)
        for batch in batches:
            yield _apply_index_decision(_batch_to_frame(file_path, batch, raw_names, names), drop_index)
    finally:
        parquet_file.close()


# ---------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------


def _describe_format(table_format: TableFormat) -> str:
    parts = [table_format.kind]
    if table_format.encoding is not None:
        parts.append(f"encoding {table_format.encoding}")
    if table_format.separator is not None:
        parts.append(f"separator {table_format.separator!r}")
    return ", ".join(parts)


def _describe_notes(notes: list[str]) -> str:
    return f" ({'; '.join(notes)})" if notes else ""


def _log_read(file_path: Path, table_format: TableFormat, frame: pd.DataFrame, notes: list[str]) -> None:
    logger.info(
        "Read %s: %s, %s rows, %s columns%s",
        file_path,
        _describe_format(table_format),
        f"{len(frame):,}",
        f"{len(frame.columns):,}",
        _describe_notes(notes),
    )


def _log_chunked_read(
    file_path: Path, table_format: TableFormat, column_count: int, chunk_rows: int, notes: list[str]
) -> None:
    logger.info(
        "Reading %s in chunks of %s rows: %s, %s columns%s",
        file_path,
        f"{chunk_rows:,}",
        _describe_format(table_format),
        f"{column_count:,}",
        _describe_notes(notes),
    )


# ---------------------------------------------------------------------------
# Atomic output
# ---------------------------------------------------------------------------


@contextmanager
def atomic_output(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    mode: str = "w",
    encoding: str | None = "utf-8",
    newline: str | None = "",
) -> Iterator[IO[Any]]:
    """Open a temporary file next to `path` and move it onto `path` when the block succeeds.

    Raises FileExistsError before writing anything when `path` exists and
    `overwrite` is false. The temporary file is named ".<name>.<random>.partial"
    in the target folder, so the final os.replace stays on one file system and
    is atomic. On any exception, KeyboardInterrupt included, the temporary file
    is removed and the exception re-raised, so `path` is either the complete
    new file or untouched. `mode` is "w" or "wt" for text or "wb" for bytes,
    and `encoding` and `newline` apply to text mode only.
    """
    if mode not in OUTPUT_MODES:
        raise ValueError(f"mode must be one of {', '.join(OUTPUT_MODES)}, got {mode!r}.")

    target = Path(path)
    _reject_existing_output(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)

    temporary = _create_partial_file(target)
    binary = "b" in mode
    try:
        with open(
            temporary,
            mode,
            encoding=None if binary else encoding,
            newline=None if binary else newline,
        ) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())

        # NOTE: another process can still create `path` between this check and
        # os.replace, and would then be overwritten.
        _reject_existing_output(target, overwrite)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

    _fsync_directory(target.parent)


def _reject_existing_output(target: Path, overwrite: bool) -> None:
    if target.is_dir():
        raise IsADirectoryError(f"{target}: output path is a directory. Pass a file path.")
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target}: output file already exists. Pass --overwrite to replace it, or choose another path."
        )


def _create_partial_file(target: Path) -> Path:
    """Create an empty, uniquely named temporary file next to `target`.

    os.open with mode 0o666 lets the umask decide the permissions, as for a
    normal open(); tempfile.mkstemp would make the output readable only by its owner.
    """
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
        try:
            descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(descriptor)
        return candidate


def _fsync_directory(directory: Path) -> None:
    """Flush the directory entry of a replaced file, so the rename survives a crash on POSIX."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
