"""Classification metrics from predicted probabilities: accuracy, top-5 accuracy, macro-F1, expected
calibration error (15 equal-width confidence bins, Guo et al. 2017), and per-class precision and recall.
Scores are percentages, except ECE (a fraction: 0 is perfectly calibrated)."""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

_DESCRIPTION = "Accuracy, top-5 accuracy, macro-F1, ECE and per-class precision/recall, computed locally."
_KWARGS = """predictions: list of probability vectors (one per example, classes in label order);
references: list of class indices; label_names: optional class names for the per-class keys."""
ECE_BINS = 15
LOWER_IS_BETTER = ("ece",)  # read by evaluation.metrics.higher_is_better


def expected_calibration_error(probabilities: np.ndarray, references: np.ndarray, bins: int = ECE_BINS) -> float:
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == references
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


class Classification(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Sequence(datasets.Value("float32")), "references": datasets.Value("int32")}
            ),
        )

    def _compute(self, predictions, references, label_names=None):
        probabilities, references = np.asarray(predictions, dtype=np.float64), np.asarray(references)
        classes = probabilities.shape[1]
        predicted = probabilities.argmax(axis=1)
        # classes neither in the references nor predicted have no F1 (sklearn's own default): counting them as
        # 0 made a perfect model on a one-class test split score macro-F1 50
        scored = sorted(set(references.tolist()) | set(predicted.tolist()))
        k = min(5, classes)
        top_k = np.argsort(-probabilities, axis=1)[:, :k]
        results = {
            "accuracy": 100 * float((predicted == references).mean()),
            f"top{k}_accuracy": 100 * float((top_k == references[:, None]).any(axis=1).mean()),
            "macro_f1": 100 * float(f1_score(references, predicted, average="macro", labels=scored, zero_division=0)),
            "ece": expected_calibration_error(probabilities, references),
        }
        precision, recall, _, _ = precision_recall_fscore_support(references, predicted, labels=scored, zero_division=0)
        names = label_names or [str(i) for i in range(classes)]
        for name, p, r in zip([names[i] for i in scored], precision, recall):
            results[f"precision/{name}"] = 100 * float(p)
            results[f"recall/{name}"] = 100 * float(r)
        return results
