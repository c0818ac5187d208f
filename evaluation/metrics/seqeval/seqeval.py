"""Entity-level precision, recall and F1 of BIO tag sequences (seqeval, the scorer of transformers' run_ner.py and
of CoNLL's conlleval): an entity counts only when its type and both boundaries are right. Default mode, as
conlleval: an I-X that does not continue an X starts one. Scores are percentages; token accuracy beside them;
per-type precision, recall, F1 and support."""

import datasets
import evaluate
from seqeval.metrics import accuracy_score, classification_report

_DESCRIPTION = "Entity-level precision/recall/F1 (overall, micro-averaged, and per type) and token accuracy."
_KWARGS = """predictions: list of tag sequences (one list of "B-X"/"I-X"/"O" per example);
references: list of tag sequences of the same lengths."""


class Seqeval(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string")),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
        )

    def _compute(self, predictions, references):
        report = classification_report(references, predictions, output_dict=True, zero_division=0)
        overall = report.pop("micro avg")
        results = {
            "overall_precision": 100 * float(overall["precision"]),
            "overall_recall": 100 * float(overall["recall"]),
            "overall_f1": 100 * float(overall["f1-score"]),
            "overall_accuracy": 100 * float(accuracy_score(references, predictions)),
        }
        for kind, scores in report.items():
            if kind.endswith(" avg"):
                continue
            results[f"{kind}/precision"] = 100 * float(scores["precision"])
            results[f"{kind}/recall"] = 100 * float(scores["recall"])
            results[f"{kind}/f1"] = 100 * float(scores["f1-score"])
            results[f"{kind}/support"] = float(scores["support"])
        return results
