"""Corpus BLEU and chrF++ as sacreBLEU computes them, with sacreBLEU's signature strings, so a score can be
compared with any paper that quotes the same signature. One reference per sentence; scores are 0-100."""

import datasets
import evaluate
from sacrebleu.metrics import BLEU, CHRF

_DESCRIPTION = "sacreBLEU corpus BLEU (13a tokenisation, exponential smoothing) and chrF++ (word order 2)."
_KWARGS = "predictions: list of translations; references: list of reference translations (one per prediction)."


class Translation(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Post, 2018, A Call for Clarity in Reporting BLEU Scores",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        bleu, chrf = BLEU(), CHRF(word_order=2)
        bleu_score = bleu.corpus_score(predictions, [references])
        chrf_score = chrf.corpus_score(predictions, [references])
        return {
            "bleu": bleu_score.score,
            "chrf++": chrf_score.score,
            "bleu_signature": str(bleu.get_signature()),
            "chrf_signature": str(chrf.get_signature()),
            "mean_length_words": sum(len(p.split()) for p in predictions) / max(len(predictions), 1),
        }
