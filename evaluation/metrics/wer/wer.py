"""Word and character error rates after a stated text normalisation, with the edit counts behind them.

normaliser "english" (default): Whisper's English normaliser (case, punctuation, spelled-out numbers to digits,
British to American spelling, "mr." -> "mister" ...); "basic": Whisper's basic normaliser (case, punctuation,
any language); "none": compare the texts as given. Rates are fractions (0.05 = 5% WER), computed by jiwer over
the whole corpus (errors summed over all utterances, divided by the reference words), as the usual tools do."""

import datasets
import evaluate
import jiwer

from shared.text_normalise import scored_pairs

_DESCRIPTION = "Corpus WER and CER with substitutions, insertions and deletions, after a stated normalisation."
_KWARGS = """predictions: list of transcripts; references: list of reference transcripts;
normaliser: "english" | "basic" | "none"."""


# error rates: lower is better (training's best checkpoint, the leaderboard's order and plots read this)
LOWER_IS_BETTER = ("wer", "cer")


class Wer(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, normaliser="english"):
        refs, hyps = scored_pairs(references, predictions, normaliser)
        words = jiwer.process_words(refs, hyps)
        characters = jiwer.process_characters(refs, hyps)
        return {
            "wer": float(words.wer),
            "cer": float(characters.cer),
            "substitutions": int(words.substitutions),
            "insertions": int(words.insertions),
            "deletions": int(words.deletions),
            "reference_words": int(words.hits + words.substitutions + words.deletions),
        }
