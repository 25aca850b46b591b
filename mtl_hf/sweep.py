"""The experiment sweep: models x modes x adapters, each a run folder under one sweep folder.

A sweep file is a training settings file (``model:``, ``data:``, ``training:`` sections shared by
every run) with one more section::

    sweep:
      name: ladder                     # folder under --runs_dir that contains every run
      models: [tiny, mini, minilm]     # or {model: tiny, from_scratch: true}
      modes: [sentiment, topic, multitask]
      lora_ranks: [0, 8]               # 0 = full fine-tuning

Every run uses the same data, split and seed, so that the runs differ only in model, mode and
adapter. Running the same sweep again skips the runs that finished (their folder has
``metrics.json``), resumes an unfinished run from its last checkpoint, and starts the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import click
import yaml

from .runs import CHECKPOINTS_DIR, CONFIG_FILE, METRICS_FILE
from .settings import SettingsError, flatten_sections, parse_settings

logger = logging.getLogger(__name__)

SWEEP_SECTION = "sweep"
MULTITASK_MODE = "multitask"
FULL_FINE_TUNING = "full"
DEFAULT_SWEEP_NAME = "sweep"
SWEEP_KEYS = ("name", "models", "modes", "lora_ranks")


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: which encoder, which tasks, which adapter."""

    model: str
    from_scratch: bool
    mode: str
    lora_r: int

    @property
    def adapter(self) -> str:
        return f"lora{self.lora_r}" if self.lora_r else FULL_FINE_TUNING

    @property
    def name(self) -> str:
        model = Path(self.model).name.replace("/", "--")
        scratch = "-scratch" if self.from_scratch else ""
        return f"{model}{scratch}-{self.mode}-{self.adapter}"


@dataclass
class SweepPlan:
    """A parsed sweep file: the sweep folder, its runs in order, and the settings they share."""

    sweep_dir: Path
    runs: list[SweepRun]
    config_path: Path
    shared_values: dict


def _split_sweep_section(config_path: Path) -> tuple[dict, dict]:
    """Return the ``sweep:`` section and the rest of the file (the shared training settings)."""
    if not config_path.is_file():
        raise SettingsError(f"Sweep file {config_path} not found. Pass the path of a YAML file to --config.")
    content = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    if not isinstance(content, dict) or not isinstance(content.get(SWEEP_SECTION), dict):
        raise SettingsError(
            f"Sweep file {config_path} needs a '{SWEEP_SECTION}:' section with models, modes and lora_ranks."
        )
    section = content.pop(SWEEP_SECTION)
    unknown = sorted(set(section) - set(SWEEP_KEYS))
    if unknown:
        raise SettingsError(f"{config_path}: unknown key(s) {', '.join(unknown)} in '{SWEEP_SECTION}:'; use {', '.join(SWEEP_KEYS)}.")
    return section, content


def _parse_models(entries, config_path: Path, default_scratch: bool) -> list[tuple[str, bool]]:
    if not isinstance(entries, list) or not entries:
        raise SettingsError(f"{config_path}: 'sweep: models' must be a non-empty list, e.g. [tiny, minilm].")
    models = []
    for entry in entries:
        if isinstance(entry, str):
            models.append((entry, default_scratch))
        elif isinstance(entry, dict) and isinstance(entry.get("model"), str):
            models.append((entry["model"], bool(entry.get("from_scratch", default_scratch))))
        else:
            raise SettingsError(
                f"{config_path}: invalid model entry {entry!r}: give a name or {{model: NAME, from_scratch: true}}."
            )
    return models


def _parse_modes(entries, config_path: Path, task_names: tuple[str, ...]) -> list[str]:
    allowed = (*task_names, MULTITASK_MODE)
    if not isinstance(entries, list) or not entries:
        raise SettingsError(f"{config_path}: 'sweep: modes' must be a non-empty list of {', '.join(allowed)}.")
    for mode in entries:
        if mode not in allowed:
            raise SettingsError(f"{config_path}: invalid mode {mode!r}: choose from {', '.join(allowed)}.")
    return list(entries)


def _parse_ranks(entries, config_path: Path) -> list[int]:
    if not isinstance(entries, list) or not entries:
        raise SettingsError(f"{config_path}: 'sweep: lora_ranks' must be a non-empty list, e.g. [0, 8] (0 = full).")
    for rank in entries:
        if not isinstance(rank, int) or isinstance(rank, bool) or rank < 0:
            raise SettingsError(f"{config_path}: invalid LoRA rank {rank!r}: give 0 (full fine-tuning) or a positive rank.")
    return list(entries)


def load_sweep(config_path: str | Path, runs_dir: str | Path | None = None) -> SweepPlan:
    """Read a sweep file and list its runs: every model x mode x LoRA rank, in the file's order."""
    config_path = Path(config_path)
    section, _ = _split_sweep_section(config_path)
    shared_values = read_config_file_without_sweep(config_path)
    shared = parse_settings(**shared_values)

    models = _parse_models(section.get("models"), config_path, shared.model.from_scratch)
    modes = _parse_modes(section.get("modes", [*shared.data.task_names, MULTITASK_MODE]), config_path, shared.data.task_names)
    ranks = _parse_ranks(section.get("lora_ranks", [0]), config_path)

    runs = [
        SweepRun(model=model, from_scratch=scratch, mode=mode, lora_r=rank)
        for model, scratch in models
        for mode in modes
        for rank in ranks
    ]
    sweep_dir = Path(runs_dir or shared.training.runs_dir) / str(section.get("name", DEFAULT_SWEEP_NAME))
    return SweepPlan(sweep_dir=sweep_dir, runs=runs, config_path=config_path, shared_values=shared_values)


def read_config_file_without_sweep(config_path: Path) -> dict:
    """Read the shared training settings of a sweep file, leaving out its ``sweep:`` section."""
    _, rest = _split_sweep_section(config_path)
    return flatten_sections(rest, source=str(config_path))


def run_values(plan: SweepPlan, run: SweepRun) -> dict:
    """Return the settings of one run: the shared ones with its model, tasks, adapter and folder."""
    values = dict(plan.shared_values)
    all_tasks = parse_settings(**plan.shared_values).data.tasks
    values.update(
        model=run.model,
        from_scratch=run.from_scratch,
        tasks=all_tasks if run.mode == MULTITASK_MODE else run.mode,
        lora_r=run.lora_r,
        runs_dir=str(plan.sweep_dir),
        run_name=run.name,
        resume_run=None,
    )
    return values


def existing_runs(sweep_dir: Path) -> dict[str, list[Path]]:
    """Map each run name found under ``sweep_dir`` to its folders, oldest first."""
    found: dict[str, list[Path]] = {}
    if not sweep_dir.is_dir():
        return found
    for config_file in sorted(sweep_dir.glob(f"*/{CONFIG_FILE}")):
        config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        name = (config.get("training") or {}).get("run_name")
        if name:
            found.setdefault(name, []).append(config_file.parent)
    return found


def run_state(folders: list[Path]) -> tuple[str, Path | None]:
    """Return 'finished', 'resumable' (with the folder to resume) or 'new' for one run's folders."""
    for folder in folders:
        if (folder / METRICS_FILE).is_file():
            return "finished", folder
    for folder in reversed(folders):
        if any((folder / CHECKPOINTS_DIR).glob("checkpoint-*")):
            return "resumable", folder
    return "new", None


def run_sweep(plan: SweepPlan, overrides: list[str] | None = None) -> list[Path]:
    """Train every run of ``plan`` that has not finished and return all finished run folders.

    A folder left by an interrupted run without a checkpoint is kept as it is; the run starts
    again in a new folder.
    """
    from .training import run_training  # imported late so that --help stays fast

    finished = []
    found = existing_runs(plan.sweep_dir)
    for index, run in enumerate(plan.runs, start=1):
        state, folder = run_state(found.get(run.name, []))
        if state == "finished":
            logger.info("[%d/%d] %s finished earlier in %s; skipped", index, len(plan.runs), run.name, folder)
            finished.append(folder)
            continue

        values = run_values(plan, run)
        if state == "resumable":
            logger.info("[%d/%d] %s resumes from %s", index, len(plan.runs), run.name, folder)
            values["resume_run"] = str(folder)
        else:
            logger.info("[%d/%d] %s starts", index, len(plan.runs), run.name)
        result = run_training(parse_settings(None, overrides, **values))
        finished.append(result.run_dir)
    return finished


@click.command(
    "sweep",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Sweep YAML file.")
@click.option("--runs_dir", default=None, help="Folder that gets the sweep folder; default: training.runs_dir of the file.")
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
def sweep_command(config_path: str, runs_dir: str | None, overrides: tuple[str, ...]) -> None:
    """Train models x modes x adapters on one split, then write the report table.

    OVERRIDES are training options as --name value, applied to every run. Running the same
    command again skips finished runs and resumes interrupted ones.
    """
    from accelerate import PartialState

    from .files import DataFileError
    from .report import write_report

    is_main_process = PartialState().is_main_process
    try:
        plan = load_sweep(config_path, runs_dir)
        if is_main_process:
            click.echo(f"Sweep folder: {plan.sweep_dir} ({len(plan.runs)} runs)")
        run_sweep(plan, list(overrides))
    except (SettingsError, DataFileError, FileExistsError) as error:
        raise click.UsageError(str(error)) from error

    if is_main_process:
        written = write_report(plan.sweep_dir)
        click.echo("Report: " + ", ".join(str(path) for path in written))
        click.echo(f"TensorBoard: tensorboard --logdir {plan.sweep_dir}")
