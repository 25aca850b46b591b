"""Train one run: ``accelerate launch scripts/train.py --config FILE.yaml [--OPTION VALUE ...]``.

A thin wrapper around :func:`mtl_hf.cli.train_main`, which ``mtl-hf train`` uses too.
"""

import sys

from mtl_hf.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
