"""Stream predictions for a data file, or for texts on standard input, into CSV or JSON Lines.

The input is read in chunks with :func:`mtl_hf.files.iter_table_chunks` and each chunk is
written before the next is read, so memory stays bounded by the chunk size whatever the file
length. Output rows keep the input order and columns, followed by ``<task>_label`` and
``<task>_probability`` for each task. A file output is written through
:func:`mtl_hf.files.atomic_output`, so an interrupted run leaves no partial file behind.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO

import pandas as pd
from tqdm import tqdm

from .files import DataFileError, atomic_output, iter_table_chunks
from .inference import PROBABILITY_SUFFIX, Predictor
from .tasks import KNOWN_LAYOUTS, find_column

logger = logging.getLogger(__name__)

CSV_FORMAT = "csv"
TSV_FORMAT = "tsv"
JSONL_FORMAT = "jsonl"
OUTPUT_FORMATS = (CSV_FORMAT, TSV_FORMAT, JSONL_FORMAT)
# A .json output is written as JSON Lines too: one object per row keeps the output streamable.
OUTPUT_SUFFIXES = {".csv": CSV_FORMAT, ".tsv": TSV_FORMAT, ".jsonl": JSONL_FORMAT, ".json": JSONL_FORMAT}
DELIMITERS = {CSV_FORMAT: ",", TSV_FORMAT: "\t"}
STDIN_TEXT_COLUMN = "text"
DEFAULT_CHUNK_ROWS = 2_000
PROBABILITY_DECIMALS = 6


def output_format_for(output: str | Path | None, requested: str | None) -> str:
    """Return the output format: the one requested, else the one of the output suffix, else JSON Lines."""
    if requested is not None:
        if requested not in OUTPUT_FORMATS:
            raise ValueError(f"Invalid output format {requested!r}: choose one of {', '.join(OUTPUT_FORMATS)}.")
        return requested
    if output is None:
        return JSONL_FORMAT

    suffix = Path(output).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise DataFileError(
            f"--output {output}: unknown suffix {suffix!r}. Use {', '.join(OUTPUT_SUFFIXES)} "
            "(.json is written as JSON Lines), or name the format with --format."
        )
    return OUTPUT_SUFFIXES[suffix]


def resolve_text_column(source: str | Path, columns: list[str], requested: str | None) -> str:
    """Return the text column: the one named, a known layout's text column, or the only column."""
    if requested is not None:
        found = find_column(columns, requested)
        if found is None:
            raise DataFileError(
                f"{source}: column {requested!r} (from --text-column) not found. "
                f"The columns are: {', '.join(map(repr, columns))}."
            )
        return found

    for layout in KNOWN_LAYOUTS:
        found = find_column(columns, layout.text_column)
        if found is not None:
            return found
    if len(columns) == 1:
        return columns[0]
    raise DataFileError(
        f"{source}: no text column found automatically. Name it with --text-column; "
        f"the columns are: {', '.join(map(repr, columns))}."
    )


class _RowWriter:
    """Write prediction rows as CSV or TSV (header before the first row), or as one JSON object per line."""

    def __init__(self, stream: IO[str], output_format: str) -> None:
        self.stream = stream
        self.output_format = output_format
        delimiter = DELIMITERS.get(output_format)
        self.csv_writer = csv.writer(stream, delimiter=delimiter) if delimiter else None
        self.header_written = False

    def write(self, frame: pd.DataFrame) -> None:
        # pandas may store a missing prediction as NaN, which is neither valid JSON nor wanted in CSV.
        frame = frame.astype(object).where(frame.notna(), None)
        if self.csv_writer is not None:
            self._write_csv(frame)
            return
        for record in frame.to_dict(orient="records"):
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")

    def _write_csv(self, frame: pd.DataFrame) -> None:
        if not self.header_written:
            self.csv_writer.writerow(frame.columns)
            self.header_written = True
        # None (no prediction for an empty text) is written as an empty field.
        self.csv_writer.writerows(frame.itertuples(index=False, name=None))


def add_predictions(predictor: Predictor, chunk: pd.DataFrame, text_column: str, source: str | Path) -> pd.DataFrame:
    """Return ``chunk`` with each task's label and probability columns; rows with empty text get None."""
    clashing = [column for column in predictor.output_columns() if column in chunk.columns]
    if clashing:
        raise DataFileError(
            f"{source}: the input already has the column(s) {', '.join(map(repr, clashing))} that predict adds. "
            "Rename or remove them."
        )

    texts = chunk[text_column].fillna("").astype(str)
    has_text = (texts.str.strip() != "").to_numpy()
    predictions = predictor.predict_texts(texts[has_text].tolist())

    positions = [position for position, present in enumerate(has_text) if present]
    result = chunk.reset_index(drop=True).copy()
    for column in predictor.output_columns():
        values: list[object] = [None] * len(result)
        for position, prediction in zip(positions, predictions):
            value = prediction[column]
            values[position] = round(value, PROBABILITY_DECIMALS) if column.endswith(PROBABILITY_SUFFIX) else value
        result[column] = values
    return result


def _open_output(output: str | Path | None, overwrite: bool):
    if output is None:
        return nullcontext(sys.stdout)
    return atomic_output(output, overwrite=overwrite)


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[tqdm]:
    bar = tqdm(unit=" rows", file=sys.stderr, disable=not enabled, desc="predict")
    try:
        yield bar
    finally:
        bar.close()


def write_predictions(
    predictor: Predictor,
    chunks: Iterable[pd.DataFrame],
    source: str | Path,
    text_column: str | None,
    output: str | Path | None,
    output_format: str,
    overwrite: bool = False,
    progress: bool = True,
    empty_hint: str = "Name the column that holds the texts with --text-column.",
) -> int:
    """Predict every chunk and write it before reading the next; return the number of rows written.

    Raises DataFileError when no row has any text, after which no output file exists.
    """
    rows = rows_with_text = 0
    with _open_output(output, overwrite) as stream, _progress_bar(progress) as bar:
        writer = _RowWriter(stream, output_format)
        for chunk in chunks:
            column = resolve_text_column(source, list(chunk.columns), text_column)
            text_column = column
            predicted = add_predictions(predictor, chunk, column, source)
            writer.write(predicted)

            rows += len(predicted)
            rows_with_text += int(predicted[predictor.output_columns()[0]].notna().sum())
            bar.update(len(predicted))

        if rows and not rows_with_text:
            raise DataFileError(
                f"{source}: the text column {text_column!r} is empty in all {rows} rows. {empty_hint}"
            )

    if rows_with_text < rows:
        logger.warning("%s: %d of %d rows have no text; their predictions are left empty", source, rows - rows_with_text, rows)
    logger.info("Predicted %d rows from %s into %s", rows, source, output or "standard output")
    return rows


def predict_file(
    predictor: Predictor,
    data: str | Path,
    output: str | Path | None,
    *,
    text_column: str | None = None,
    encoding: str | None = None,
    separator: str | None = None,
    output_format: str | None = None,
    overwrite: bool = False,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: bool = True,
) -> int:
    """Predict every row of a data file into ``output`` (standard output when None); return the row count."""
    output_format = output_format_for(output, output_format)
    _, chunks = iter_table_chunks(data, chunk_rows=chunk_rows, encoding=encoding, separator=separator)
    return write_predictions(predictor, chunks, data, text_column, output, output_format, overwrite, progress)


def iter_line_chunks(lines: Iterable[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Group lines (one text each, line ends removed) into frames with a single ``text`` column."""
    batch: list[str] = []
    for line in lines:
        batch.append(line.rstrip("\r\n"))
        if len(batch) == chunk_rows:
            yield pd.DataFrame({STDIN_TEXT_COLUMN: batch})
            batch = []
    if batch:
        yield pd.DataFrame({STDIN_TEXT_COLUMN: batch})


def predict_lines(
    predictor: Predictor,
    lines: Iterable[str],
    output: str | Path | None,
    *,
    output_format: str | None = None,
    overwrite: bool = False,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: bool = True,
) -> int:
    """Predict one text per line (standard input, for example); blank lines get empty predictions."""
    output_format = output_format_for(output, output_format)
    chunks = iter_line_chunks(lines, chunk_rows)
    return write_predictions(
        predictor,
        chunks,
        "standard input",
        STDIN_TEXT_COLUMN,
        output,
        output_format,
        overwrite,
        progress,
        empty_hint="Give one text per line.",
    )
