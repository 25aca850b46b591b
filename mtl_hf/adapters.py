"""LoRA adapters on the shared encoder, with every task head kept fully trainable and saved.

A LoRA run folder's ``model/`` contains the adapter (``adapter_config.json`` and
``adapter_model.safetensors``, which also carry the heads and the pooler) and the tokenizer.
It also contains a ``base/`` copy of the frozen encoder when that encoder cannot be loaded again
by name, because a model built with ``--from_scratch`` has random weights that exist nowhere else.
"""

from __future__ import annotations

import logging
from pathlib import Path

from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from .modeling import BertForMultiTask
from .settings import ModelArguments, SettingsError

logger = logging.getLogger(__name__)

ADAPTER_CONFIG_FILE = "adapter_config.json"
BASE_MODEL_DIR = "base"

# The pooler is pretrained for next-sentence prediction (or random in a scratch model), so it is
# trained with the heads instead of being frozen with the rest of the encoder.
POOLER_MODULE = "bert.pooler"


def head_module_names(model: BertForMultiTask) -> list[str]:
    """Return the module names that stay fully trainable under LoRA: each task's head and the pooler."""
    return [f"heads.{task}" for task in model.task_names] + [POOLER_MODULE]


def lora_config(model: BertForMultiTask, model_args: ModelArguments) -> LoraConfig:
    """Build the peft LoRA configuration of ``model_args`` for ``model``."""
    targets = [name.strip() for name in model_args.lora_target_modules.split(",") if name.strip()]
    if not targets:
        raise SettingsError("--lora_target_modules is empty: name encoder modules, e.g. 'query,value'.")

    module_names = {name.rsplit(".", 1)[-1] for name, _ in model.bert.named_modules()}
    unknown = [target for target in targets if target not in module_names]
    if unknown:
        raise SettingsError(
            f"Invalid --lora_target_modules {model_args.lora_target_modules!r}: the encoder has no module "
            f"named {', '.join(unknown)}. Choose from e.g. query, key, value, dense."
        )

    # Heads are listed by their full name ("heads.topic") because peft matches modules_to_save by
    # name suffix, and a bare task name could match an encoder module.
    return LoraConfig(
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=targets,
        modules_to_save=head_module_names(model),
    )


def attach_lora(model: BertForMultiTask, model_args: ModelArguments) -> PeftModel:
    """Wrap ``model`` in LoRA adapters: the encoder is frozen, adapters, heads and pooler train."""
    peft_model = get_peft_model(model, lora_config(model, model_args))

    trainable, total = peft_model.get_nb_trainable_parameters()
    logger.info(
        "LoRA r=%d on %s: %d of %d parameters trainable (%.2f%%)",
        model_args.lora_r,
        model_args.lora_target_modules,
        trainable,
        total,
        100.0 * trainable / total,
    )
    return peft_model


def is_adapter_dir(model_dir: str | Path) -> bool:
    return (Path(model_dir) / ADAPTER_CONFIG_FILE).is_file()


def save_base_model(peft_model: PeftModel, model_dir: Path) -> None:
    """Save the frozen encoder under ``model_dir/base`` when it cannot be loaded again by name.

    Only the base weights are written: adapters, heads and pooler come from the adapter files,
    which ``load_adapter_model`` applies on top.
    """
    base_model = peft_model.get_base_model()
    source = base_model.config._name_or_path
    if _is_loadable_by_name(source):
        return

    state_dict = {
        _base_weight_name(name): tensor
        for name, tensor in base_model.state_dict().items()
        if "lora_" not in name and ".modules_to_save." not in name
    }
    plain_model = BertForMultiTask(base_model.config)
    plain_model.load_state_dict(state_dict)

    base_dir = model_dir / BASE_MODEL_DIR
    plain_model.save_pretrained(str(base_dir))
    logger.info("Saved the frozen encoder to %s because it cannot be loaded again by name", base_dir)


def _base_weight_name(name: str) -> str:
    """Map a wrapped module's weight name to the name it has in the plain model."""
    return name.replace(".base_layer.", ".").replace(".original_module.", ".")


def _is_loadable_by_name(source: str | None) -> bool:
    """Return whether ``source`` is a model folder or has the ``owner/name`` shape of a Hub id."""
    if not source:
        return False
    # NOTE: a Hub id is recognised by its shape only; nothing checks that it still exists.
    return Path(source).is_dir() or source.count("/") == 1


def load_adapter_model(model_dir: str | Path) -> PeftModel:
    """Load a LoRA run's model: the base encoder (saved copy or by name) with its adapter and heads."""
    model_dir = Path(model_dir)
    if not is_adapter_dir(model_dir):
        raise FileNotFoundError(f"{model_dir} has no {ADAPTER_CONFIG_FILE}: it is not a LoRA run's model folder.")

    base_dir = model_dir / BASE_MODEL_DIR
    if base_dir.is_dir():
        base_model = BertForMultiTask.from_pretrained(str(base_dir))
    else:
        adapter_config = LoraConfig.from_pretrained(str(model_dir))
        base_model = BertForMultiTask.from_pretrained(adapter_config.base_model_name_or_path)

    peft_model = PeftModel.from_pretrained(base_model, str(model_dir))
    peft_model.eval()
    return peft_model


def load_run_model(model_dir: str | Path) -> tuple[BertForMultiTask | PeftModel, PreTrainedTokenizerBase]:
    """Load a run's model and tokenizer, whether the run fine-tuned all weights or trained LoRA adapters."""
    model_dir = Path(model_dir)
    if is_adapter_dir(model_dir):
        model = load_adapter_model(model_dir)
    else:
        model = BertForMultiTask.from_pretrained(str(model_dir))
        model.eval()
    return model, AutoTokenizer.from_pretrained(str(model_dir))


def merge_adapter(model_dir: str | Path, output_dir: str | Path) -> Path:
    """Merge a LoRA run's adapter into its encoder and save a plain BertForMultiTask to ``output_dir``.

    Raises FileExistsError when ``output_dir`` already exists, so no earlier model is replaced.
    """
    output_dir = Path(output_dir)
    if output_dir.exists():
        raise FileExistsError(f"Output folder {output_dir} already exists: choose a new folder for the merged model.")

    model, tokenizer = load_run_model(model_dir)
    if not isinstance(model, PeftModel):
        raise SettingsError(f"{model_dir} contains a fully fine-tuned model, which has no adapter to merge: use it as it is.")

    merged = model.merge_and_unload()
    merged.save_pretrained(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    logger.info("Merged the adapter of %s into %s", model_dir, output_dir)
    return output_dir
