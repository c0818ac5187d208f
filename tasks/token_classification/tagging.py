"""Words and BIO tags: how text is cut into the words that carry one tag each (the bundled data, the command line
and the demo cut it the same way), and how a tag sequence reads as entities (conlleval's rules, as seqeval)."""

from __future__ import annotations

import re
from dataclasses import dataclass

OUTSIDE = "O"
# A word: a shell-ish run of letters, digits and - _ / ~ * @ % + #, with inner . : ' (file.txt, host:port, don't);
# an optional leading $ (environment variables) or ./ ../ (relative paths); a run of dots; else one character.
_WORD = re.compile(r"\$?(?:\.{1,2}(?=/))?(?:[\w~/*@%+#-]|(?<=[\w/*])['.:](?=[\w/]))+|\.{2,}|\S")


@dataclass(frozen=True)
class Entity:
    type: str  # e.g. "OPTION"
    start: int  # first word
    end: int  # one past the last word
    text: str


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character span of each word of `words(text)`, to draw tags over the original text."""
    return [match.span() for match in _WORD.finditer(text)]


def entities(tokens: list[str], tags: list[str]) -> list[Entity]:
    """Spans of B-X I-X ...; an I-X that does not continue an X starts one (conlleval, seqeval's default mode)."""
    found: list[Entity] = []
    current: tuple[str, int] | None = None

    def close(end: int) -> None:
        if current is not None:
            found.append(Entity(current[0], current[1], end, " ".join(tokens[current[1] : end])))

    for index, tag in enumerate(tags):
        prefix, _, kind = tag.partition("-")
        continues = prefix == "I" and current is not None and current[0] == kind
        if tag == OUTSIDE or not continues:
            close(index)
            current = None if tag == OUTSIDE else (kind, index)
    close(len(tags))
    return found


def label_list(tag_sequences) -> list[str]:
    """Every tag in the data, "O" first, then by entity type, B before I: the model's label order."""
    tags = {tag for sequence in tag_sequences for tag in sequence} - {OUTSIDE}
    return [OUTSIDE, *sorted(tags, key=lambda tag: (tag.partition("-")[2], tag))]
