"""SQuAD v2.0 exact match and F1, following the official evaluation script (v2.0) rule for rule:
answers are normalised (lower case, punctuation and articles a/an/the removed, whitespace collapsed); each
prediction takes the max over its gold answers; a question without gold answers counts as correct only when
the prediction is empty; scores are percentages with HasAns/NoAns breakdowns. With `no_answer_threshold`,
predictions whose no_answer_probability exceeds it are emptied first, as the official script's na_prob does."""

import collections
import re
import string

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
                        "no_answer_probability": datasets.Value("float32"),
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

    def _compute(self, predictions, references, no_answer_threshold: float = 1.0):
        predicted = {}
        for p in predictions:
            empty = p.get("no_answer_probability", 0.0) > no_answer_threshold
            predicted[p["id"]] = "" if empty else p["prediction_text"]
        exact, f1, has_answer = {}, {}, {}
        for ref in references:
            qid = ref["id"]
            golds = [a for a in ref["answers"]["text"] if normalize_answer(a)] or [""]
            has_answer[qid] = golds != [""]
            if qid not in predicted:
                continue  # the official script skips (and warns about) missing predictions
            exact[qid] = max(compute_exact(g, predicted[qid]) for g in golds)
            f1[qid] = max(compute_f1(g, predicted[qid]) for g in golds)
        result = self._aggregate(exact, f1, list(exact))
        for name, wanted in (("HasAns", True), ("NoAns", False)):
            ids = [q for q in exact if has_answer[q] == wanted]
            if ids:
                part = self._aggregate(exact, f1, ids)
                result.update(
                    {f"{name}_exact": part["exact"], f"{name}_f1": part["f1"], f"{name}_total": part["total"]}
                )
        return result

    @staticmethod
    def _aggregate(exact: dict, f1: dict, ids: list) -> dict:
        total = len(ids)
        return {
            "exact": 100.0 * sum(exact[q] for q in ids) / total if total else 0.0,
            "f1": 100.0 * sum(f1[q] for q in ids) / total if total else 0.0,
            "total": total,
        }
