"""Measure padding waste: real tokens over tokens processed in one training epoch.

Tokens processed are batch size times the padded length of each batch (the longest row rounded
up to a multiple of 8, as the training collator pads). The baseline is the Trainer's random
sampler. The candidate is transformers' LengthGroupedSampler (``train_sampling_strategy=
"group_by_length"``), which still shuffles but puts rows of similar length in the same batch.
"""

from __future__ import annotations

import logging
import math
import statistics

import torch
from transformers.trainer_pt_utils import LengthGroupedSampler

from common import BenchResult, build_parser, configure, load_data, print_results
from mtl_hf.data import tokenize_frame
from mtl_hf.encoders import load_pretrained_tokenizer, resolve_lowercase
from mtl_hf.text import TextPreprocessing
from mtl_hf.training import PAD_TO_MULTIPLE_OF

logger = logging.getLogger("bench.padding")

TARGET_RATIO = 0.85
SEEDS = (0, 1, 2)


def padded_length(lengths: list[int]) -> int:
    return math.ceil(max(lengths) / PAD_TO_MULTIPLE_OF) * PAD_TO_MULTIPLE_OF


def real_token_share(lengths: list[int], order: list[int], batch_size: int) -> float:
    """Return real tokens / processed tokens when the rows are batched in ``order``."""
    real = processed = 0
    for start in range(0, len(order), batch_size):
        batch = [lengths[index] for index in order[start : start + batch_size]]
        real += sum(batch)
        processed += len(batch) * padded_length(batch)
    return real / processed


def random_order(size: int, seed: int) -> list[int]:
    return torch.randperm(size, generator=torch.Generator().manual_seed(seed)).tolist()


def grouped_order(lengths: list[int], batch_size: int, seed: int) -> list[int]:
    sampler = LengthGroupedSampler(batch_size, lengths=lengths, generator=torch.Generator().manual_seed(seed))
    return list(sampler)


def main() -> None:
    parser = build_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm", help="Model whose tokenizer counts the tokens (minilm or a Hub id).")
    args = parser.parse_args()
    configure(args)

    splits = load_data(args.data, max_rows=None if not args.quick else 400)
    tokenizer = load_pretrained_tokenizer(args.model)
    preprocessing = TextPreprocessing(resolve_lowercase("auto", tokenizer))
    lengths = tokenize_frame(splits.train, splits.tasks, tokenizer, preprocessing, args.max_length)["length"]

    random_share = statistics.median(real_token_share(lengths, random_order(len(lengths), seed), args.batch_size) for seed in SEEDS)
    grouped_share = statistics.median(
        real_token_share(lengths, grouped_order(lengths, args.batch_size, seed), args.batch_size) for seed in SEEDS
    )
    result = BenchResult(
        figure=f"real / processed tokens in training ({args.data.name}, batch {args.batch_size}, max_length {args.max_length})",
        baseline=f"random batches: {random_share:.3f}",
        candidate=f"length-grouped batches: {grouped_share:.3f}",
        ratio=grouped_share,
        target=f">= {TARGET_RATIO:.2f}",
        met=grouped_share >= TARGET_RATIO,
        details={
            "training rows": len(lengths),
            "mean tokens per row": round(statistics.mean(lengths), 1),
            "rows truncated at max_length": sum(length == args.max_length for length in lengths),
        },
    )
    print_results([result], args.result_json)


if __name__ == "__main__":
    main()
