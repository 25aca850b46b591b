"""Multi-task fine-tuning of BERT encoders with the Hugging Face stack."""

__version__ = "0.1.0"

from transformers import AutoConfig, AutoModel

from .configuration import BertMultiTaskConfig
from .modeling import BertForMultiTask, MultiTaskOutput, multitask_loss
from .tasks import TaskSpec
from .text import TextPreprocessing, turkish_lower
from .trainer import MultiTaskTrainer

# Registering lets AutoConfig/AutoModel.from_pretrained open saved run models once mtl_hf is imported.
AutoConfig.register(BertMultiTaskConfig.model_type, BertMultiTaskConfig)
AutoModel.register(BertMultiTaskConfig, BertForMultiTask)

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
