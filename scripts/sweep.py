"""Run a sweep: ``accelerate launch scripts/sweep.py --config SWEEP.yaml [--OPTION VALUE ...]``.

A thin wrapper around the ``mtl-hf sweep`` command, so that every run of the sweep trains on all
the processes that ``accelerate launch`` starts.
"""

from mtl_hf.sweep import sweep_command

if __name__ == "__main__":
    sweep_command(prog_name="sweep.py")
