"""Compare the throughput of ``mtl_hf.inference.Predictor`` with a bare batched forward loop.

Both get the same model, tokenizer, texts and batch size. The bare loop tokenizes each batch with
dynamic padding and runs the model under ``torch.inference_mode``, and does nothing else. The
Predictor also applies the text preprocessing, the softmax and the label names. The ratio is
Predictor texts per second over loop texts per second. When ``mtl_hf.inference`` is missing,
the script prints "not available" and exits without a ratio.
"""

from __future__ import annotations

import logging
import time

import torch

from common import BenchResult, build_parser, configure, load_data, peak_rss_mib, print_results, run_interleaved
from trainer_vs_loop import build_model

logger = logging.getLogger("bench.predict_vs_loop")

TARGET_RATIO = 0.90


@torch.inference_mode()
def bare_loop(model, tokenizer, texts: list[str], batch_size: int, max_length: int) -> float:
    """Return texts per second of a plain tokenize-and-forward loop."""
    model.eval()
    start = time.perf_counter()
    for first in range(0, len(texts), batch_size):
        batch = tokenizer(
            texts[first : first + batch_size], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        model(**batch)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = build_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm", help="minilm, or a ladder size built from scratch.")
    parser.add_argument("--texts", type=int, default=512, help="Texts predicted per run.")
    parser.add_argument("--rounds", type=int, default=2, help="Runs of each side, alternated.")
    args = parser.parse_args()
    configure(args)

    try:
        from mtl_hf.inference import Predictor
    except ImportError as error:
        print(f"predict vs bare loop: not available ({error}); nothing measured")
        return

    model_name, text_count, rounds = (args.model, args.texts, args.rounds) if not args.quick else ("micro", 128, 1)
    splits = load_data(args.data, max_rows=None if not args.quick else 400)
    model, tokenizer, preprocessing = build_model(model_name, splits, args.max_length)
    model.config.text_preprocessing = preprocessing.to_dict()
    tokenizer.model_max_length = args.max_length

    all_texts = list(splits.train["text"])
    texts = (all_texts * (text_count // len(all_texts) + 1))[:text_count]
    prepared = [preprocessing(text) for text in texts]
    predictor = Predictor(model, tokenizer, batch_size=args.batch_size)

    def predictor_run() -> float:
        start = time.perf_counter()
        predictor.predict_texts(texts)
        return len(texts) / (time.perf_counter() - start)

    medians = run_interleaved(
        {
            "loop": lambda: bare_loop(model, tokenizer, prepared, args.batch_size, args.max_length),
            "predictor": predictor_run,
        },
        rounds,
    )
    ratio = medians["predictor"] / medians["loop"]
    result = BenchResult(
        figure=f"predict throughput vs bare forward loop ({model_name}, batch {args.batch_size}, {len(texts)} texts)",
        baseline=f"loop {medians['loop']:.1f} texts/s",
        candidate=f"Predictor {medians['predictor']:.1f} texts/s",
        ratio=ratio,
        target=f">= {TARGET_RATIO:.2f}",
        met=ratio >= TARGET_RATIO,
        details={"peak RSS of this process (MiB)": round(peak_rss_mib())},
    )
    print_results([result], args.result_json)


if __name__ == "__main__":
    main()
