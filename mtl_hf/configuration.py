"""Configuration of :class:`mtl_hf.modeling.BertForMultiTask`."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import BertConfig


@strict
class BertMultiTaskConfig(BertConfig):
    """A :class:`~transformers.BertConfig` plus the tasks, their label names and loss weights.

    ``tasks`` maps each task name to its label names in class-id order, for example
    ``{"sentiment": ["negatif", "pozitif"], "topic": ["dunya", ...]}``. Heads, logits and label
    columns follow :attr:`task_names`, the sorted task names, because ``save_pretrained`` writes
    JSON with sorted keys and would otherwise reorder the tasks on reload.
    ``text_preprocessing`` stores the :class:`mtl_hf.text.TextPreprocessing` used in training, so
    that prediction applies the same normalisation.
    """

    model_type = "bert_multitask"

    tasks: dict | None = None
    task_loss_weights: dict | None = None
    text_preprocessing: dict | None = None

    @property
    def task_names(self) -> list[str]:
        return sorted(self.tasks or {})

    def labels_for(self, task: str) -> list[str]:
        if not self.tasks or task not in self.tasks:
            known = ", ".join(self.task_names) or "none"
            raise KeyError(f"Unknown task {task!r}: this model has the tasks {known}.")
        return list(self.tasks[task])

    def id2label_for(self, task: str) -> dict[int, str]:
        return dict(enumerate(self.labels_for(task)))

    def label2id_for(self, task: str) -> dict[str, int]:
        return {label: index for index, label in enumerate(self.labels_for(task))}

    def loss_weight(self, task: str) -> float:
        return float((self.task_loss_weights or {}).get(task, 1.0))
