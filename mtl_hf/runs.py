"""Run folders: a new folder per run that never replaces an earlier one, and the files written to it."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import yaml
from accelerate import PartialState
from accelerate.utils import broadcast_object_list

from .files import atomic_output

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
MODEL_DIR = "model"
CHECKPOINTS_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
MAX_NAME_ATTEMPTS = 1000


def _make_unique_dir(parent: Path, name: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(MAX_NAME_ATTEMPTS):
        candidate = parent / (name if attempt == 0 else f"{name}-{attempt + 1}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"Could not create a new run folder named {name} under {parent}: choose another --run_name.")


def create_run_dir(runs_dir: str | Path, name: str, timestamp: bool = True) -> Path:
    """Create a new run folder under ``runs_dir`` on the main process and return it on every process.

    The folder name is ``name`` plus the start time; a clash adds ``-2``, ``-3``, ..., so an
    earlier run is never reused.
    """
    state = PartialState()
    folder_name = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}" if timestamp else name
    path = [str(_make_unique_dir(Path(runs_dir), folder_name))] if state.is_main_process else [None]
    if state.num_processes > 1:
        broadcast_object_list(path, from_process=0)
    return Path(path[0])


def _json_ready(value):
    """Replace NaN and infinities, which JSON cannot represent, with None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    return value


def write_json(path: Path, content: dict, overwrite: bool = False) -> None:
    with atomic_output(path, overwrite=overwrite) as stream:
        json.dump(_json_ready(content), stream, indent=2, ensure_ascii=False)
        stream.write("\n")


def write_yaml(path: Path, content: dict, overwrite: bool = False) -> None:
    with atomic_output(path, overwrite=overwrite) as stream:
        yaml.safe_dump(content, stream, allow_unicode=True, sort_keys=False)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
