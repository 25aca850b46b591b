"""Time multi-task training (sentiment and topic heads) against single-task training (sentiment only).

Both use the same encoder weights, the same batches in the same order and MultiTaskTrainer; the
only difference is the second head and its labels. One encoder pass serves every head, so the
extra cost is one small linear layer and one cross-entropy. An epoch has the same number of
steps on both sides, so the per-step ratio is also the per-epoch ratio.
"""

from __future__ import annotations

import copy
import logging
import math

from common import BenchResult, build_parser, configure, load_data, print_results, run_interleaved, time_trainer_steps
from mtl_hf.data import tokenize_frame
from mtl_hf.modeling import BertForMultiTask
from trainer_vs_loop import build_model

logger = logging.getLogger("bench.multitask_vs_single")

TARGET_RATIO = 1.05
SINGLE_TASK = "sentiment"


def single_task_copy(model: BertForMultiTask, task: str) -> BertForMultiTask:
    """Return a model with the same encoder weights as ``model`` and only ``task``'s head."""
    config = copy.deepcopy(model.config)
    config.tasks = {task: model.config.tasks[task]}
    single = BertForMultiTask(config)
    single.bert.load_state_dict(model.bert.state_dict())
    single.heads[task].load_state_dict(model.heads[task].state_dict())
    return single


def main() -> None:
    parser = build_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm", help="minilm, or a ladder size built from scratch.")
    parser.add_argument("--steps", type=int, default=5, help="Timed optimizer steps per run.")
    parser.add_argument("--rounds", type=int, default=3, help="Runs of each side, alternated.")
    args = parser.parse_args()
    configure(args)

    steps, warmup_steps, rounds = (args.steps, 2, args.rounds) if not args.quick else (3, 1, 1)
    model_name = args.model if not args.quick else "tiny"
    splits = load_data(args.data, max_rows=None if not args.quick else 400)
    multi_model, tokenizer, preprocessing = build_model(model_name, splits, args.max_length)
    single_model = single_task_copy(multi_model, SINGLE_TASK)

    single_tasks = [task for task in splits.tasks if task.name == SINGLE_TASK]
    multi_data = tokenize_frame(splits.train, splits.tasks, tokenizer, preprocessing, args.max_length)
    single_data = tokenize_frame(splits.train, single_tasks, tokenizer, preprocessing, args.max_length)

    medians = run_interleaved(
        {
            "single": lambda: time_trainer_steps(single_model, single_data, tokenizer, args.batch_size, steps, warmup_steps),
            "multi": lambda: time_trainer_steps(multi_model, multi_data, tokenizer, args.batch_size, steps, warmup_steps),
        },
        rounds,
    )
    steps_per_epoch = math.ceil(len(multi_data) / args.batch_size)
    ratio = medians["multi"] / medians["single"]
    result = BenchResult(
        figure=f"multi-task vs single-task training time per epoch ({model_name}, batch {args.batch_size})",
        baseline=f"{SINGLE_TASK} only: {medians['single'] * steps_per_epoch:.1f} s/epoch",
        candidate=f"sentiment+topic: {medians['multi'] * steps_per_epoch:.1f} s/epoch",
        ratio=ratio,
        target=f"<= {TARGET_RATIO:.2f}",
        met=ratio <= TARGET_RATIO,
        details={
            "training rows": len(multi_data),
            "rows labelled for sentiment": sum(row[0] != -100 for row in single_data["labels"]),
            "steps per epoch": steps_per_epoch,
            "seconds per step (single, multi)": f"{medians['single']:.4f}, {medians['multi']:.4f}",
            "steps timed per run": f"{steps} after {warmup_steps} warm-up, {rounds} rounds",
        },
    )
    print_results([result], args.result_json)


if __name__ == "__main__":
    main()
