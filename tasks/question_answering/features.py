"""Question 2 of the task protocol: examples -> model inputs. Long contexts are split into overlapping windows
(doc_stride tokens of overlap), as run_qa.py does, so that no answer is lost to truncation."""

from __future__ import annotations

from datasets import Dataset


def tokenize(
    examples: Dataset, tokenizer, max_seq_length: int, doc_stride: int, with_labels: bool, keep_offsets: bool
) -> Dataset:
    """`tokenize_batch` over a whole Dataset (with progress), for Trainer."""
    return examples.map(
        tokenize_batch,
        batched=True,
        remove_columns=examples.column_names,
        desc="tokenising",
        fn_kwargs={
            "tokenizer": tokenizer,
            "max_seq_length": max_seq_length,
            "doc_stride": doc_stride,
            "with_labels": with_labels,
            "keep_offsets": keep_offsets,
        },
    )


def tokenize_batch(
    batch: dict, tokenizer, max_seq_length: int, doc_stride: int, with_labels: bool, keep_offsets: bool
) -> dict:
    """Columns of examples (dict of lists) -> columns of features, one feature per window.

    Labels: token positions of the answer, or the CLS token when the window does not hold the whole answer or
    there is none. Offsets: character spans of context tokens (None elsewhere), kept for decoding together
    with the example id."""
    max_length = min(max_seq_length, tokenizer.model_max_length)
    if doc_stride >= max_length // 2:
        doc_stride = max_length // 4  # the question takes room too; a stride this large leaves no new context
    pad_on_right = tokenizer.padding_side == "right"
    questions = [q.lstrip() for q in batch["question"]]
    first, second = (questions, batch["context"]) if pad_on_right else (batch["context"], questions)
    encoded = tokenizer(
        first,
        second,
        truncation="only_second" if pad_on_right else "only_first",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    sample_map = encoded.pop("overflow_to_sample_mapping")
    offsets_all = encoded.pop("offset_mapping")
    context_index = 1 if pad_on_right else 0
    starts, ends, offsets_out, ids = [], [], [], []
    for i, offsets in enumerate(offsets_all):
        sequence_ids = encoded.sequence_ids(i)
        example = sample_map[i]
        ids.append(batch["id"][example])
        offsets_out.append([o if sequence_ids[k] == context_index else None for k, o in enumerate(offsets)])
        if with_labels:
            start, end = _answer_tokens(batch["answers"][example], offsets, sequence_ids, context_index)
            cls_index = _cls_index(encoded["input_ids"][i], tokenizer)
            starts.append(cls_index if start is None else start)
            ends.append(cls_index if end is None else end)
    if with_labels:
        encoded["start_positions"], encoded["end_positions"] = starts, ends
    if keep_offsets:
        encoded["offset_mapping"], encoded["example_id"] = offsets_out, ids
    return dict(encoded)


def _cls_index(input_ids: list[int], tokenizer) -> int:
    return input_ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in input_ids else 0


def _answer_tokens(answers: dict, offsets, sequence_ids, context_index: int) -> tuple[int | None, int | None]:
    """Token span of the first gold answer in this window; (None, None) if absent or not wholly inside."""
    if not answers["answer_start"]:
        return None, None
    start_char = answers["answer_start"][0]
    end_char = start_char + len(answers["text"][0])
    context_tokens = [k for k, s in enumerate(sequence_ids) if s == context_index]
    first, last = context_tokens[0], context_tokens[-1]
    if offsets[first][0] > start_char or offsets[last][1] < end_char:
        return None, None
    start = first
    while start <= last and offsets[start][0] <= start_char:
        start += 1
    end = last
    while end >= first and offsets[end][1] >= end_char:
        end -= 1
    return start - 1, end + 1
