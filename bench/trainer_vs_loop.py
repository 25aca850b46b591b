"""Time one optimizer step of MultiTaskTrainer against a bare PyTorch loop doing the same work.

Both start from the same weights and see the same batches in the same order (sequential
sampling, the same collator). The bare loop does what the Trainer's step does: forward with the
multi-task loss, backward, gradient clipping to norm 1, AdamW and a linear learning-rate decay.
The ratio is Trainer seconds per step over loop seconds per step.
"""

from __future__ import annotations

import copy
import logging
import time

import torch
from torch.utils.data import DataLoader
from transformers import get_linear_schedule_with_warmup

from common import (
    LEARNING_RATE,
    BenchResult,
    build_parser,
    configure,
    load_data,
    peak_rss_mib,
    print_results,
    run_interleaved,
    time_trainer_steps,
)
from mtl_hf.data import MultiTaskCollator
from mtl_hf.encoders import build_scratch_encoder, load_pretrained_encoder, load_pretrained_tokenizer, resolve_lowercase
from mtl_hf.text import TextPreprocessing
from mtl_hf.data import tokenize_frame
from mtl_hf.training import PAD_TO_MULTIPLE_OF

logger = logging.getLogger("bench.trainer_vs_loop")

MAX_GRAD_NORM = 1.0
TARGET_RATIO = 1.10


def time_bare_loop(model, dataset, tokenizer, batch_size: int, steps: int, warmup_steps: int) -> float:
    """Train a copy of ``model`` with a hand-written loop and return seconds per step after warm-up."""
    model = copy.deepcopy(model).train()
    loader = DataLoader(
        dataset.remove_columns(["length"]).with_format(None),
        batch_size=batch_size,
        shuffle=False,
        collate_fn=MultiTaskCollator(tokenizer, pad_to_multiple_of=PAD_TO_MULTIPLE_OF),
    )
    total_steps = steps + warmup_steps
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.0)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, total_steps)

    step_ends = []
    for step, batch in enumerate(loader):
        if step == total_steps:
            break
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step_ends.append(time.perf_counter())
    return (step_ends[-1] - step_ends[warmup_steps - 1]) / steps


def build_model(name: str, splits, max_length: int):
    """Return a model, tokenizer and preprocessing: ``minilm`` pretrained, or a ladder size from scratch."""
    tasks = {task.name: list(task.labels) for task in splits.tasks}
    if name == "minilm":
        tokenizer = load_pretrained_tokenizer(name)
        preprocessing = TextPreprocessing(resolve_lowercase("auto", tokenizer))
        return load_pretrained_encoder(name, tasks), tokenizer, preprocessing

    preprocessing = TextPreprocessing(resolve_lowercase("auto", None))
    texts = [preprocessing(text) for text in splits.train["text"]]
    model, tokenizer = build_scratch_encoder(name, tasks, texts, vocab_size=8000, max_length=max_length)
    return model, tokenizer, preprocessing


def measure_model(name: str, args, splits, steps: int, warmup_steps: int, rounds: int) -> BenchResult:
    model, tokenizer, preprocessing = build_model(name, splits, args.max_length)
    dataset = tokenize_frame(splits.train, splits.tasks, tokenizer, preprocessing, args.max_length)

    medians = run_interleaved(
        {
            "loop": lambda: time_bare_loop(model, dataset, tokenizer, args.batch_size, steps, warmup_steps),
            "trainer": lambda: time_trainer_steps(model, dataset, tokenizer, args.batch_size, steps, warmup_steps),
        },
        rounds,
    )
    ratio = medians["trainer"] / medians["loop"]
    return BenchResult(
        figure=f"MultiTaskTrainer s/step vs bare loop ({name}, batch {args.batch_size})",
        baseline=f"{medians['loop']:.4f} s/step",
        candidate=f"{medians['trainer']:.4f} s/step",
        ratio=ratio,
        target=f"<= {TARGET_RATIO:.2f}" if name == "minilm" else "reported",
        met=ratio <= TARGET_RATIO if name == "minilm" else None,
        details={
            f"{name} attention": model.config._attn_implementation,
            f"{name} torch threads": torch.get_num_threads(),
            f"{name} steps timed per run": f"{steps} after {warmup_steps} warm-up, {rounds} rounds",
            f"peak RSS after {name} (MiB)": round(peak_rss_mib()),
        },
    )


def main() -> None:
    parser = build_parser(__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny,minilm", help="Comma-separated models: minilm and/or ladder sizes (scratch).")
    parser.add_argument("--steps", type=int, default=5, help="Timed optimizer steps per run.")
    parser.add_argument("--rounds", type=int, default=3, help="Runs of each side, alternated.")
    args = parser.parse_args()
    configure(args)

    steps, warmup_steps, rounds = (args.steps, 2, args.rounds) if not args.quick else (3, 1, 1)
    models = args.models.split(",") if not args.quick else ["tiny"]
    splits = load_data(args.data, max_rows=None if not args.quick else 400)

    results = [measure_model(name, args, splits, steps, warmup_steps, rounds) for name in models]
    print_results(results, args.result_json)


if __name__ == "__main__":
    main()
