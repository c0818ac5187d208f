"""Synthetic speech judged by a recogniser and by the clock: round-trip WER and CER (the synthesised audio
transcribed by an ASR model, against the text that was spoken, after a stated normalisation), duration,
speaking rate and, where a human reading of the same text exists, mel-cepstral distortion."""

import math

import datasets
import evaluate
import jiwer

from shared.text_normalise import scored_pairs

_DESCRIPTION = "Round-trip intelligibility (WER/CER), duration, speaking rate and mel-cepstral distortion."
_KWARGS = """predictions: what the recogniser heard; references: the texts synthesised; seconds: speech duration
of each clip; mcd: mel-cepstral distortion of each clip against its reference recording (NaN where none);
sample_rate: the voice's output rate, reported beside the scores; normaliser: "english" | "basic" | "none"."""


# error rates and distances: lower is better
LOWER_IS_BETTER = ("wer", "cer", "mel_cepstral_distortion")


class SpeechSynthesis(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, seconds=None, mcd=None, sample_rate=None, normaliser="english"):
        refs, hyps = scored_pairs(references, predictions, normaliser)
        words = jiwer.process_words(refs, hyps)
        result = {"wer": float(words.wer), "cer": float(jiwer.process_characters(refs, hyps).cer)}
        if seconds:
            total_words = sum(len(r.split()) for r in refs)
            result["mean_seconds"] = sum(seconds) / len(seconds)
            result["words_per_minute"] = 60.0 * total_words / max(sum(seconds), 1e-9)
        if sample_rate:
            result["sample_rate"] = float(sample_rate)
        scored = [m for m in (mcd or []) if m is not None and not math.isnan(m)]
        if scored:
            result["mel_cepstral_distortion"] = sum(scored) / len(scored)
        return result
