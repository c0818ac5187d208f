"""Question 4 of the task protocol: span logits -> answers. For every example, the best valid span over all
its windows (start <= end, both inside the context, at most max_answer_length tokens) competes with the
"no answer" score (the CLS token), as in the official SQuAD v2 baselines and run_qa.py."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.special import expit


@dataclass(frozen=True)
class Answer:
    id: str
    text: str
    start: int  # character offsets into the context; -1 when there is no answer
    end: int
    score: float  # probability of this span among the n-best candidates and "no answer"
    null_score_diff: float  # no-answer score minus best span score; > threshold means abstain
    best_span: str = ""  # the best span's text, kept when abstaining (the official metric's best_f1 needs it)

    @property
    def no_answer_probability(self) -> float:
        return no_answer_probability(self.null_score_diff)

    @property
    def is_empty(self) -> bool:
        return self.text == ""


def no_answer_probability(null_score_diff: float) -> float:
    """The score difference as the probability the SQuAD v2 metric compares with its threshold (monotonic, so
    abstaining on diff > t is abstaining on probability > no_answer_probability(t))."""
    return float(expit(null_score_diff))


def decode(
    examples,
    features,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2_with_negative: bool = True,
    null_score_diff_threshold: float = 0.0,
) -> list[Answer]:
    by_example = defaultdict(list)
    for index, example_id in enumerate(features["example_id"]):
        by_example[example_id].append(index)
    offsets_all = features["offset_mapping"]
    answers = []
    for example in examples:
        null_score, candidates = None, []
        for index in by_example[example["id"]]:
            starts, ends, offsets = start_logits[index], end_logits[index], offsets_all[index]
            cls_score = float(starts[0] + ends[0])
            null_score = cls_score if null_score is None else min(null_score, cls_score)
            top_starts = np.argsort(starts)[-1 : -n_best_size - 1 : -1]
            top_ends = np.argsort(ends)[-1 : -n_best_size - 1 : -1]
            for s in top_starts:
                for e in top_ends:
                    if s >= len(offsets) or e >= len(offsets) or offsets[s] is None or offsets[e] is None:
                        continue
                    if e < s or e - s + 1 > max_answer_length:
                        continue
                    candidates.append((float(starts[s] + ends[e]), offsets[s][0], offsets[e][1]))
        candidates = sorted(candidates, reverse=True)[:n_best_size]
        scores = np.array([c[0] for c in candidates] + ([null_score] if null_score is not None else []))
        probabilities = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum() if len(scores) else []
        if not candidates:
            answers.append(Answer(example["id"], "", -1, -1, float(probabilities[-1]) if len(scores) else 0.0, 0.0))
            continue
        best_score, start, end = candidates[0]
        diff = (null_score if null_score is not None else -np.inf) - best_score
        span = example["context"][start:end]
        # compared as probabilities, so that the metric (which sees only probabilities) decides identically
        if version_2_with_negative and no_answer_probability(diff) > no_answer_probability(null_score_diff_threshold):
            answers.append(Answer(example["id"], "", -1, -1, float(probabilities[-1]), float(diff), span))
        else:
            answers.append(
                Answer(example["id"], span, int(start), int(end), float(probabilities[0]), float(diff), span)
            )
    return answers
