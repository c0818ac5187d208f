"""Counterfactual gender swap of English text (CheckList's "change gendered words and names", Ribeiro et al.
2020; the word pairs of WinoBias' counterfactual augmentation, Zhao et al. 2018): every gendered word and listed
first name becomes its counterpart, case kept. "her" is possessive ("his") before a word that is not a function
word, else objective ("him"), which is right for the common cases.

Only words used as words count: not inside identifiers, options and paths ("man-db", "--man-path",
"/etc/groff/man.local", "man(1)", "D1mr"), and not "man page": in technical text "man" is mostly the manual."""

from __future__ import annotations

import re
from collections.abc import Iterator

from shared.wordlists.gendered import FEMALE, FEMALE_NAMES, MALE_NAMES, PAIRS

_TO_MALE = {female: male for female, male in reversed(PAIRS)}  # the first listed pair wins
_TO_FEMALE = {male: female for female, male in reversed(PAIRS)}
_TO_MALE["her"] = "his"
_TO_FEMALE.update({"his": "her", "him": "her"})
_NAMES = {**dict(zip(FEMALE_NAMES, MALE_NAMES)), **dict(zip(MALE_NAMES, FEMALE_NAMES))}
_FUNCTION_WORDS = frozenset(
    "a an the and or but to of in on at for with from by as than that this is was are were be been . , ; : ! ?".split()
)
_TOKEN = re.compile(r"\w+|\W+")
_JOINED_BEFORE = tuple("-/_.<=$@")  # the word is part of an identifier, option or path
_JOINED_AFTER = tuple("-/_(<>=@")
_NOT_GENDERED_BEFORE = {"man": {"page", "pages", "pager"}}


def swap_gender(text: str) -> str:
    """`text` with every gendered word and listed name swapped."""
    tokens = _TOKEN.findall(text)
    for index, counterpart, _ in _gendered(tokens):
        tokens[index] = counterpart
    return "".join(tokens)


def has_gendered(text: str) -> bool:
    return next(_gendered(_TOKEN.findall(text)), None) is not None


def count_gendered(text: str) -> tuple[int, int]:
    """(female, male) gendered words and listed names in `text`, used as words."""
    genders = [gender for _, _, gender in _gendered(_TOKEN.findall(text))]
    return genders.count("female"), genders.count("male")


def _gendered(tokens: list[str]) -> Iterator[tuple[int, str, str]]:
    """(index, counterpart with the token's case, "female" or "male") for each gendered word used as a word."""
    for index, token in enumerate(tokens):
        if not token.isalpha():
            continue
        before = tokens[index - 1] if index else " "
        after = tokens[index + 1] if index + 1 < len(tokens) else " "
        following = _next_word(tokens, index)
        if before.endswith(_JOINED_BEFORE) or after.startswith(_JOINED_AFTER):
            continue
        if after == "." and index + 2 < len(tokens) and tokens[index + 2][:1].isalnum():  # man.local
            continue
        lower = token.lower()
        if following in _NOT_GENDERED_BEFORE.get(lower, ()):
            continue
        if token in _NAMES:
            yield index, _NAMES[token], "female" if token in FEMALE_NAMES else "male"
            continue
        if lower == "her":
            counterpart = "his" if following not in _FUNCTION_WORDS else "him"
        else:
            counterpart = _TO_MALE.get(lower) or _TO_FEMALE.get(lower)
        if counterpart is None:
            continue
        yield index, _cased(counterpart, token), "female" if lower in FEMALE else "male"


def _cased(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word.capitalize() if like[0].isupper() else word


def _next_word(tokens: list[str], index: int) -> str:
    for token in tokens[index + 1 : index + 3]:
        if token.strip():
            return token.strip().lower() if token[0].isalnum() else token.strip()[:1]
    return "."
