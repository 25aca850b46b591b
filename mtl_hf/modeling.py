"""A BERT encoder shared by one linear classification head per task."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import AutoConfig, BertModel, BertPreTrainedModel
from transformers.utils import ModelOutput

from .configuration import BertMultiTaskConfig

IGNORE_INDEX = -100

# Keys of an encoder's config.json that describe the checkpoint rather than the architecture.
_CHECKPOINT_ONLY_KEYS = ("architectures", "model_type", "transformers_version", "_name_or_path")


@dataclass
class MultiTaskOutput(ModelOutput):
    """Output of :class:`BertForMultiTask`.

    ``logits`` contains one ``(batch, num_labels)`` tensor per task in ``config.task_names`` order.
    ``task_losses`` contains each task's mean cross-entropy over the rows labelled for it, in the
    same order, and ``loss`` their weighted sum.
    """

    loss: torch.Tensor | None = None
    task_losses: torch.Tensor | None = None
    logits: tuple[torch.Tensor, ...] | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


def multitask_loss(
    logits: tuple[torch.Tensor, ...] | list[torch.Tensor],
    labels: torch.Tensor,
    weights: torch.Tensor,
    label_counts: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the weighted total loss and the per-task losses.

    ``labels`` is ``(batch, num_tasks)`` with ``-100`` where a row has no label for a task, so that
    task's loss ignores the row and the other tasks still train on it. Each task's summed
    cross-entropy is divided by ``label_counts[task]``: by default the labelled rows in this batch,
    and under gradient accumulation the labelled rows in the whole accumulated batch, which makes
    the accumulated gradient equal to that of one large batch.
    """
    if labels.dim() != 2 or labels.shape[1] != len(logits):
        raise ValueError(
            f"labels must have shape (batch, {len(logits)}), one column per task; got {tuple(labels.shape)}."
        )
    if label_counts is None:
        label_counts = labels.ne(IGNORE_INDEX).sum(dim=0)

    summed = torch.stack(
        [
            F.cross_entropy(task_logits.float(), labels[:, index], ignore_index=IGNORE_INDEX, reduction="sum")
            for index, task_logits in enumerate(logits)
        ]
    )
    task_losses = summed / label_counts.to(summed.dtype).clamp(min=1)
    return (task_losses * weights).sum(), task_losses


class BertForMultiTask(BertPreTrainedModel):
    """BERT with one classification head per task on the pooled ``[CLS]`` representation.

    One encoder pass serves every head, so training two tasks costs about one forward pass.
    """

    config_class = BertMultiTaskConfig
    # MultiTaskTrainer normalises the loss itself; this keeps the Trainer from passing
    # num_items_in_batch to forward().
    accepts_loss_kwargs = False

    def __init__(self, config: BertMultiTaskConfig):
        super().__init__(config)
        if not config.tasks:
            raise ValueError("BertMultiTaskConfig.tasks is empty: give at least one task with its label names.")

        self.bert = BertModel(config)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict(
            {task: nn.Linear(config.hidden_size, len(config.tasks[task])) for task in config.task_names}
        )
        self.post_init()

    @property
    def task_names(self) -> list[str]:
        return self.config.task_names

    def task_loss_weights(self, device: torch.device) -> torch.Tensor:
        """Return the loss weight of each task, in ``task_names`` order.

        Built from the config on each call rather than kept as a buffer: ``from_pretrained`` builds
        the model on the meta device and leaves buffers missing from the checkpoint uninitialised.
        """
        return torch.tensor([self.config.loss_weight(task) for task in self.task_names], device=device)

    @classmethod
    def from_encoder(
        cls,
        name_or_path: str,
        tasks: dict[str, list[str]],
        **config_overrides,
    ) -> "BertForMultiTask":
        """Load a pretrained BERT encoder (Hub id or local folder) and add freshly initialised heads."""
        encoder_config = AutoConfig.from_pretrained(name_or_path)
        if encoder_config.model_type not in ("bert", BertMultiTaskConfig.model_type):
            raise ValueError(
                f"{name_or_path} is a {encoder_config.model_type!r} model; BertForMultiTask needs a BERT encoder "
                "(model_type 'bert')."
            )

        values = {key: value for key, value in encoder_config.to_dict().items() if key not in _CHECKPOINT_ONLY_KEYS}
        values.update(config_overrides, tasks=tasks)
        config = BertMultiTaskConfig.from_dict(values)
        return cls.from_pretrained(name_or_path, config=config)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> MultiTaskOutput:
        encoded = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        pooled = self.dropout(encoded.pooler_output)
        logits = tuple(self.heads[task](pooled) for task in self.task_names)

        loss = task_losses = None
        if labels is not None:
            loss, task_losses = multitask_loss(logits, labels, self.task_loss_weights(labels.device))

        return MultiTaskOutput(
            loss=loss,
            task_losses=task_losses,
            logits=logits,
            hidden_states=encoded.hidden_states,
            attentions=encoded.attentions,
        )
