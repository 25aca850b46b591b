"""Tasks and the column layouts of the data sets the package recognises without options.

A task is data: a name, the column holding its labels, and (once the training data is read) its
label names in class-id order. Nothing in the package branches on a task's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .text import turkish_lower

DEFAULT_TASKS = ("sentiment", "topic")


@dataclass(frozen=True)
class TaskSpec:
    """One classification task: its name, label column and label names (index = class id)."""

    name: str
    label_column: str
    labels: tuple[str, ...] = ()

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    @property
    def label2id(self) -> dict[str, int]:
        return {label: index for index, label in enumerate(self.labels)}


@dataclass(frozen=True)
class DatasetLayout:
    """Column names of a known data set, and label renames that give raw codes readable names."""

    name: str
    text_column: str
    label_columns: dict[str, str]
    label_renames: dict[str, dict[str, str]] = field(default_factory=dict)
    description: str = ""


KNOWN_LAYOUTS: tuple[DatasetLayout, ...] = (
    DatasetLayout(
        name="haber-tweetleri",
        text_column="tweet",
        label_columns={"sentiment": "Tweets_duygu", "topic": "sınıflandırma"},
        description="Turkish news tweets (SonData.csv): negatif/pozitif and seven topics",
    ),
    DatasetLayout(
        name="tr-covid-tweets",
        text_column="Description",
        label_columns={"sentiment": "Sentiment_Analysis", "topic": "Topic"},
        # The file stores sentiment as -1/0/1; the names follow the target data set's Turkish labels.
        label_renames={"sentiment": {"-1": "negatif", "0": "nötr", "1": "pozitif"}},
        description="Turkish COVID-19 tweets, May 2020: -1/0/1 sentiment and seven topics",
    ),
    DatasetLayout(
        name="mtl-hf-sample",
        text_column="text",
        label_columns={"sentiment": "sentiment", "topic": "topic"},
        description="the sample data shipped with mtl_hf, and any file using these column names",
    ),
)


def column_key(name: str) -> str:
    """Return the key used to match column names: Turkish lower-case, spaces and dashes as ``_``."""
    return turkish_lower(name.strip()).replace(" ", "_").replace("-", "_")


def find_column(columns: list[str], wanted: str) -> str | None:
    """Return the column of ``columns`` that matches ``wanted`` ignoring Turkish case, else None."""
    wanted_key = column_key(wanted)
    for column in columns:
        if column_key(column) == wanted_key:
            return column
    return None


def detect_layout(columns: list[str], task_names: tuple[str, ...]) -> DatasetLayout | None:
    """Return the known layout that matches ``columns``, else None.

    A layout with the text column and every task's label column wins. Otherwise the first layout
    with the text column is returned, so that the caller can name the task whose column is missing.
    """
    with_text = [layout for layout in KNOWN_LAYOUTS if find_column(columns, layout.text_column) is not None]
    for layout in with_text:
        wanted = [layout.label_columns.get(task) for task in task_names]
        if all(name is not None and find_column(columns, name) is not None for name in wanted):
            return layout
    return with_text[0] if with_text else None
