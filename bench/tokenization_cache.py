"""Time a run's data preparation with an empty tokenization cache (first run) and a filled one (second run).

Data preparation is what ``run_training`` does before building the Trainer, minus the model:
read and split the file (``load_splits``), then tokenize the three splits through the cache
(``tokenize_cached``). The tokenizer is loaded once outside the timing, because a run loads it
with the model either way. The two sides alternate; the first-run side gets a new, empty cache
folder every time.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from common import BenchResult, build_parser, configure, load_data, print_results, run_interleaved
from mtl_hf.caching import tokenize_cached
from mtl_hf.encoders import load_pretrained_tokenizer, resolve_lowercase
from mtl_hf.text import TextPreprocessing

logger = logging.getLogger("bench.tokenization_cache")

TARGET_RATIO = 0.2


def prepare(data: Path, tokenizer, preprocessing: TextPreprocessing, max_length: int, cache_dir: Path) -> tuple[float, float]:
    """Return the seconds of the whole preparation and of its tokenization step."""
    start = time.perf_counter()
    splits = load_data(data)
    tokenize_start = time.perf_counter()
    for frame in splits.frames().values():
        tokenize_cached(frame, splits.tasks, tokenizer, preprocessing, max_length, cache_dir)
    end = time.perf_counter()
    return end - start, end - tokenize_start


def main() -> None:
    parser = build_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm", help="Model whose tokenizer is used (minilm or a Hub id).")
    parser.add_argument("--rounds", type=int, default=3, help="Runs of each side, alternated.")
    args = parser.parse_args()
    configure(args)

    rounds = args.rounds if not args.quick else 1
    tokenizer = load_pretrained_tokenizer(args.model)
    preprocessing = TextPreprocessing(resolve_lowercase("auto", tokenizer))
    tokenize_seconds: dict[str, list[float]] = {"first": [], "second": []}

    with tempfile.TemporaryDirectory(prefix="mtl_hf_cache_bench_") as root:
        filled = Path(root) / "filled"
        prepare(args.data, tokenizer, preprocessing, args.max_length, filled)

        def first_run() -> float:
            with tempfile.TemporaryDirectory(dir=root) as empty:
                total, tokenizing = prepare(args.data, tokenizer, preprocessing, args.max_length, Path(empty))
            tokenize_seconds["first"].append(tokenizing)
            return total

        def second_run() -> float:
            total, tokenizing = prepare(args.data, tokenizer, preprocessing, args.max_length, filled)
            tokenize_seconds["second"].append(tokenizing)
            return total

        medians = run_interleaved({"first": first_run, "second": second_run}, rounds)

    ratio = medians["second"] / medians["first"]
    tokenize_first, tokenize_second = (sorted(values)[len(values) // 2] for values in tokenize_seconds.values())
    result = BenchResult(
        figure=f"second run's data preparation vs first ({args.data.name})",
        baseline=f"first run {medians['first']:.2f} s",
        candidate=f"second run {medians['second']:.2f} s",
        ratio=ratio,
        target=f"<= {TARGET_RATIO:.2f}",
        met=ratio <= TARGET_RATIO,
        details={
            "tokenization step alone (first, second)": f"{tokenize_first:.3f} s, {tokenize_second:.3f} s "
            f"(ratio {tokenize_second / tokenize_first:.3f})",
            "reading and splitting (both runs)": f"{medians['second'] - tokenize_second:.2f} s",
        },
    )
    print_results([result], args.result_json)


if __name__ == "__main__":
    main()
