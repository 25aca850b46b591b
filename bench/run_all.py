"""Run every benchmark, each in its own process so that its peak memory is its own, and print one table.

Options after the known ones (for example ``--threads 1``) are passed to every script.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

BENCH_DIR = Path(__file__).resolve().parent
SCRIPTS = (
    "multitask_vs_single.py",
    "trainer_vs_loop.py",
    "padding.py",
    "tokenization_cache.py",
    "predict_vs_loop.py",
    "flops.py",
)


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the platform's processor string."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def run_script(script: str, passed: list[str], result_json: Path) -> tuple[list[dict], float, str]:
    """Run one benchmark script; return its result rows, its wall time and the tail of its output."""
    command = [sys.executable, str(BENCH_DIR / script), *passed, "--result_json", str(result_json)]
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-3:])
    if completed.returncode != 0 or not result_json.is_file():
        return [], seconds, tail
    return json.loads(result_json.read_text(encoding="utf-8")), seconds, tail


MET_LABELS = {None: "n/a", True: "yes", False: "**no**"}


def print_table(rows: list[tuple[str, dict]]) -> None:
    print("| Script | Figure | Baseline | Candidate | Ratio | Target | Met |")
    print("|---|---|---|---|---|---|---|")
    for script, row in rows:
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.3f}"
        met = MET_LABELS[row["met"]]
        print(f"| {script} | {row['figure']} | {row['baseline']} | {row['candidate']} | {ratio} | {row['target']} | {met} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Run the tiny version of every benchmark.")
    parser.add_argument("--only", help="Comma-separated script names to run (default: all).")
    args, passed = parser.parse_known_args()
    if args.quick:
        passed = ["--quick", *passed]
    scripts = SCRIPTS
    if args.only:
        scripts = [name if name.endswith(".py") else f"{name}.py" for name in args.only.split(",")]

    rows: list[tuple[str, dict]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mtl_hf_bench_results_") as folder:
        for script in scripts:
            print(f"running {script} ...", file=sys.stderr, flush=True)
            results, seconds, tail = run_script(script, passed, Path(folder) / f"{script}.json")
            if not results:
                notes.append(f"{script}: no result ({seconds:.0f} s). Last output:\n{tail}")
            for result in results:
                rows.append((script, result))
                notes.extend(f"{script}: {key}: {value}" for key, value in result["details"].items())
            print(f"{script} took {seconds:.0f} s", file=sys.stderr, flush=True)

    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} torch threads by default; torch {torch.__version__}")
    print(f"Arguments passed to every script: {' '.join(passed) or '(none)'}")
    print()
    print_table(rows)
    print()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
