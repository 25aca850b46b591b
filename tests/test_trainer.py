"""The traps of hand-written multi-head Trainer code, each checked on a tiny model."""

import numpy as np
import pytest
import torch
from datasets import Dataset

from mtl_hf import BertForMultiTask, MultiTaskTrainer
from mtl_hf.data import MultiTaskCollator
from mtl_hf.metrics import build_compute_metrics
from mtl_hf.settings import MultiTaskTrainingArguments
from mtl_hf.tokenization import train_wordpiece_tokenizer
from tests.conftest import TASKS, labelled_rows, tiny_config

SENTIMENT = TASKS["sentiment"]
TOPIC = TASKS["topic"]


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece_tokenizer([row["text"] for row in labelled_rows()], vocab_size=120)


def _dataset(tokenizer, rows, drop_topic_every: int = 0) -> Dataset:
    encodings = tokenizer([row["text"] for row in rows], truncation=True, max_length=32)
    labels = []
    for index, row in enumerate(rows):
        topic = TOPIC.index(row["topic"])
        if drop_topic_every and index % drop_topic_every == 0:
            topic = -100
        labels.append([SENTIMENT.index(row["sentiment"]), topic])
    return Dataset.from_dict({**encodings, "labels": labels, "unused_column": ["x"] * len(rows)})


def _trainer(tmp_path, tokenizer, train, evaluation=None, model=None, **overrides):
    values = dict(
        output_dir=str(tmp_path / "checkpoints"),
        per_device_train_batch_size=8,
        per_device_eval_batch_size=16,
        num_train_epochs=2,
        learning_rate=1e-3,
        logging_steps=1,
        seed=0,
        use_cpu=True,
        report_to="none",
        disable_tqdm=True,
    )
    values.update(overrides)
    args = MultiTaskTrainingArguments(**values)
    model = model or BertForMultiTask(tiny_config(vocab_size=len(tokenizer)))
    return MultiTaskTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=evaluation,
        data_collator=MultiTaskCollator(tokenizer),
        compute_metrics=build_compute_metrics(["sentiment", "topic"], [len(SENTIMENT), len(TOPIC)]),
    )


def test_evaluate_reports_loss_and_both_tasks(tmp_path, tokenizer):
    dataset = _dataset(tokenizer, labelled_rows(4))
    trainer = _trainer(tmp_path, tokenizer, dataset, dataset, eval_strategy="no", load_best_model_at_end=False)
    assert trainer.args.remove_unused_columns

    metrics = trainer.evaluate()

    for key in (
        "eval_loss",
        "eval_sentiment_accuracy",
        "eval_sentiment_macro_f1",
        "eval_sentiment_loss",
        "eval_topic_accuracy",
        "eval_topic_macro_f1",
        "eval_topic_loss",
        "eval_mean_macro_f1",
    ):
        assert key in metrics, key
    assert metrics["eval_loss"] == pytest.approx(metrics["eval_sentiment_loss"] + metrics["eval_topic_loss"], rel=1e-3)


def test_training_logs_each_task_loss(tmp_path, tokenizer):
    dataset = _dataset(tokenizer, labelled_rows(4))
    trainer = _trainer(tmp_path, tokenizer, dataset, eval_strategy="no", save_strategy="no", load_best_model_at_end=False)
    trainer.train()

    train_logs = [entry for entry in trainer.state.log_history if "loss" in entry and "loss_topic" in entry]
    assert train_logs
    first = train_logs[0]
    assert first["loss"] == pytest.approx(first["loss_sentiment"] + first["loss_topic"], rel=1e-4)
    assert [entry for entry in trainer.state.log_history if "epoch_time_s" in entry]


def _gradients(model: BertForMultiTask) -> dict[str, torch.Tensor]:
    return {name: parameter.grad.clone() for name, parameter in model.named_parameters() if parameter.grad is not None}


def test_gradient_accumulation_matches_one_large_batch(tmp_path, tokenizer):
    # Topic labels are missing on some rows, so the two micro-batches hold different numbers of
    # topic labels: averaging per micro-batch would weight their rows unequally.
    rows = labelled_rows(2)[:8]
    dataset = _dataset(tokenizer, rows, drop_topic_every=3).remove_columns("unused_column")
    collator = MultiTaskCollator(tokenizer)
    large_batch = collator([dataset[index] for index in range(8)])
    micro_batches = [collator([dataset[index] for index in range(start, start + 4)]) for start in (0, 4)]
    assert micro_batches[0]["labels"][:, 1].ne(-100).sum() != micro_batches[1]["labels"][:, 1].ne(-100).sum()

    torch.manual_seed(0)
    model = BertForMultiTask(tiny_config(vocab_size=len(tokenizer), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
    trainer = _trainer(tmp_path, tokenizer, dataset, model=model, gradient_accumulation_steps=2,
        eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
    )
    trainer.create_optimizer_and_scheduler(num_training_steps=1)

    batches, label_counts = trainer.get_batch_samples(iter(micro_batches), 2, trainer.args.device)
    accumulated_loss = sum(trainer.training_step(model, batch, label_counts) for batch in batches)
    accumulated = _gradients(model)

    model.zero_grad()
    batches, label_counts = trainer.get_batch_samples(iter([large_batch]), 1, trainer.args.device)
    large_loss = trainer.training_step(model, batches[0], label_counts)
    large = _gradients(model)

    assert torch.allclose(accumulated_loss, large_loss, atol=1e-6)
    assert accumulated.keys() == large.keys()
    for name in large:
        assert torch.allclose(accumulated[name], large[name], atol=1e-6), name


def test_best_model_selected_on_mean_macro_f1(tmp_path, tokenizer):
    dataset = _dataset(tokenizer, labelled_rows(6))
    trainer = _trainer(
        tmp_path,
        tokenizer,
        dataset,
        dataset,
        num_train_epochs=3,
        eval_strategy="epoch",
        save_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model="mean_macro_f1",
        greater_is_better=True,
    )
    trainer.train()

    evaluations = [entry["eval_mean_macro_f1"] for entry in trainer.state.log_history if "eval_mean_macro_f1" in entry]
    assert len(evaluations) == 3
    assert trainer.state.best_metric == pytest.approx(max(evaluations))
    assert trainer.state.best_model_checkpoint is not None
    final = trainer.evaluate()["eval_mean_macro_f1"]
    assert final == pytest.approx(trainer.state.best_metric)


def test_early_stopping_on_combined_metric(tmp_path, tokenizer):
    from transformers import EarlyStoppingCallback

    dataset = _dataset(tokenizer, labelled_rows(2))
    trainer = _trainer(
        tmp_path,
        tokenizer,
        dataset,
        dataset,
        num_train_epochs=30,
        learning_rate=0.0,  # nothing improves, so patience runs out after the first evaluation
        eval_strategy="epoch",
        save_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model="mean_macro_f1",
    )
    trainer.add_callback(EarlyStoppingCallback(early_stopping_patience=2))
    trainer.train()

    evaluations = [entry for entry in trainer.state.log_history if "eval_mean_macro_f1" in entry]
    assert len(evaluations) == 3


def test_trained_heads_reload_without_new_weights(tmp_path, tokenizer):
    dataset = _dataset(tokenizer, labelled_rows(4))
    trainer = _trainer(tmp_path, tokenizer, dataset, eval_strategy="no", save_strategy="no", load_best_model_at_end=False)
    trainer.train()
    trainer.save_model(str(tmp_path / "model"))

    reloaded, info = BertForMultiTask.from_pretrained(tmp_path / "model", output_loading_info=True)
    assert not info["missing_keys"]
    assert torch.equal(reloaded.heads["topic"].weight, trainer.model.heads["topic"].weight.cpu())

    predictions = trainer.predict(dataset).predictions
    dataset = dataset.remove_columns("unused_column")
    reloaded.eval()
    batch = MultiTaskCollator(tokenizer)([dataset[index] for index in range(len(dataset))])
    batch.pop("labels")
    with torch.no_grad():
        logits = reloaded(**batch).logits
    for trained, loaded in zip(predictions, logits):
        assert np.allclose(trained, loaded.numpy(), atol=1e-5)


def test_run_shorter_than_logging_steps_logs_final_loss(tmp_path, tokenizer):
    dataset = _dataset(tokenizer, labelled_rows(2))
    trainer = _trainer(
        tmp_path, tokenizer, dataset, num_train_epochs=1, logging_steps=100,
        eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
    )
    trainer.train()
    train_logs = [entry for entry in trainer.state.log_history if "loss_sentiment" in entry]
    assert len(train_logs) == 1
    assert train_logs[0]["step"] == trainer.state.global_step
