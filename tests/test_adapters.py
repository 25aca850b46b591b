"""LoRA runs: trainable parts, saved heads, exact reload and merging into a plain model."""

from pathlib import Path

import pytest
import torch
from peft import PeftModel

from mtl_hf import BertForMultiTask
from mtl_hf.adapters import attach_lora, load_adapter_model, load_run_model, merge_adapter, save_base_model
from mtl_hf.runs import METRICS_FILE, MODEL_DIR, read_json
from mtl_hf.settings import ModelArguments, SettingsError, parse_settings
from mtl_hf.training import run_training
from tests.conftest import tiny_config

LORA_RUN = dict(
    model="micro", from_scratch=True, vocab_size=200, lora_r=4, num_train_epochs=1,
    per_device_train_batch_size=16, logging_steps=2, disable_tqdm=True,
)


def _batch(vocab_size: int = 120) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, vocab_size, (4, 10), generator=generator)
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def _logits(model, batch) -> list[torch.Tensor]:
    with torch.no_grad():
        return list(model(**batch).logits)


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory) -> Path:
    from tests.conftest import labelled_rows, write_csv

    folder = tmp_path_factory.mktemp("lora")
    data = write_csv(folder / "tweets.csv", labelled_rows())
    settings = parse_settings(data=str(data), runs_dir=str(folder / "runs"), **LORA_RUN)
    return run_training(settings).run_dir


def test_attach_lora_freezes_encoder_only():
    model = attach_lora(BertForMultiTask(tiny_config()), ModelArguments(lora_r=2))
    trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}

    assert any("lora_A" in name for name in trainable)
    assert any("heads.topic.modules_to_save" in name for name in trainable)
    assert any("heads.sentiment.modules_to_save" in name for name in trainable)
    assert not any("word_embeddings" in name for name in trainable)
    assert not any("query.base_layer" in name for name in trainable)


def test_attach_lora_rejects_unknown_module():
    with pytest.raises(SettingsError, match="qkv"):
        attach_lora(BertForMultiTask(tiny_config()), ModelArguments(lora_r=2, lora_target_modules="query,qkv"))


def test_lora_run_metrics_count_trainable(lora_run):
    metrics = read_json(lora_run / METRICS_FILE)

    assert metrics["adapter"] == "lora-r4"
    assert metrics["parameters"]["trainable"] < metrics["parameters"]["total"] / 2
    assert metrics["tasks"]["topic"]["test"]["loss"] is not None
    assert metrics["tasks"]["topic"]["test"]["accuracy"] is not None


def test_lora_run_saves_adapter_and_base(lora_run):
    assert (lora_run / MODEL_DIR / "adapter_config.json").is_file()
    assert (lora_run / MODEL_DIR / "base" / "model.safetensors").is_file()


def test_saved_adapter_reloads_exactly(tmp_path):
    model = attach_lora(BertForMultiTask(tiny_config()), ModelArguments(lora_r=2))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn_like(parameter))
    model.eval()
    model.save_pretrained(str(tmp_path / "model"))
    save_base_model(model, tmp_path / "model")

    reloaded = load_adapter_model(tmp_path / "model")
    batch = _batch()

    for before, after in zip(_logits(model, batch), _logits(reloaded, batch)):
        assert torch.equal(before, after)


def test_reloaded_lora_run_predicts_same(lora_run):
    model, tokenizer = load_run_model(lora_run / MODEL_DIR)
    batch = _batch(len(tokenizer))
    reloaded = _logits(model, batch)
    again, _ = load_run_model(lora_run / MODEL_DIR)

    assert isinstance(model, PeftModel)
    for first, second in zip(reloaded, _logits(again, batch)):
        assert torch.equal(first, second)


def test_reloaded_heads_are_trained(lora_run):
    model, _ = load_run_model(lora_run / MODEL_DIR)
    base = BertForMultiTask.from_pretrained(str(lora_run / MODEL_DIR / "base"))
    trained_head = model.get_base_model().heads["topic"].modules_to_save["default"].weight
    frozen_head = base.heads["topic"].weight

    assert not torch.equal(trained_head, frozen_head)


def test_merged_model_predicts_like_adapter(lora_run, tmp_path):
    model, tokenizer = load_run_model(lora_run / MODEL_DIR)
    merged_dir = merge_adapter(lora_run / MODEL_DIR, tmp_path / "merged")
    merged = BertForMultiTask.from_pretrained(str(merged_dir)).eval()
    batch = _batch(len(tokenizer))

    for adapter_logits, merged_logits in zip(_logits(model, batch), _logits(merged, batch)):
        assert torch.allclose(adapter_logits, merged_logits, atol=1e-5)


def test_merge_keeps_existing_folder(lora_run, tmp_path):
    existing = tmp_path / "merged"
    existing.mkdir()

    with pytest.raises(FileExistsError, match="already exists"):
        merge_adapter(lora_run / MODEL_DIR, existing)
