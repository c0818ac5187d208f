"""Text normalisation before comparing transcripts (WER/CER, round trips, fidelity checks): Whisper's English
normaliser (case, punctuation, spelled-out numbers to digits, British to American spelling, "mr." -> "mister"
...), its basic any-language normaliser, or none."""

from __future__ import annotations

from collections.abc import Callable

NORMALISERS = ("english", "basic", "none")


def normaliser_for(name: str) -> Callable[[str], str]:
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer, EnglishTextNormalizer

    if name == "english":
        return EnglishTextNormalizer({})
    if name == "basic":
        return BasicTextNormalizer()
    if name == "none":
        return lambda text: text
    raise ValueError(f"unknown normaliser '{name}': use {', '.join(NORMALISERS)}")


def scored_pairs(references: list[str], hypotheses: list[str], normaliser: str) -> tuple[list[str], list[str]]:
    """Normalised (references, hypotheses); an utterance whose reference normalises to nothing cannot be scored
    by WER, so it is left out."""
    normalise = normaliser_for(normaliser)
    pairs = [(normalise(r), normalise(h)) for r, h in zip(references, hypotheses)]
    pairs = [(r, h) for r, h in pairs if r.strip()]
    return [r for r, _ in pairs], [h for _, h in pairs]
