"""SQuAD v2.0 exact match and F1, following the official evaluation script (v2.0) rule for rule:
answers are normalised (lower case, punctuation and articles a/an/the removed, whitespace collapsed); each
prediction takes the max over its gold answers; a question without gold answers counts as correct only when
the prediction is empty; scores are percentages with HasAns/NoAns breakdowns. A question is "has answer" when it
has any gold answer, even one that normalises to nothing ("The"). A prediction whose no_answer_probability
exceeds `no_answer_threshold` scores 1 on unanswerable questions and 0 on the others; when probabilities are
given, best_exact / best_f1 and their thresholds are added (the official find_best_thresh). Predictions missing
for a question are skipped and extra ones ignored, as the official script does."""

import collections
import re
import string
import warnings

import datasets
import evaluate

_CITATION = """@inproceedings{rajpurkar-etal-2018-know, title={Know What You Don't Know: Unanswerable Questions
for {SQ}u{AD}}, author={Rajpurkar, Pranav and Jia, Robin and Liang, Percy}, booktitle={ACL}, year={2018}}"""
_DESCRIPTION = "Official SQuAD v2.0 exact match and F1, computed locally (no Hub access needed)."
_KWARGS = """predictions: list of {"id", "prediction_text", optional "no_answer_probability"};
references: list of {"id", "answers": {"text": [...], "answer_start": [...]}}; no_answer_threshold: float."""


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text, flags=re.UNICODE)
    return " ".join(text.split())


def get_tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def compute_exact(gold: str, prediction: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(prediction))


def compute_f1(gold: str, prediction: str) -> float:
    gold_tokens, pred_tokens = get_tokens(gold), get_tokens(prediction)
    common = collections.Counter(gold_tokens) & collections.Counter(pred_tokens)
    same = sum(common.values())
    if not gold_tokens or not pred_tokens:  # no-answer: right only when both are empty
        return float(gold_tokens == pred_tokens)
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class SquadV2(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS,
            features=datasets.Features(
                {
                    "predictions": {
                        "id": datasets.Value("string"),
                        "prediction_text": datasets.Value("string"),
                        "no_answer_probability": datasets.Value("float64"),
                    },
                    "references": {
                        "id": datasets.Value("string"),
                        "answers": datasets.Sequence(
                            {"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}
                        ),
                    },
                }
            ),
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """no_answer_probability is optional, as the official script's na_prob file is: absent becomes None."""
        if predictions is not None:
            predictions = [{"no_answer_probability": None, **p} for p in predictions]
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def _compute(self, predictions, references, no_answer_threshold: float = 1.0):
        # The official script's steps in its order: raw scores over the references (predictions missing for a
        # reference are skipped, extra ones ignored), then na_prob > threshold turns a score into
        # "was the question unanswerable", then the totals; best_* only when probabilities were given.
        texts = {p["id"]: p["prediction_text"] for p in predictions}
        given = [p for p in predictions if p.get("no_answer_probability") is not None]
        na_probs = {p["id"]: float(p.get("no_answer_probability") or 0.0) for p in predictions}
        exact_raw, f1_raw, has_answer = {}, {}, {}
        for ref in references:
            qid = ref["id"]
            has_answer[qid] = bool(ref["answers"]["text"])  # "The" is an answer, though it normalises to ""
            golds = [a for a in ref["answers"]["text"] if normalize_answer(a)] or [""]
            if qid not in texts:
                warnings.warn(f"no prediction for question {qid}: left out of the scores", stacklevel=2)
                continue
            exact_raw[qid] = max(compute_exact(g, texts[qid]) for g in golds)
            f1_raw[qid] = max(compute_f1(g, texts[qid]) for g in golds)
        exact = _apply_no_answer_threshold(exact_raw, na_probs, has_answer, no_answer_threshold)
        f1 = _apply_no_answer_threshold(f1_raw, na_probs, has_answer, no_answer_threshold)
        result = self._aggregate(exact, f1, list(exact))
        for name, wanted in (("HasAns", True), ("NoAns", False)):
            ids = [q for q in exact if has_answer[q] == wanted]
            if ids:
                part = self._aggregate(exact, f1, ids)
                result.update(
                    {f"{name}_exact": part["exact"], f"{name}_f1": part["f1"], f"{name}_total": part["total"]}
                )
        if given and exact:
            result["best_exact"], result["best_exact_thresh"] = _best_threshold(texts, exact_raw, na_probs, has_answer)
            result["best_f1"], result["best_f1_thresh"] = _best_threshold(texts, f1_raw, na_probs, has_answer)
        return result

    @staticmethod
    def _aggregate(exact: dict, f1: dict, ids: list) -> dict:
        total = len(ids)
        return {
            "exact": 100.0 * sum(exact[q] for q in ids) / total if total else 0.0,
            "f1": 100.0 * sum(f1[q] for q in ids) / total if total else 0.0,
            "total": total,
        }


def _apply_no_answer_threshold(scores: dict, na_probs: dict, has_answer: dict, threshold: float) -> dict:
    return {q: float(not has_answer[q]) if na_probs[q] > threshold else s for q, s in scores.items()}


def _best_threshold(texts: dict, scores: dict, na_probs: dict, has_answer: dict) -> tuple[float, float]:
    """The official find_best_thresh: abstain on every question, then answer them in order of rising
    no-answer probability, keeping the threshold with the best total (the first one on ties)."""
    current = best = sum(1 for q in scores if not has_answer[q])
    best_threshold = 0.0
    for qid in sorted(na_probs, key=lambda q: na_probs[q]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            current += scores[qid]
        elif texts[qid]:
            current -= 1
        if current > best:
            best, best_threshold = current, na_probs[qid]
    return 100.0 * best / len(scores), best_threshold
