"""The ``mtl-hf`` command line."""

from __future__ import annotations

import importlib
import sys
from importlib import resources
from pathlib import Path

import click

from .errors import DataFileError, SettingsError

# Errors the user can fix by changing an option or a file. They end with exit status 2, as
# click's own usage errors do, instead of a stack trace.
USER_ERRORS = (SettingsError, DataFileError, FileExistsError)


def sample_data_path() -> Path:
    """Return the path of the sample tweets shipped inside the package."""
    return Path(str(resources.files("mtl_hf") / "sample_data" / "turkish_news_tweets.csv"))


def demo_config_path() -> Path:
    return Path(str(resources.files("mtl_hf") / "configs" / "demo.yaml"))


def split_config_option(argv: list[str]) -> tuple[str | None, list[str]]:
    """Take ``--config FILE`` (or ``--config=FILE``) out of ``argv`` and return it with the rest."""
    config, rest = None, []
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--config":
            config = next(arguments, None)
            if config is None:
                raise SettingsError("--config needs a YAML file path.")
        elif argument.startswith("--config="):
            config = argument.split("=", 1)[1]
        else:
            rest.append(argument)
    return config, rest


def format_run_summary(run_dir: Path, metrics: dict) -> str:
    """Return the per-task test scores beside the majority baseline, and where the run was written."""
    lines = [f"Run folder: {run_dir}", "", f"{'task':<12} {'accuracy':>9} {'macro-F1':>9}   majority baseline (acc / F1)"]
    for task, scores in metrics["tasks"].items():
        test, baseline = scores["test"], scores["majority_baseline"]
        lines.append(
            f"{task:<12} {test['accuracy']:>9.3f} {test['macro_f1']:>9.3f}   "
            f"{baseline['majority_label']!r}: {baseline['accuracy']:.3f} / {baseline['macro_f1']:.3f}"
        )
    lines += ["", f"TensorBoard: tensorboard --logdir {run_dir / 'tensorboard'}"]
    return "\n".join(lines)


def run_train_command(argv: list[str], **values) -> None:
    """Parse ``--config FILE`` and ``--key value`` options, train one run and print its test scores."""
    from accelerate import PartialState

    from .settings import parse_settings
    from .training import run_training  # imported late so that --help stays fast

    config, overrides = split_config_option(argv)
    result = run_training(parse_settings(config, overrides, **values))
    if PartialState().is_main_process:
        print(format_run_summary(result.run_dir, result.metrics))


def train_main(argv: list[str] | None = None) -> int:
    """Entry point of ``scripts/train.py``: the same options as ``mtl-hf train``."""
    from .settings import settings_help

    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        print("usage: train.py [--config FILE.yaml] [--OPTION VALUE ...]\n")
        print(settings_help("train.py"))
        return 0
    try:
        run_train_command(argv)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command is run or listed.

    The commands below live beside the concepts they drive and import torch, pandas and the
    Trainer. Loading them lazily keeps ``mtl-hf --version`` and ``mtl-hf train`` from paying for
    the others.
    """

    lazy_commands = {
        "evaluate": "commands:evaluate_command",
        "predict": "commands:predict_command",
        "sweep": "sweep:sweep_command",
        "report": "report:report_command",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy_commands:
            return super().get_command(ctx, name)
        module_name, attribute = self.lazy_commands[name].split(":")
        return getattr(importlib.import_module(f".{module_name}", __package__), attribute)


@click.group(cls=LazyGroup)
@click.version_option(package_name="mtl_hf")
def main() -> None:
    """Multi-task fine-tuning of BERT encoders (sentiment and topic of Turkish news tweets)."""


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
)
@click.argument("options", nargs=-1, type=click.UNPROCESSED, metavar="[--config FILE.yaml] [--OPTION VALUE]...")
def train(options: tuple[str, ...]) -> None:
    """Train a multi-task (or single-task) model; each run gets a new folder under runs/.

    --config reads settings from a YAML file, and every --OPTION VALUE overrides it. The
    training options follow.
    """
    if "--help" in options or "-h" in options:
        from .settings import settings_help

        click.echo(click.get_current_context().get_help())
        click.echo("\nTraining options:\n")
        click.echo(settings_help("mtl-hf train"))
        return
    try:
        run_train_command(list(options))
    except USER_ERRORS as error:
        raise click.UsageError(str(error)) from error


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("options", nargs=-1, type=click.UNPROCESSED, metavar="[--OPTION VALUE]...")
def demo(options: tuple[str, ...]) -> None:
    """Train a small scratch model on the sample tweets shipped with the package (offline, under a minute on a CPU).

    OPTIONS override the demo settings, e.g. `mtl-hf demo --num_train_epochs 5 --runs_dir /tmp/runs`.
    """
    try:
        run_train_command(["--config", str(demo_config_path()), *options], data=str(sample_data_path()))
    except USER_ERRORS as error:
        raise click.UsageError(str(error)) from error
