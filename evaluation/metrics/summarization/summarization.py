"""ROUGE-1/2/L/Lsum F-measures as Google's rouge-score package computes them (Porter stemming on, its own
lower-casing tokeniser), averaged over summaries and given as 0-100, plus the mean summary length in words.

ROUGE-Lsum treats newlines as sentence breaks; sentences are split here on end punctuation followed by space
(nltk's punkt model, which the Hugging Face scripts use, needs a download that offline machines do not have)."""

import re

import datasets
import evaluate
from rouge_score import rouge_scorer

_DESCRIPTION = "ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum F1 (rouge-score, stemmed), mean length in words."
_KWARGS = "predictions: list of summaries; references: list of reference summaries (one per prediction)."
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences_on_lines(text: str) -> str:
    return "\n".join(part for part in _SENTENCE_END.split(text.strip()) if part)


class Summarization(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Lin, 2004, ROUGE: A Package for Automatic Evaluation of Summaries",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
        each = [
            scorer.score(sentences_on_lines(reference), sentences_on_lines(prediction))
            for prediction, reference in zip(predictions, references)
        ]
        # the plain mean: rouge-score's BootstrapAggregator would report a resampled estimate instead
        scores = {name: 100 * sum(s[name].fmeasure for s in each) / max(len(each), 1) for name in ROUGE_TYPES}
        scores["mean_length_words"] = sum(len(p.split()) for p in predictions) / max(len(predictions), 1)
        return scores
