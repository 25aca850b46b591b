"""Multi-task fine-tuning of BERT encoders with the Hugging Face stack."""

__version__ = "0.1.0"

import importlib

from transformers import AutoConfig, AutoModel

from .configuration import BertMultiTaskConfig
from .modeling import BertForMultiTask, MultiTaskOutput, multitask_loss
from .tasks import TaskSpec
from .text import TextPreprocessing, turkish_lower

# Registering lets AutoConfig/AutoModel.from_pretrained open saved run models once mtl_hf is imported.
AutoConfig.register(BertMultiTaskConfig.model_type, BertMultiTaskConfig)
AutoModel.register(BertMultiTaskConfig, BertForMultiTask)

# Imported on first use: the Trainer pulls in datasets, evaluate and accelerate, which the
# command line does not need to start.
_LAZY_EXPORTS = {"MultiTaskTrainer": ".trainer"}


def __getattr__(name: str):
    if name in _LAZY_EXPORTS:
        return getattr(importlib.import_module(_LAZY_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BertForMultiTask",
    "BertMultiTaskConfig",
    "MultiTaskOutput",
    "MultiTaskTrainer",
    "TaskSpec",
    "TextPreprocessing",
    "multitask_loss",
    "turkish_lower",
]
