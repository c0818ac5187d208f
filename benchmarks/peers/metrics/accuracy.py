"""Top-1 accuracy (in %) as an `evaluate` module, for evaluate.evaluator("image-classification"), which passes
predicted class ids; the Hub's `accuracy` module does the same, and cannot be fetched offline."""

import datasets
import evaluate


class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Share of predictions equal to the reference class, in percent.",
            citation="",
            inputs_description="predictions: class ids; references: class ids",
            features=datasets.Features({"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}),
        )

    def _compute(self, predictions, references):
        return {"accuracy": 100 * sum(int(p == r) for p, r in zip(predictions, references)) / len(references)}
