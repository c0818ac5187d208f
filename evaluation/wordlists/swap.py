"""Counterfactual gender swap of English text (CheckList's "change gendered words and names", Ribeiro et al.
2020; the word pairs of WinoBias' counterfactual augmentation, Zhao et al. 2018): every gendered word and listed
first name becomes its counterpart, case kept. "her" is possessive ("his") before a word that is not a function
word, else objective ("him"), which is right for the common cases."""

from __future__ import annotations

import re

from evaluation.wordlists.gendered import FEMALE_NAMES, MALE_NAMES, PAIRS

_TO_MALE = {female: male for female, male in reversed(PAIRS)}  # the first listed pair wins
_TO_FEMALE = {male: female for female, male in reversed(PAIRS)}
_TO_MALE["her"] = "his"
_TO_FEMALE.update({"his": "her", "him": "her", "mr": "ms"})
_NAMES = {**dict(zip(FEMALE_NAMES, MALE_NAMES)), **dict(zip(MALE_NAMES, FEMALE_NAMES))}
_FUNCTION_WORDS = frozenset(
    "a an the and or but to of in on at for with from by as than that this is was are were be been . , ; : ! ?".split()
)
_TOKEN = re.compile(r"[A-Za-z]+|[^A-Za-z]+")


def swap_gender(text: str) -> str:
    """`text` with every gendered word and listed name swapped."""
    tokens = _TOKEN.findall(text)
    out = []
    for index, token in enumerate(tokens):
        out.append(_swapped(token, _next_word(tokens, index)))
    return "".join(out)


def has_gendered(text: str) -> bool:
    return swap_gender(text) != text


def _next_word(tokens: list[str], index: int) -> str:
    for token in tokens[index + 1 : index + 3]:
        if token.strip():
            return token.strip().lower() if token[0].isalpha() else token.strip()[:1]
    return "."


def _swapped(token: str, following: str) -> str:
    if token in _NAMES:
        return _NAMES[token]
    lower = token.lower()
    if lower == "her":
        counterpart = "his" if following not in _FUNCTION_WORDS else "him"
    else:
        counterpart = _TO_MALE.get(lower) or _TO_FEMALE.get(lower)
    if counterpart is None:
        return token
    if token.isupper() and len(token) > 1:
        return counterpart.upper()
    return counterpart.capitalize() if token[0].isupper() else counterpart
