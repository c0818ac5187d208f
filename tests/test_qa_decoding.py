"""Windows over long contexts, labels, and span decoding (including answers across window borders and
no-answer)."""

from __future__ import annotations

import numpy as np
from transformers import AutoTokenizer

from tasks.question_answering.decoding import decode
from tasks.question_answering.features import tokenize_batch

FILLER = " ".join(f"word{i % 7} option" for i in range(120))


def _example(context: str, answer: str, qid: str = "x") -> dict:
    start = context.index(answer) if answer else None
    return {
        "id": [qid],
        "question": ["What does the -z option do?"],
        "context": [context],
        "answers": [{"text": [answer], "answer_start": [start]} if answer else {"text": [], "answer_start": []}],
    }


def _rows(batch: dict) -> list[dict]:
    return [dict(zip(batch, values)) for values in zip(*batch.values())]


def test_labels_point_at_the_answer_tokens_in_every_window_that_holds_it(tiny_qa_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_qa_model)
    answer = "use a long listing format"
    batch = _example(f"{FILLER} -l {answer}. {FILLER}", answer)
    features = tokenize_batch(batch, tokenizer, max_seq_length=64, doc_stride=24, with_labels=True, keep_offsets=True)
    assert len(features["input_ids"]) > 3  # the context really was split into windows
    holding = 0
    for ids, start, end, offsets in zip(
        features["input_ids"], features["start_positions"], features["end_positions"], features["offset_mapping"]
    ):
        if start == 0:
            continue
        holding += 1
        text = batch["context"][0][offsets[start][0] : offsets[end][1]]
        assert text == answer
    assert holding >= 1


def _logits_for(features: dict, context: str, answer: str, in_window: int | None, null: float = 0.0):
    """Logits that put the answer span on top in one window (or nowhere) and `null` on the CLS token."""
    count, width = len(features["input_ids"]), max(len(x) for x in features["input_ids"])
    starts, ends = np.full((count, width), -5.0), np.full((count, width), -5.0)
    starts[:, 0] = ends[:, 0] = null / 2
    begin = context.index(answer) if answer else -1
    for w, offsets in enumerate(features["offset_mapping"]):
        if w != in_window:
            continue
        tokens = [i for i, o in enumerate(offsets) if o is not None and begin <= o[0] < begin + len(answer)]
        starts[w, tokens[0]], ends[w, tokens[-1]] = 5.0, 5.0
    return starts, ends


def _straddling_example(tokenizer, answer: str, max_len: int, stride: int):
    """A context whose answer starts in one window but is cut off by its end (found by sliding the answer)."""
    words = FILLER.split()
    for prefix in range(10, 120):
        context = f"{' '.join(words[:prefix])} -r {answer}. {FILLER}"
        batch = _example(context, answer)
        features = tokenize_batch(batch, tokenizer, max_len, stride, with_labels=True, keep_offsets=True)
        begin = context.index(answer)
        whole = [w for w, s in enumerate(features["start_positions"]) if s != 0]
        cut = [
            w
            for w, offsets in enumerate(features["offset_mapping"])
            if any(o and o[0] == begin for o in offsets) and w not in whole
        ]
        if whole and cut:
            return context, batch, features, whole, cut
    raise AssertionError("no straddling layout found")


def test_answer_across_a_window_border_is_found_in_the_window_that_holds_it_whole(tiny_qa_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_qa_model)
    answer = "copy directories recursively and keep links"
    context, batch, features, whole, cut = _straddling_example(tokenizer, answer, 48, 16)
    assert cut[0] < whole[0]  # the answer begins in an earlier window that cannot hold it whole
    starts, ends = _logits_for(features, context, answer, in_window=whole[0])
    result = decode(_rows(batch), features, starts, ends, max_answer_length=30)[0]
    assert result.text == answer
    assert context[result.start : result.end] == answer


def _null_beats_the_answer(model):
    """A question whose answer span scores 20 below the no-answer (CLS) score."""
    tokenizer = AutoTokenizer.from_pretrained(model)
    context = "-a, --all\ndo not ignore entries starting with a dot"
    batch = _example(context, "do not ignore entries")
    features = tokenize_batch(batch, tokenizer, 64, 16, with_labels=False, keep_offsets=True)
    return batch, features, *_logits_for(features, context, "do not ignore entries", in_window=0, null=20.0)


def test_no_answer_wins_when_the_null_score_beats_every_span(tiny_qa_model):
    batch, features, starts, ends = _null_beats_the_answer(tiny_qa_model)
    abstained = decode(_rows(batch), features, starts, ends)[0]
    assert abstained.is_empty and abstained.start == -1
    # SQuAD v1 (no negatives): always the best span
    forced = decode(_rows(batch), features, starts, ends, version_2_with_negative=False)[0]
    assert forced.text == "do not ignore entries"
    # a higher threshold makes the model answer
    answered = decode(_rows(batch), features, starts, ends, null_score_diff_threshold=15.0)[0]
    assert answered.text == "do not ignore entries" and 0 < answered.score <= 1


def test_spans_longer_than_max_answer_length_are_never_returned(tiny_qa_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_qa_model)
    context = "alpha beta gamma delta epsilon zeta eta theta"
    batch = _example(context, context)
    features = tokenize_batch(batch, tokenizer, 64, 16, with_labels=False, keep_offsets=True)
    starts, ends = _logits_for(features, context, context, in_window=0, null=-100.0)
    result = decode(_rows(batch), features, starts, ends, max_answer_length=3)[0]
    assert len(tokenizer(result.text, add_special_tokens=False)["input_ids"]) <= 3


def test_the_metric_abstains_where_the_decoder_did_and_best_f1_sees_the_kept_span(tiny_qa_model):
    from evaluation.metrics import load_metric
    from tasks.question_answering.task import QAParams, QuestionAnsweringTask

    batch, features, starts, ends = _null_beats_the_answer(tiny_qa_model)
    abstained = decode(_rows(batch), features, starts, ends)
    assert abstained[0].is_empty and abstained[0].best_span == "do not ignore entries"
    inputs = QuestionAnsweringTask().metric_inputs(abstained, _rows(batch), QAParams())
    result = load_metric("squad_v2").compute(**inputs)
    assert result["f1"] == 0.0  # the question has an answer and the decoder abstained
    assert result["best_f1"] == 100.0  # answering (a higher threshold) would have been right
