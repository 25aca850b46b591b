"""Wall-clock timing of training epochs, reported through the Trainer's logs."""

from __future__ import annotations

import time

from transformers import TrainerCallback


class EpochTimer(TrainerCallback):
    """Measure the wall-clock seconds of each training epoch, evaluation excluded.

    The Trainer calls ``on_epoch_end`` before it evaluates, so the time covers training steps only.
    Finished timings wait in :attr:`pending` until :class:`mtl_hf.trainer.MultiTaskTrainer` adds
    them to its next log call, which sends them to TensorBoard and ``log_history``.
    """

    def __init__(self) -> None:
        self.epoch_seconds: list[float] = []
        self.pending: dict[str, float] = {}
        self._epoch_start: float | None = None

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kwargs):
        if self._epoch_start is None:
            return
        seconds = time.perf_counter() - self._epoch_start
        self._epoch_start = None
        self.epoch_seconds.append(seconds)
        self.pending["epoch_time_s"] = seconds

    def pop_pending(self) -> dict[str, float]:
        pending, self.pending = self.pending, {}
        return pending
