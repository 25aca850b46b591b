"""Read labelled tweets, split them without leakage, and turn them into model inputs.

The steps, in order:

1. Read a file or Hub data set, and find the text and label columns.
2. Normalise the labels and drop rows without text or without any label.
3. Split by text, so that every copy of a tweet lands on one side.
4. Fix each task's label names from the training split, and check that validation and test use
   no other labels.
5. Tokenize.
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import PreTrainedTokenizerBase

from .files import DataFileError, read_table
from .modeling import IGNORE_INDEX
from .tasks import DatasetLayout, TaskSpec, detect_layout, find_column
from .text import TextPreprocessing, turkish_lower

logger = logging.getLogger(__name__)

TEXT = "text"
ROW = "row"  # 1-based data row number in the source, header excluded, for messages
KEY = "dedup_key"
MAX_ROWS_IN_MESSAGE = 5
SPLIT_NAMES = ("train", "validation", "test")
_LINK_OR_MENTION = re.compile(r"(?:https?://|www\.)\S+|@\w+", re.IGNORECASE)
_PUNCTUATION = re.compile(r"[^\w\s]|_")


@dataclass
class TableColumns:
    """The columns of one source that hold the text and each task's labels."""

    text: str
    labels: dict[str, str]
    label_renames: dict[str, dict[str, str]] = field(default_factory=dict)
    layout: str | None = None


@dataclass
class DataSplits:
    """Train, validation and test rows (columns ``text``, ``row``, ``dedup_key`` and one per task) and the tasks."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    tasks: list[TaskSpec]
    sources: dict[str, str]
    dropped_rows: dict[str, int]

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def label_ids(self, split: str) -> np.ndarray:
        """Return the ``(rows, tasks)`` class-id matrix of ``split``, ``-100`` where a label is missing."""
        return encode_labels(self.frames()[split], self.tasks)

    def summary(self) -> dict:
        """Rows per split and label counts per task, for metrics.json."""
        summary: dict = {"sources": self.sources, "dropped_rows": self.dropped_rows, "splits": {}}
        for name, frame in self.frames().items():
            summary["splits"][name] = {
                "rows": len(frame),
                "labels": {task.name: frame[task.name].value_counts().to_dict() for task in self.tasks},
            }
        return summary


def dedup_key(text: str) -> str:
    """Return the form under which two tweets count as copies.

    Case (Turkish rules), links, @mentions, punctuation and spacing are ignored; digits are kept,
    because "15 vaka" and "20 vaka" are different news.
    """
    text = _LINK_OR_MENTION.sub(" ", unicodedata.normalize("NFC", text))
    text = _PUNCTUATION.sub(" ", turkish_lower(text))
    return " ".join(text.split())


def read_source(source: str, *, encoding: str | None, separator: str | None, hub_split: str) -> pd.DataFrame:
    """Read a local file, or a Hub data set when ``source`` is not a path that exists."""
    path = Path(source).expanduser()
    if path.exists() or path.suffix or source.startswith((".", "/", "~")) or source.count("/") != 1:
        frame, _ = read_table(path, encoding=encoding, separator=separator)
        return frame

    import datasets  # imported here so that reading local files never touches the Hub client

    try:
        dataset = datasets.load_dataset(source, split=hub_split)
    except Exception as error:  # datasets raises many types (network, missing config, missing split)
        raise DataFileError(
            f"{source} is not a local file, and loading it as a Hugging Face Hub data set failed: {error}. "
            "Check the path, or the data set id and --hub_split."
        ) from error
    return dataset.to_pandas().fillna("").astype(str)


def _missing_column_error(source: str, origin: str, wanted: str, columns: list[str], fix: str) -> DataFileError:
    """Build the error for a missing column; ``origin`` names the source of the column name (an option or a layout)."""
    close = difflib.get_close_matches(wanted, columns, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return DataFileError(
        f"{source}: column {wanted!r} ({origin}) not found.{hint} {fix}; "
        f"the columns are: {', '.join(map(repr, columns))}."
    )


def resolve_columns(
    source: str,
    columns: list[str],
    task_names: tuple[str, ...],
    text_column: str | None,
    label_columns: dict[str, str],
) -> TableColumns:
    """Find the text and label columns: named by options, else by a known data set layout."""
    layout: DatasetLayout | None = None
    if text_column is None or any(task not in label_columns for task in task_names):
        layout = detect_layout(columns, task_names)

    if text_column is None and layout is None:
        raise DataFileError(
            f"{source}: no text column found automatically. Name it with --text_column; "
            f"the columns are: {', '.join(map(repr, columns))}."
        )
    wanted_text = text_column or layout.text_column
    found_text = find_column(columns, wanted_text)
    if found_text is None:
        origin = "from --text_column" if text_column else f"expected by the {layout.name} layout"
        raise _missing_column_error(source, origin, wanted_text, columns, "Name the text column with --text_column")

    labels: dict[str, str] = {}
    for task in task_names:
        named = label_columns.get(task)
        wanted = named or (layout.label_columns.get(task) if layout else None)
        if wanted is None:
            raise DataFileError(f"{source}: no label column found for task {task!r}.{_task_hint(task, layout)} "
                                f"Name its column with --label_columns {task}=COLUMN; the columns are: "
                                f"{', '.join(map(repr, columns))}.")
        found = find_column(columns, wanted)
        if found is None:
            origin = "from --label_columns" if named else f"expected by the {layout.name} layout for task {task!r}"
            fix = f"Name the label column with --label_columns {task}=COLUMN"
            raise _missing_column_error(source, origin, wanted, columns, fix)
        labels[task] = found

    renames = {task: rename for task, rename in (layout.label_renames if layout else {}).items() if task in labels}
    return TableColumns(text=found_text, labels=labels, label_renames=renames, layout=layout.name if layout else None)


def _task_hint(task: str, layout: DatasetLayout | None) -> str:
    """Suggest the closest task name of the detected layout, for a misspelt --tasks entry."""
    if layout is None:
        return ""
    close = difflib.get_close_matches(task, list(layout.label_columns), n=1)
    return f" Did you mean --tasks {close[0]}?" if close else ""


def normalise_label(value: object) -> str | None:
    """Return the label as NFC text without surrounding spaces, or None when it is empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    label = unicodedata.normalize("NFC", str(value)).strip()
    return label or None


def _describe_rows(rows: pd.Series) -> str:
    listed = ", ".join(str(row) for row in rows.head(MAX_ROWS_IN_MESSAGE))
    more = f" and {len(rows) - MAX_ROWS_IN_MESSAGE} more" if len(rows) > MAX_ROWS_IN_MESSAGE else ""
    return listed + more


def build_frame(source: str, raw: pd.DataFrame, columns: TableColumns) -> tuple[pd.DataFrame, int]:
    """Return the rows with text and at least one label, and how many rows were dropped."""
    frame = pd.DataFrame({ROW: np.arange(1, len(raw) + 1), TEXT: raw[columns.text].astype(str)})
    for task, column in columns.labels.items():
        rename = columns.label_renames.get(task, {})
        frame[task] = [rename.get(label, label) if label else None for label in map(normalise_label, raw[column])]

    empty_text = frame[TEXT].str.strip() == ""
    no_label = frame[list(columns.labels)].isna().all(axis=1)
    if empty_text.any():
        logger.warning("%s: skipped %d rows with empty text (rows %s)", source, empty_text.sum(), _describe_rows(frame[ROW][empty_text]))
    unlabelled = no_label & ~empty_text
    if unlabelled.any():
        logger.warning("%s: skipped %d rows with no label (rows %s)", source, unlabelled.sum(), _describe_rows(frame[ROW][unlabelled]))

    kept = frame[~(empty_text | no_label)].reset_index(drop=True)
    kept[KEY] = kept[TEXT].map(dedup_key)
    return kept, int((empty_text | no_label).sum())


def split_by_text(
    frame: pd.DataFrame, validation_fraction: float, test_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split rows at random by their dedup key, so every copy of a text is on one side.

    Keys are shuffled with ``seed`` and taken in that order: a key goes to test while the test
    rows taken before it are below ``test_fraction`` of all rows, then to validation likewise.
    A non-zero fraction therefore always gets at least one key.
    """
    rows_per_key = frame[KEY].value_counts(sort=False)
    keys = rows_per_key.index.to_numpy()
    shuffled = keys[np.random.default_rng(seed).permutation(len(keys))]
    share_before = (rows_per_key.reindex(shuffled).cumsum() - rows_per_key.reindex(shuffled)).to_numpy() / len(frame)

    test_keys = set(shuffled[share_before < test_fraction])
    validation_keys = set(
        shuffled[(share_before >= test_fraction) & (share_before < test_fraction + validation_fraction)]
    )
    def side_of(key: str) -> str:
        if key in test_keys:
            return "test"
        if key in validation_keys:
            return "validation"
        return "train"

    side = frame[KEY].map(side_of)
    return (
        frame[side == "train"].reset_index(drop=True),
        frame[side == "validation"].reset_index(drop=True),
        frame[side == "test"].reset_index(drop=True),
    )


def build_tasks(train: pd.DataFrame, columns: TableColumns, source: str) -> list[TaskSpec]:
    """Fix each task's label names, sorted, from the training rows."""
    tasks = []
    for task, column in sorted(columns.labels.items()):
        labels = tuple(sorted(train[task].dropna().unique()))
        if len(labels) < 2:
            raise DataFileError(
                f"{source}: task {task!r} (column {column!r}) has {len(labels)} distinct label(s) in the training "
                f"split ({', '.join(labels) or 'none'}); classification needs at least two. Fix the column, "
                "or train the other tasks only with --tasks."
            )
        tasks.append(TaskSpec(name=task, label_column=column, labels=labels))
    return tasks


def check_labels_seen_in_training(splits: DataSplits) -> None:
    """Raise when validation or test rows carry a label the training split lacks."""
    for split in ("validation", "test"):
        frame = splits.frames()[split]
        for task in splits.tasks:
            unseen = frame[task.name].dropna()
            unseen = unseen[~unseen.isin(task.labels)]
            if unseen.empty:
                continue
            counts = ", ".join(f"{label!r} ({count} rows)" for label, count in unseen.value_counts().items())
            raise DataFileError(
                f"{splits.sources[split]}: task {task.name!r} has labels in the {split} split that the training "
                f"split lacks: {counts}. The model cannot predict them. Add training rows with these labels, "
                "remove those rows, or try another --split_seed."
            )


def report_leakage(splits: DataSplits) -> dict[str, int]:
    """Count validation and test rows whose text also occurs in training, and warn when there are any."""
    train_keys = set(splits.train[KEY])
    leaked = {}
    for split in ("validation", "test"):
        frame = splits.frames()[split]
        count = int(frame[KEY].isin(train_keys).sum())
        leaked[split] = count
        if count:
            logger.warning(
                "%d of %d %s rows (%s) repeat a training text; their scores overstate accuracy on new tweets",
                count,
                len(frame),
                split,
                splits.sources[split],
            )
    return leaked


def encode_labels(frame: pd.DataFrame, tasks: list[TaskSpec]) -> np.ndarray:
    """Return the ``(rows, tasks)`` class-id matrix, ``-100`` where a row has no label for a task."""
    matrix = np.full((len(frame), len(tasks)), IGNORE_INDEX, dtype=np.int64)
    for index, task in enumerate(tasks):
        ids = frame[task.name].map(task.label2id)
        labelled = ids.notna().to_numpy()
        matrix[labelled, index] = ids[labelled].astype(np.int64).to_numpy()
    return matrix


def tokenize_frame(
    frame: pd.DataFrame,
    tasks: list[TaskSpec],
    tokenizer: PreTrainedTokenizerBase,
    preprocessing: TextPreprocessing,
    max_length: int,
):
    """Tokenize without padding (the collator pads each batch) and attach labels and lengths."""
    import datasets

    texts = [preprocessing(text) for text in frame[TEXT]]
    encodings = tokenizer(texts, truncation=True, max_length=max_length)
    columns = dict(encodings)
    columns["labels"] = encode_labels(frame, tasks).tolist()
    columns["length"] = [len(ids) for ids in encodings["input_ids"]]
    return datasets.Dataset.from_dict(columns)


@dataclass
class MultiTaskCollator:
    """Pad a batch to its longest row and stack the ``(batch, num_tasks)`` labels."""

    tokenizer: PreTrainedTokenizerBase
    pad_to_multiple_of: int | None = None

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        model_inputs = [{key: value for key, value in row.items() if key not in ("labels", "length")} for row in features]
        batch = self.tokenizer.pad(
            model_inputs, padding=True, pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt"
        )
        if "labels" in features[0]:
            batch["labels"] = torch.tensor([row["labels"] for row in features], dtype=torch.long)
        return dict(batch)


def parse_label_columns(value: str | None) -> dict[str, str]:
    """Parse ``--label_columns`` of the form ``sentiment=Tweets_duygu,topic=sınıflandırma``."""
    if not value:
        return {}
    mapping = {}
    for item in value.split(","):
        task, separator, column = item.partition("=")
        if not separator or not task.strip() or not column.strip():
            raise ValueError(
                f"Invalid --label_columns item {item!r}: write TASK=COLUMN pairs separated by commas, "
                "e.g. sentiment=Tweets_duygu,topic=sınıflandırma."
            )
        mapping[task.strip()] = column.strip()
    return mapping


def _read_labelled(source: str, data_args, task_names: tuple[str, ...], label_columns: dict[str, str]):
    raw = read_source(source, encoding=data_args.encoding, separator=data_args.separator, hub_split=data_args.hub_split)
    if raw.empty:
        raise DataFileError(f"{source}: no data rows. Give a file with a header and at least one row.")
    columns = resolve_columns(source, list(raw.columns), task_names, data_args.text_column, label_columns)
    if columns.layout:
        logger.info("%s: recognised the %s layout (text %r, labels %s)", source, columns.layout, columns.text, columns.labels)
    frame, dropped = build_frame(source, raw, columns)
    return frame, columns, dropped


def load_splits(data_args, task_names: tuple[str, ...]) -> DataSplits:
    """Read the training data (and separate validation/test files, if given) and split it.

    A split without its own file is carved from the training data, by text, with the fractions
    in ``data_args``.
    """
    label_columns = parse_label_columns(data_args.label_columns)
    frame, columns, dropped_train = _read_labelled(data_args.data, data_args, task_names, label_columns)
    if data_args.max_rows is not None:
        frame = frame.head(data_args.max_rows)

    sources = dict.fromkeys(SPLIT_NAMES, data_args.data)
    dropped = {"train": dropped_train}
    given: dict[str, pd.DataFrame] = {}
    for split, source in (("validation", data_args.validation_data), ("test", data_args.test_data)):
        if source:
            given[split], _, dropped[split] = _read_labelled(source, data_args, task_names, label_columns)
            sources[split] = source

    validation_fraction = 0.0 if "validation" in given else data_args.validation_fraction
    test_fraction = 0.0 if "test" in given else data_args.test_fraction
    train, validation, test = split_by_text(frame, validation_fraction, test_fraction, data_args.split_seed)
    validation = given.get("validation", validation)
    test = given.get("test", test)

    for split, split_frame in (("validation", validation), ("test", test)):
        if split_frame.empty:
            raise DataFileError(
                f"{sources[split]}: the {split} split is empty ({len(frame)} usable rows). Use more data, "
                f"raise --{split}_fraction, or give a --{split}_data file."
            )

    splits = DataSplits(
        train=train,
        validation=validation,
        test=test,
        tasks=build_tasks(train, columns, data_args.data),
        sources=sources,
        dropped_rows=dropped,
    )
    check_labels_seen_in_training(splits)
    if given:
        report_leakage(splits)
    logger.info(
        "Data: %d train, %d validation, %d test rows; tasks %s",
        len(train),
        len(validation),
        len(test),
        ", ".join(f"{task.name} ({task.num_labels} labels)" for task in splits.tasks),
    )
    return splits
