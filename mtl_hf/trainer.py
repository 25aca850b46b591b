"""A Trainer for :class:`mtl_hf.modeling.BertForMultiTask` and its peft-wrapped variants."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import SequentialSampler
from transformers import Trainer, TrainerCallback
from transformers.trainer_utils import has_length

from .modeling import IGNORE_INDEX, MultiTaskOutput, multitask_loss
from .timing import EpochTimer


def unwrap_multitask_model(model: nn.Module) -> nn.Module:
    """Return the BertForMultiTask inside DDP, accelerate or peft wrappers."""
    while not hasattr(model, "task_names"):
        if hasattr(model, "module"):
            model = model.module
        elif hasattr(model, "get_base_model"):
            model = model.get_base_model()
        else:
            raise TypeError(f"{type(model).__name__} does not wrap a BertForMultiTask.")
    return model


class LogLastStep(TrainerCallback):
    """Log the training losses at the last optimizer step, so every run records a final loss.

    Without it, a run shorter than ``logging_steps`` (or ending between two logs) leaves its last
    steps out of the logged losses.
    """

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_log = True


class MultiTaskTrainer(Trainer):
    """Train and evaluate every task head of a multi-task model at once.

    The batch carries ``labels`` of shape ``(batch, num_tasks)`` with ``-100`` where a row lacks a
    task's label. :meth:`compute_loss` normalises each task's loss by the labelled rows of the
    whole accumulated batch (on every process), so gradient accumulation and data-parallel training
    give the gradient of one large batch. Training logs gain ``loss_<task>``; evaluation returns
    one logits array per task to ``compute_metrics``.
    """

    # compute_loss already divides by the labelled rows of the whole accumulated batch.
    loss_is_scaled_for_ga = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        multitask_model = unwrap_multitask_model(self.model)
        self.task_names: list[str] = list(multitask_model.task_names)

        self.epoch_timer = EpochTimer()
        self.add_callback(self.epoch_timer)
        self.add_callback(LogLastStep())

        # Per-task training losses are summed on the device and read at logging time only,
        # so training steps add no host synchronisation.
        self._task_loss_sum = torch.zeros(len(self.task_names), device=self.args.device)
        self._task_loss_step_logged = 0

    def _get_eval_sampler(self, eval_dataset):
        """Keep evaluation and ``predict`` in dataset order, also when training groups rows by length.

        Trainer (transformers 5.25) length-groups the evaluation sampler too under
        ``train_sampling_strategy="group_by_length"``, which permutes the rows that ``predict``
        returns. Under several processes, None lets accelerate shard the data in order.
        """
        # NOTE: _get_eval_sampler is a private Trainer hook; check it when upgrading transformers.
        if eval_dataset is None or not has_length(eval_dataset) or self.args.world_size > 1:
            return None
        return SequentialSampler(eval_dataset)

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        """Collect the accumulation batches and count each task's labelled rows across them."""
        batch_samples, _ = super().get_batch_samples(epoch_iterator, num_batches, device)
        if not batch_samples or "labels" not in batch_samples[0]:
            return batch_samples, None

        label_counts = sum(batch["labels"].ne(IGNORE_INDEX).sum(dim=0) for batch in batch_samples)
        label_counts = label_counts.to(device)
        if self.accelerator.num_processes > 1:
            # Every process must divide by the same global count; DDP then averages the gradients.
            label_counts = self.accelerator.gather(label_counts.unsqueeze(0)).sum(dim=0)
        return batch_samples, label_counts

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | None = None,
    ):
        labels = inputs["labels"]
        outputs: MultiTaskOutput = model(**{key: value for key, value in inputs.items() if key != "labels"})
        weights = unwrap_multitask_model(model).task_loss_weights(labels.device)

        loss, task_losses = multitask_loss(outputs.logits, labels, weights, label_counts=num_items_in_batch)
        if num_items_in_batch is not None and self.accelerator.num_processes > 1:
            # DDP averages gradients over processes, but the loss above is already divided by the
            # global count, so undo the average.
            loss = loss * self.accelerator.num_processes
            task_losses = task_losses * self.accelerator.num_processes

        if model.training:
            self._task_loss_sum += task_losses.detach()
        outputs.loss, outputs.task_losses = loss, task_losses
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Return the loss, one logits tensor per task, and the ``(batch, num_tasks)`` labels."""
        inputs = self._prepare_inputs(inputs)
        labels = inputs.get("labels")

        with torch.no_grad(), self.compute_loss_context_manager():
            if labels is not None:
                loss, outputs = self.compute_loss(model, inputs, return_outputs=True)
                loss = loss.detach()
            else:
                loss, outputs = None, model(**inputs)

        if prediction_loss_only:
            return loss, None, None
        logits = tuple(task_logits.detach() for task_logits in outputs.logits)
        return loss, logits, labels

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:
            logs.update(self._pop_task_losses())
        logs.update(self.epoch_timer.pop_pending())
        super().log(logs, start_time)

    def _pop_task_losses(self) -> dict[str, float]:
        """Average the per-task training losses over the optimizer steps since the last log."""
        steps = self.state.global_step - self._task_loss_step_logged
        if steps <= 0:
            return {}
        task_loss_sum = self.accelerator.gather(self._task_loss_sum.unsqueeze(0)).mean(dim=0)
        self._task_loss_sum.zero_()
        self._task_loss_step_logged = self.state.global_step
        return {f"loss_{task}": value / steps for task, value in zip(self.task_names, task_loss_sum.tolist())}
