"""Word and character error rates after a stated text normalisation, with the edit counts behind them.

normaliser "english" (default): Whisper's English normaliser (case, punctuation, spelled-out numbers to digits,
British to American spelling, "mr." -> "mister" ...); "basic": Whisper's basic normaliser (case, punctuation,
any language); "none": compare the texts as given. Rates are fractions (0.05 = 5% WER), computed by jiwer over
the whole corpus (errors summed over all utterances, divided by the reference words), as the usual tools do."""

import datasets
import evaluate
import jiwer

_DESCRIPTION = "Corpus WER and CER with substitutions, insertions and deletions, after a stated normalisation."
_KWARGS = """predictions: list of transcripts; references: list of reference transcripts;
normaliser: "english" | "basic" | "none"."""


def normaliser_for(name: str):
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer, EnglishTextNormalizer

    if name == "english":
        return EnglishTextNormalizer({})
    if name == "basic":
        return BasicTextNormalizer()
    if name == "none":
        return lambda text: text
    raise ValueError(f"unknown normaliser '{name}': use english, basic or none")


class Wer(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}))

    def _compute(self, predictions, references, normaliser="english"):
        normalise = normaliser_for(normaliser)
        pairs = [(normalise(r), normalise(p)) for r, p in zip(references, predictions)]
        # an utterance whose reference normalises to nothing cannot be scored by WER: it is left out
        pairs = [(r, p) for r, p in pairs if r.strip()]
        refs, hyps = [r for r, _ in pairs], [p for _, p in pairs]
        words = jiwer.process_words(refs, hyps)
        characters = jiwer.process_characters(refs, hyps)
        return {"wer": float(words.wer), "cer": float(characters.cer),
                "substitutions": int(words.substitutions), "insertions": int(words.insertions),
                "deletions": int(words.deletions), "reference_words": int(words.hits + words.substitutions +
                                                                          words.deletions)}
