"""The ``mtl-hf evaluate`` and ``mtl-hf predict`` commands.

Both end with exit status 2 and a one-line message, as click's own usage errors do, when an
option, a data file or the model folder cannot be used.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TypeVar

import click

from .files import DataFileError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STDIN_PATH = "-"

Command = TypeVar("Command", bound=Callable)


def _user_errors() -> tuple[type[BaseException], ...]:
    from .inference import ModelLoadError
    from .settings import SettingsError

    return (DataFileError, FileExistsError, IsADirectoryError, ModelLoadError, SettingsError)


def _report_user_errors(command: Command) -> Command:
    """Turn errors the user can fix into click.UsageError, so they print one line and exit with 2."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except _user_errors() as error:
            raise click.UsageError(str(error)) from error

    return wrapper  # type: ignore[return-value]


def _configure_logging() -> None:
    logging.basicConfig(format=LOG_FORMAT, level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("mtl_hf").setLevel(logging.INFO)
    # The weight-loading bar of transformers would print beside our own progress bar.
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def _parse_label_columns(value: str | None) -> dict[str, str]:
    from .data import parse_label_columns

    try:
        return parse_label_columns(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--label-columns") from error


def _check_output_free(output: str | None, overwrite: bool) -> None:
    """Raise before the model loads when ``output`` exists, so a missing --overwrite fails at once.

    atomic_output repeats the check when it replaces the file.
    """
    if output is not None and Path(output).exists() and not overwrite:
        raise FileExistsError(f"{output}: output file already exists. Pass --overwrite to replace it, or choose another path.")


def _load_predictor(model: str, batch_size: int, allow_pickle: bool):
    from .inference import Predictor  # imported late so that --help stays fast

    return Predictor.from_path(model, batch_size=batch_size, allow_pickle=allow_pickle)


def _common_options(command: Command) -> Command:
    """Add the options that evaluate and predict share."""
    options = [
        click.option(
            "--model",
            required=True,
            help="Run folder written by `mtl-hf train` (its model/ folder is used) or a model folder.",
        ),
        click.option("--overwrite", is_flag=True, help="Replace output files that already exist."),
        click.option(
            "--encoding",
            default=None,
            help="Encoding of the data file, e.g. utf-8, utf-16, cp1254, iso-8859-9. Detected when omitted.",
        ),
        click.option(
            "--separator",
            default=None,
            help="Field separator of a delimited file: ',', ';' or '\\t' for a tab. Detected when omitted.",
        ),
        click.option(
            "--text-column",
            "--text_column",
            "text_column",
            default=None,
            help=(
                "Column with the texts. When omitted, a known layout's text column is used "
                "(predict also takes a file's only column)."
            ),
        ),
        click.option(
            "--batch-size",
            "--batch_size",
            "batch_size",
            type=click.IntRange(min=1),
            default=32,
            show_default=True,
            help="Texts per forward pass.",
        ),
        click.option("--no-progress", is_flag=True, help="Do not show the progress bar on standard error."),
        click.option(
            "--allow-pickle",
            is_flag=True,
            help="Allow pickled weights (pytorch_model.bin). Unpickling can run arbitrary code: trusted files only.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command("evaluate")
@_common_options
@click.option("--data", required=True, help="Labelled data file (.csv, .tsv, .txt, .jsonl, .json, .parquet).")
@click.option(
    "--label-columns",
    "--label_columns",
    "label_columns",
    default=None,
    help="Label column per task as TASK=COLUMN pairs, e.g. sentiment=Tweets_duygu,topic=sınıflandırma.",
)
@click.option("--json", "json_path", default=None, help="Write the full report to this JSON file.")
@click.option("--log-dir", default=None, help="Write scores and confusion-matrix images to TensorBoard in this folder.")
@_report_user_errors
def evaluate_command(
    model: str,
    overwrite: bool,
    encoding: str | None,
    separator: str | None,
    text_column: str | None,
    batch_size: int,
    no_progress: bool,
    allow_pickle: bool,
    data: str,
    label_columns: str | None,
    json_path: str | None,
    log_dir: str | None,
) -> None:
    """Score a trained model on a labelled file: accuracy, macro-F1, per-class scores, confusion matrices."""
    from .evaluation import evaluate_file, format_report, log_to_tensorboard, write_report_json

    _configure_logging()
    _check_output_free(json_path, overwrite)
    predictor = _load_predictor(model, batch_size, allow_pickle)
    report = evaluate_file(
        predictor,
        data,
        text_column=text_column,
        label_columns=_parse_label_columns(label_columns),
        encoding=encoding,
        separator=separator,
        progress=not no_progress,
    )
    click.echo(format_report(report))

    if json_path:
        write_report_json(report, json_path, overwrite=overwrite)
        click.echo(f"\nReport: {json_path}")
    if log_dir:
        log_to_tensorboard(report, log_dir)
        click.echo(f"TensorBoard: tensorboard --logdir {log_dir}")


@click.command("predict")
@_common_options
@click.option(
    "--data",
    default=STDIN_PATH,
    show_default=True,
    help="Data file to predict (.csv, .tsv, .txt, .jsonl, .json, .parquet), or '-' for one text per line on standard input.",
)
@click.option(
    "--output",
    default=None,
    help="Output file (.csv, .tsv, .jsonl, or .json written as JSON Lines). Standard output when omitted.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["csv", "tsv", "jsonl"]),
    default=None,
    help="Output format. Taken from the --output suffix when omitted, JSON Lines on standard output.",
)
@_report_user_errors
def predict_command(
    model: str,
    overwrite: bool,
    encoding: str | None,
    separator: str | None,
    text_column: str | None,
    batch_size: int,
    no_progress: bool,
    allow_pickle: bool,
    data: str,
    output: str | None,
    output_format: str | None,
) -> None:
    """Predict every task's label and probability for each row, keeping the input columns and order."""
    from .prediction import predict_file, predict_lines

    _configure_logging()
    _check_output_free(output, overwrite)
    if data == STDIN_PATH and sys.stdin.isatty():
        raise click.UsageError("No --data file given and nothing piped to standard input: pass --data FILE or pipe texts.")

    predictor = _load_predictor(model, batch_size, allow_pickle)
    progress = not no_progress
    if data == STDIN_PATH:
        stdin = click.get_text_stream("stdin", encoding=encoding)
        predict_lines(predictor, stdin, output, output_format=output_format, overwrite=overwrite, progress=progress)
        return

    predict_file(
        predictor,
        data,
        output,
        text_column=text_column,
        encoding=encoding,
        separator=separator,
        output_format=output_format,
        overwrite=overwrite,
        progress=progress,
    )
