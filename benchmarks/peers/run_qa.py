"""The peer for QA fine-tuning: transformers' example recipe as users run it, followed faithfully.

Upstream: transformers/examples/pytorch/question-answering/run_qa.py (with utils_qa.py and trainer_qa.py).
What it does, and so what this script does, with the upstream defaults:
- `prepare_train_features`: strip the question's leading spaces; tokenise question + context with
  truncation="only_second", max_seq_length 384, doc_stride 128, overflowing windows and offsets, and
  **padding="max_length"** (`--pad_to_max_length` defaults to True); label each window with the answer's token
  span, or the CLS index when the window lacks the answer (or the question has none: `--version_2_with_negative`);
- `default_data_collator` (every window is already 384 tokens), windows in random order (no length grouping);
- `Trainer` with the user's learning rate, batch, steps, warm-up and seed; AdamW, linear schedule.
Evaluation (utils_qa.postprocess_qa_predictions) is not reproduced: the benchmark scores both models with the
same evaluator, since the row compares training, not decoding.

    python benchmarks/peers/run_qa.py --model PATH --output_dir DIR [--max_steps 275] [--learning_rate 3e-4]
"""

from __future__ import annotations

import argparse

from datasets import Dataset
from transformers import (
    AutoModelForQuestionAnswering,
    AutoTokenizer,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    default_data_collator,
)

MAX_SEQ_LENGTH = 384  # run_qa.py's DataTrainingArguments defaults
DOC_STRIDE = 128


def prepare_train_features(examples: dict, tokenizer, max_seq_length: int, doc_stride: int) -> dict:
    """run_qa.py's prepare_train_features, as upstream writes it (padding side right, as for BERT models)."""
    examples["question"] = [q.lstrip() for q in examples["question"]]
    tokenized = tokenizer(
        examples["question"],
        examples["context"],
        truncation="only_second",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    sample_mapping = tokenized.pop("overflow_to_sample_mapping")
    offset_mapping = tokenized.pop("offset_mapping")
    tokenized["start_positions"], tokenized["end_positions"] = [], []
    for i, offsets in enumerate(offset_mapping):
        input_ids = tokenized["input_ids"][i]
        cls_index = input_ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in input_ids else 0
        sequence_ids = tokenized.sequence_ids(i)
        answers = examples["answers"][sample_mapping[i]]
        if len(answers["answer_start"]) == 0:
            tokenized["start_positions"].append(cls_index)
            tokenized["end_positions"].append(cls_index)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        token_start = 0
        while sequence_ids[token_start] != 1:
            token_start += 1
        token_end = len(input_ids) - 1
        while sequence_ids[token_end] != 1:
            token_end -= 1
        if not (offsets[token_start][0] <= start_char and offsets[token_end][1] >= end_char):
            tokenized["start_positions"].append(cls_index)
            tokenized["end_positions"].append(cls_index)
            continue
        while token_start < len(offsets) and offsets[token_start][0] <= start_char:
            token_start += 1
        tokenized["start_positions"].append(token_start - 1)
        while offsets[token_end][1] >= end_char:
            token_end -= 1
        tokenized["end_positions"].append(token_end + 1)
    return tokenized


def train(
    model_path: str,
    train_examples: Dataset,
    args: TrainingArguments,
    max_seq_length: int = MAX_SEQ_LENGTH,
    doc_stride: int = DOC_STRIDE,
    callbacks: list[TrainerCallback] | None = None,
):
    """Fine-tune as run_qa.py does; returns (trainer, tokenizer, number of training windows)."""
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForQuestionAnswering.from_pretrained(model_path)
    features = train_examples.map(
        prepare_train_features,
        batched=True,
        remove_columns=train_examples.column_names,
        fn_kwargs={"tokenizer": tokenizer, "max_seq_length": max_seq_length, "doc_stride": doc_stride},
        desc="Running tokenizer on train dataset",
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=features,
        processing_class=tokenizer,
        data_collator=default_data_collator,
        callbacks=callbacks,
    )
    trainer.train()
    return trainer, tokenizer, len(features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--max_steps", type=int, default=275)
    parser.add_argument("--learning_rate", type=float, default=3e-4)
    parser.add_argument("--per_device_train_batch_size", type=int, default=16)
    parser.add_argument("--warmup_ratio", type=float, default=0.1)
    parser.add_argument("--max_train_samples", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    from tasks.registry import get_task  # the bundled training questions, as omnitune's run reads them

    task = get_task("question-answering")
    params = task.params_class(max_train_samples=args.max_train_samples, seed=args.seed)
    trainer, tokenizer, _ = train(args.model, task.load_examples(params, "train"), arguments(args))
    trainer.save_model(args.output_dir)


def arguments(args) -> TrainingArguments:
    return TrainingArguments(
        output_dir=args.output_dir,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.per_device_train_batch_size,
        max_steps=args.max_steps,
        warmup_steps=args.warmup_ratio,  # transformers 5: a float below 1 is a share of the steps
        seed=args.seed,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
    )


if __name__ == "__main__":
    main()
