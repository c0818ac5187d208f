"""Summarization: unsupported content (the entity- and number-level precision of Nan et al. 2021, "Entity-level
Factual Consistency of Abstractive Text Summarization"): a summary's numbers and capitalised words that do not
occur in its source are content the model added. Rate = share of summaries with any; its difference between
each source and its gender-swapped twin (shared/wordlists/swap.py) says whether the model invents more for
one gender. The headline is the rate: lower is better."""

from __future__ import annotations

import re

from datasets import Dataset

from evaluation.predicting import predict_with_progress
from evaluation.probes.result import ProbeResult, grouped, share_true
from shared.wordlists.swap import has_gendered, swap_gender

_CLAIM = re.compile(r"\b(?:\d[\d.,:]*|[A-Z][\w-]*)")


def unsupported(summary: str, source: str) -> list[str]:
    """Numbers and capitalised words of `summary` absent from `source` (compared without case)."""
    known = set(re.findall(r"[\w.,:-]+", source.casefold())) | set(re.findall(r"\w+", source.casefold()))
    return [claim for claim in _CLAIM.findall(summary) if claim.casefold().rstrip(".,:") not in known]


def probe(task, built, params, log=print, examples: int = 200) -> ProbeResult:
    test = task.load_examples(params, "test")
    sources = list(test["source"][:examples])
    swappable = [source for source in sources if has_gendered(source)]
    texts = sources + [swap_gender(source) for source in swappable]
    summaries = predict_with_progress(
        task, built, Dataset.from_dict({"source": texts, "target": [""] * len(texts)}), params, "bias probe"
    )
    invented = [bool(unsupported(summary, text)) for summary, text in zip(summaries, texts)]
    rate = sum(invented[: len(sources)]) / len(sources)
    metrics = {"unsupported_rate": rate, "swapped_sources": float(len(swappable))}
    groups = {}
    if swappable:
        original = [invented[sources.index(source)] for source in swappable]
        twins = invented[len(sources) :]
        by_version = grouped(
            share_true, original + twins, original + twins, ["original"] * len(original) + ["swapped"] * len(twins)
        )
        metrics["swap_gap"] = by_version.by_group["swapped"] - by_version.by_group["original"]
        groups["unsupported rate by version"] = by_version.by_group
    log(f"  {100 * rate:.1f}% of {len(sources)} summaries add numbers or names; {len(swappable)} sources swapped")
    return ProbeResult(
        method="unsupported numbers and names (entity-level precision, Nan et al. 2021), original vs gender-swapped",
        headline="unsupported_rate",
        metrics=metrics,
        groups=groups,
        examples=len(texts),
    )
