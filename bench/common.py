"""Helpers shared by the benchmark scripts: data, models, interleaved timing, memory and results.

Every script compares a candidate with its baseline in the same process, alternating them
(A B A B ...) and taking medians, so that load from other processes hits both sides alike.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from transformers import TrainerCallback

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from mtl_hf.data import MultiTaskCollator, load_splits  # noqa: E402
from mtl_hf.settings import DataArguments, MultiTaskTrainingArguments  # noqa: E402
from mtl_hf.trainer import MultiTaskTrainer  # noqa: E402
from mtl_hf.training import PAD_TO_MULTIPLE_OF  # noqa: E402

logger = logging.getLogger(__name__)

REAL_TWEETS = REPO_ROOT.parent / "shared" / "data" / "tr_covid_tweets_2020_05.csv"
SAMPLE_TWEETS = REPO_ROOT / "mtl_hf" / "sample_data" / "turkish_news_tweets.csv"
TASKS = ("sentiment", "topic")
LEARNING_RATE = 5e-5
MATMUL_SIZE = 1024
MIB = 1024 * 1024


@dataclass
class BenchResult:
    """One row of the benchmark table: the figure, both measurements, their ratio and the target."""

    figure: str
    baseline: str
    candidate: str
    ratio: float | None
    target: str
    met: bool | None
    details: dict = field(default_factory=dict)


def default_data() -> Path:
    return REAL_TWEETS if REAL_TWEETS.is_file() else SAMPLE_TWEETS


def build_parser(description: str) -> argparse.ArgumentParser:
    """Return a parser with the options every benchmark shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="Run a tiny version that finishes in seconds.")
    parser.add_argument(
        "--data",
        type=Path,
        default=default_data(),
        help="Labelled tweets (default: the real tweets beside the checkout when present, else the shipped sample).",
    )
    parser.add_argument("--max_length", type=int, default=64, help="Maximum tokens per text.")
    parser.add_argument("--batch_size", type=int, default=32, help="Training batch size.")
    parser.add_argument("--result_json", type=Path, help="Also write the result rows to this JSON file.")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's choice, one per core). On a CPU shared with other "
        "processes, 1 avoids threads waiting on each other.",
    )
    return parser


def load_data(data: Path, max_rows: int | None = None, tasks: tuple[str, ...] = TASKS):
    """Read and split ``data`` the way a training run does."""
    return load_splits(DataArguments(data=str(data), max_rows=max_rows), tasks)


def run_interleaved(candidates: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Call each measurement once per round, in turn, and return each one's median."""
    values: dict[str, list[float]] = {name: [] for name in candidates}
    for round_index in range(rounds):
        for name, measure in candidates.items():
            value = measure()
            values[name].append(value)
            logger.info("round %d %s: %.4f", round_index + 1, name, value)
    return {name: statistics.median(samples) for name, samples in values.items()}


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_matmul_flops(size: int = MATMUL_SIZE, seconds: float = 1.0) -> float:
    """Return the float32 FLOP/s of repeated square matrix products on this machine, now."""
    left, right = torch.randn(size, size), torch.randn(size, size)
    torch.mm(left, right)

    repeats, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(left, right)
        repeats += 1
    elapsed = time.perf_counter() - start
    return 2 * size**3 * repeats / elapsed


class StepClock(TrainerCallback):
    """Record the wall-clock time at the end of every optimizer step."""

    def __init__(self) -> None:
        self.step_ends: list[float] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.step_ends.append(time.perf_counter())


def seconds_per_step(step_ends: list[float], warmup_steps: int) -> float:
    """Return the mean step time after the warm-up steps."""
    timed = step_ends[warmup_steps - 1 :] if warmup_steps else step_ends
    return (timed[-1] - timed[0]) / (len(timed) - 1)


def bench_training_arguments(output_dir: str, batch_size: int, max_steps: int, **overrides) -> MultiTaskTrainingArguments:
    """Training arguments that train ``max_steps`` steps in a fixed batch order, without saving or evaluating."""
    values = dict(
        output_dir=output_dir,
        per_device_train_batch_size=batch_size,
        max_steps=max_steps,
        learning_rate=LEARNING_RATE,
        train_sampling_strategy="sequential",
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="no",
        load_best_model_at_end=False,
        report_to=[],
        disable_tqdm=True,
    )
    values.update(overrides)
    return MultiTaskTrainingArguments(**values)


def time_trainer_steps(model, dataset, tokenizer, batch_size: int, steps: int, warmup_steps: int, **overrides) -> float:
    """Train a copy of ``model`` with MultiTaskTrainer and return seconds per optimizer step."""
    clock = StepClock()
    with tempfile.TemporaryDirectory(prefix="mtl_hf_bench_") as output_dir:
        args = bench_training_arguments(output_dir, batch_size, steps + warmup_steps, **overrides)
        trainer = MultiTaskTrainer(
            model=copy.deepcopy(model),
            args=args,
            train_dataset=dataset,
            data_collator=MultiTaskCollator(tokenizer, pad_to_multiple_of=PAD_TO_MULTIPLE_OF),
            processing_class=tokenizer,
            callbacks=[clock],
        )
        trainer.train()
    return seconds_per_step(clock.step_ends, warmup_steps)


VERDICTS = {None: "n/a", True: "met", False: "MISSED"}


def print_results(results: list[BenchResult], result_json: Path | None) -> None:
    """Print each result, with its ratio on the last line, and write them as JSON when asked."""
    for result in results:
        for key, value in result.details.items():
            print(f"  {key}: {value}")
        print(f"{result.figure}: baseline {result.baseline}; candidate {result.candidate}")
        verdict = VERDICTS[result.met]
        ratio = "n/a" if result.ratio is None else f"{result.ratio:.3f}"
        print(f"ratio: {ratio} (target {result.target}, {verdict})")
    if result_json is not None:
        result_json.write_text(json.dumps([asdict(result) for result in results], indent=2), encoding="utf-8")


def configure(args: argparse.Namespace) -> None:
    """Set up logging and the torch thread count from the shared options."""
    if args.threads:
        torch.set_num_threads(args.threads)
    configure_logging()


def configure_logging() -> None:
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", level=logging.INFO, stream=sys.stderr)
    for name in ("mtl_hf", "transformers", "datasets"):
        logging.getLogger(name).setLevel(logging.WARNING)
