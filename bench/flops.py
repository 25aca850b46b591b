"""Compare the training FLOP/s achieved per ladder size with this machine's matmul FLOP/s, measured now.

Each ladder size is built from scratch (random weights, WordPiece tokenizer trained on the
training texts) and trained with MultiTaskTrainer on the real batches in a fixed order. The
FLOPs of a step are an estimate from the padded batch shape. The encoder's matrix products count
6 FLOPs per weight per token (forward 2, backward 4). The attention scores and weighted sums add
6 x 2 x layers x sequence length x hidden size per token. Embedding lookups, layer norms,
softmax and the optimizer are not counted, so the figure understates the work done. The matmul
probe runs before and after the sizes, and the ratio uses the mean of the two.
"""

from __future__ import annotations

import logging
import math

from common import (
    BenchResult,
    build_parser,
    configure,
    load_data,
    measure_matmul_flops,
    print_results,
    time_trainer_steps,
)
from mtl_hf.data import tokenize_frame
from mtl_hf.training import PAD_TO_MULTIPLE_OF
from trainer_vs_loop import build_model

logger = logging.getLogger("bench.flops")

TRAINING_FLOPS_PER_WEIGHT = 6  # forward 2, backward 4, per token
GIGA = 1e9


def step_flops(config, batch_lengths: list[int]) -> float:
    """Estimate the training FLOPs of one batch from its padded shape."""
    hidden, layers = config.hidden_size, config.num_hidden_layers
    sequence = math.ceil(max(batch_lengths) / PAD_TO_MULTIPLE_OF) * PAD_TO_MULTIPLE_OF
    tokens = len(batch_lengths) * sequence
    # Per layer: query, key, value and output projections (4 h^2) and the feed-forward pair (2 h x intermediate).
    matmul_weights = layers * (4 * hidden * hidden + 2 * hidden * config.intermediate_size)
    attention = 2 * layers * sequence * hidden
    return TRAINING_FLOPS_PER_WEIGHT * (matmul_weights + attention) * tokens


def mean_step_flops(config, lengths: list[int], batch_size: int, first_step: int, steps: int) -> float:
    """Mean estimated FLOPs over the timed steps of a sequential pass over ``lengths``."""
    batches = [lengths[start : start + batch_size] for start in range(0, len(lengths), batch_size)]
    timed = [batches[index % len(batches)] for index in range(first_step, first_step + steps)]
    return sum(step_flops(config, batch) for batch in timed) / steps


def main() -> None:
    parser = build_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="micro,tiny,mini,small,medium,base", help="Comma-separated ladder sizes.")
    parser.add_argument("--steps", type=int, default=3, help="Timed optimizer steps per size.")
    args = parser.parse_args()
    configure(args)

    sizes = args.sizes.split(",") if not args.quick else ["micro", "tiny"]
    steps, warmup_steps = (args.steps, 1) if not args.quick else (2, 1)
    splits = load_data(args.data, max_rows=None if not args.quick else 400)

    probe_before = measure_matmul_flops()
    achieved = {}
    for size in sizes:
        model, tokenizer, preprocessing = build_model(size, splits, args.max_length)
        dataset = tokenize_frame(splits.train, splits.tasks, tokenizer, preprocessing, args.max_length)
        seconds = time_trainer_steps(model, dataset, tokenizer, args.batch_size, steps, warmup_steps)
        flops = mean_step_flops(model.config, dataset["length"], args.batch_size, warmup_steps, steps)
        achieved[size] = flops / seconds
        logger.info("%s: %.3f s/step, %.2f GFLOP/s", size, seconds, achieved[size] / GIGA)
    probe = (probe_before + measure_matmul_flops()) / 2

    results = [
        BenchResult(
            figure=f"training FLOP/s vs matmul FLOP/s ({size} from scratch, batch {args.batch_size})",
            baseline=f"matmul {probe / GIGA:.1f} GFLOP/s",
            candidate=f"training {achieved[size] / GIGA:.1f} GFLOP/s (estimate)",
            ratio=achieved[size] / probe,
            target="reported",
            met=None,
        )
        for size in sizes
    ]
    results[0].details = {
        "matmul probe before, after (GFLOP/s)": f"{probe_before / GIGA:.1f}, {2 * probe / GIGA - probe_before / GIGA:.1f}"
    }
    print_results(results, args.result_json)


if __name__ == "__main__":
    main()
