"""Length-grouped training batches: the default sampler, and less padding than random batches."""

from __future__ import annotations

import torch
from datasets import Dataset
from transformers.trainer_pt_utils import LengthGroupedSampler

from mtl_hf import BertForMultiTask, MultiTaskTrainer
from mtl_hf.data import MultiTaskCollator
from mtl_hf.settings import MultiTaskTrainingArguments
from mtl_hf.tokenization import train_wordpiece_tokenizer
from tests.conftest import labelled_rows, tiny_config

BATCH_SIZE = 4


def _dataset(tokenizer) -> Dataset:
    # Texts of 1 to 12 words, so that batch lengths differ.
    texts = [" ".join(row["text"].split()[: 1 + index % 12]) for index, row in enumerate(labelled_rows())]
    encodings = tokenizer(texts, truncation=True, max_length=32)
    return Dataset.from_dict(
        {**encodings, "labels": [[0, 0]] * len(texts), "length": [len(ids) for ids in encodings["input_ids"]]}
    )


def test_default_sampler_groups_by_length(tmp_path):
    rows = labelled_rows()
    tokenizer = train_wordpiece_tokenizer([row["text"] for row in rows], vocab_size=120)
    args = MultiTaskTrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=BATCH_SIZE,
        eval_strategy="no",
        load_best_model_at_end=False,
        report_to=[],
    )
    trainer = MultiTaskTrainer(
        model=BertForMultiTask(tiny_config()),
        args=args,
        train_dataset=_dataset(tokenizer),
        data_collator=MultiTaskCollator(tokenizer),
        processing_class=tokenizer,
    )

    assert args.train_sampling_strategy == "group_by_length"
    assert isinstance(trainer._get_train_sampler(), LengthGroupedSampler)


def _padded_tokens(lengths: list[int], order: list[int]) -> int:
    batches = [[lengths[index] for index in order[start : start + BATCH_SIZE]] for start in range(0, len(order), BATCH_SIZE)]
    return sum(len(batch) * max(batch) for batch in batches)


def test_grouped_batches_pad_less_than_random():
    lengths = [1 + index % 12 for index in range(200)]
    generator = torch.Generator().manual_seed(0)
    grouped = list(LengthGroupedSampler(BATCH_SIZE, lengths=lengths, generator=generator))
    shuffled = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).tolist()

    assert sorted(grouped) == list(range(len(lengths)))
    assert _padded_tokens(lengths, grouped) < _padded_tokens(lengths, shuffled)
