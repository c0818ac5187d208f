"""Rebuild the bundled token-classification set (manpages-ner) from the man pages installed by Debian packages.

The tags come from the pages' own groff markup, kept by rendering with overstrike ("c\\bc" bold, "_\\bc" italic):
man pages set option names in bold and the values a user supplies in italic (man-pages(7)), which is exactly what
a reader of a command line needs told apart. Each word of a paragraph gets one BIO tag:
- PATH: a file or directory path (/etc/passwd, ~/.bashrc, ./configure, $HOME/.config), whatever its font;
- ENV: an environment variable: $NAME, a name listed in the page's ENVIRONMENT section, or a common one (HOME,
  LC_ALL, XDG_CONFIG_HOME, ...) when it is not set in italic as a placeholder;
- OPTION: a bold word that is an option (-v, --verbose);
- ARGUMENT: an italic word, a placeholder for what the user types (FILE, pattern); consecutive italic words are one;
- O: everything else. The model sees only the plain words: it must learn from context what the font said.

Paragraphs come from the SYNOPSIS, DESCRIPTION, OPTIONS, ENVIRONMENT, FILES and EXAMPLES sections of sections 1
and 8, cut at sentence ends into examples of at most 64 words; each page gives at most 8 examples with an entity
and 1 without, and each Debian package at most 30 pages (one package ships 16,000 near-identical pages here).
Splits are made by page name with the hash and shares the QA set uses, so a page is in the same split in both.

    python -m tasks.token_classification.build_dataset [--out tasks/token_classification/data]

Needs `groff` (Debian `groff-base`). The pages used, with their Debian package and version, go to pages.tsv.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import defaultdict
from pathlib import Path

from shared.dataset_builders import builder_main, split_of, write_jsonl_gz
from shared.man_pages import MAN_ROOT, package_owners, render
from tasks.token_classification.tagging import OUTSIDE, entities, word_spans

SECTIONS = ("man1", "man8")
KEPT_SECTIONS = ("SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "FILES", "EXAMPLES")
SPLIT_SHARES = {"train": 0.8, "validation": 0.1, "test": 0.1}  # as tasks/question_answering/build_dataset.py
SUBSECTION_INDENT = 7  # groff's man macros indent .SS headings by 3 columns, paragraphs by 7
MAX_WORDS = 64
MIN_WORDS = 4
EXAMPLES_PER_PAGE = 8
PAGES_PER_PACKAGE = 30
COMMON_ENVIRONMENT = re.compile(
    r"(HOME|PATH|LANG|LANGUAGE|TERM|SHELL|USER|LOGNAME|EDITOR|VISUAL|PAGER|TMPDIR|TZ|DISPLAY|POSIXLY_CORRECT"
    r"|LC_[A-Z]+|XDG_[A-Z_]+)"
)
_PATH = re.compile(r"(?:~|\.{1,2}|\$\{?[A-Z_]+\}?)?/[\w.~*@%+#-]")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]+")
_TABLE_CELL = re.compile(r"\bT[{}]|\bT [{}]")
_OPTION = re.compile(r"--?[A-Za-z0-9][\w-]*")


def fonts(line: str) -> tuple[str, str]:
    """Overstruck text -> (plain text, one font letter per character: R roman, B bold, I italic)."""
    chars, styles, index = [], [], 0
    while index < len(line):
        end = index
        while end + 2 < len(line) and line[end + 1] == "\b":
            end += 2
        struck = line[index : end + 1 : 2]  # every character printed over the same cell
        last = struck[-1]
        if len(struck) == 1:
            style = "R"
        else:
            style = "B" if struck[-2] == last else "I"  # "c\bc" bold, "_\bc" italic ("_\b_": either; read bold)
        chars.append(last)
        styles.append(style)
        index = end + 1
    return "".join(chars), "".join(styles)


def paragraphs(rendered: str) -> list[tuple[str, str, str]]:
    """(section, plain text, fonts) of each paragraph of the kept sections; the lines of one paragraph joined."""
    found, section, lines = [], None, []

    def close() -> None:
        if section and lines:
            text = " ".join(line for line, _ in lines)
            style = "R".join(style for _, style in lines)
            found.append((section, text, style))
        lines.clear()

    for raw in rendered.splitlines():
        text, style = fonts(raw)
        if text and not text[0].isspace():  # a section heading
            close()
            section = next((name for name in KEPT_SECTIONS if name in text.upper()), None)
        elif not text.strip():
            close()
        else:
            indent = len(text) - len(text.lstrip())
            if indent < SUBSECTION_INDENT and set(style[indent:].replace(" ", "")) <= {"B"}:
                close()  # a subsection heading (.SS), not part of the paragraph below it
                continue
            lines.append((text[indent:].rstrip(), style[indent : len(text.rstrip())]))
    close()
    return found


def environment_names(paragraphs_of_page: list[tuple[str, str, str]]) -> set[str]:
    """The variables a page documents: the first word of each paragraph of its ENVIRONMENT section."""
    names = set()
    for section, text, _ in paragraphs_of_page:
        first = text.split(maxsplit=1)[0].strip(",:") if section == "ENVIRONMENT" and text.split() else ""
        if _ENV_NAME.fullmatch(first):
            names.add(first)
    return names


def tag_words(text: str, style: str, environment: set[str]) -> tuple[list[str], list[str]]:
    spans = word_spans(text)
    tokens = [text[start:end] for start, end in spans]
    tags, previous = [], OUTSIDE
    for index, ((start, end), word) in enumerate(zip(spans, tokens)):
        font = _font_of(word, style[start:end])
        before = tokens[index - 1] if index else ""
        if _PATH.match(word):
            tag = "B-PATH"
        elif (word.startswith("$") and _ENV_NAME.fullmatch(word[1:])) or (
            (word in environment or COMMON_ENVIRONMENT.fullmatch(word)) and font != "I" and before != "="
        ):
            tag = "B-ENV"
        elif font == "B" and _OPTION.fullmatch(word):
            tag = "B-OPTION"
        elif font == "I" and any(c.isalnum() for c in word):
            # an italic phrase is one placeholder: continue it only across adjacent italic words
            joined = previous.endswith("ARGUMENT") and spans[index - 1][1] + 1 >= start
            tag = "I-ARGUMENT" if joined else "B-ARGUMENT"
        else:
            tag = OUTSIDE
        tags.append(tag)
        previous = tag
    return tokens, tags


def _font_of(word: str, style: str) -> str:
    letters = [f for c, f in zip(word, style) if c.isalnum()] or list(style)
    return max("RBI", key=letters.count)


def chunks(tokens: list[str], tags: list[str]) -> list[tuple[list[str], list[str]]]:
    """Sentences grouped into examples of at most MAX_WORDS words (a longer sentence is cut)."""
    sentences, start = [], 0
    for index, token in enumerate(tokens):
        if token in (".", "?", "!") and (index + 1 == len(tokens) or tokens[index + 1][:1].isupper()):
            sentences.append((start, index + 1))
            start = index + 1
    if start < len(tokens):
        sentences.append((start, len(tokens)))
    out, current = [], None
    for begin, end in sentences:
        while end - begin > MAX_WORDS:
            out.append((begin, begin + MAX_WORDS))
            begin += MAX_WORDS
        if current and end - current[0] <= MAX_WORDS:
            current = (current[0], end)
        else:
            if current:
                out.append(current)
            current = (begin, end)
    if current:
        out.append(current)
    # an I- tag cut from its B- starts the example: make it the B- it stands for
    return [(tokens[b:e], [_begin_if_first(t, i) for i, t in enumerate(tags[b:e])]) for b, e in out if e - b]


def _begin_if_first(tag: str, index: int) -> str:
    return "B" + tag[1:] if index == 0 and tag.startswith("I-") else tag


def page_examples(command: str, rendered: str) -> list[dict]:
    found = paragraphs(rendered)
    environment = environment_names(found)
    with_entities, without = [], []
    for section, text, style in found:
        if _TABLE_CELL.search(text):
            continue  # a tbl(1) table that groff -man printed raw: cells, not prose
        tokens, tags = tag_words(text, style, environment)
        for words, word_tags in chunks(tokens, tags):
            if len(words) < MIN_WORDS:
                continue
            row = {"section": section, "tokens": words, "ner_tags": word_tags}
            (with_entities if entities(words, word_tags) else without).append(row)
    rng = random.Random(command)  # the same page gives the same examples whatever else is installed
    picked = rng.sample(with_entities, min(EXAMPLES_PER_PAGE, len(with_entities))) + rng.sample(
        without, min(1, len(without))
    )
    return [
        {"id": f"{command}-{index}", "page": command, **row}
        for index, row in enumerate(sorted(picked, key=lambda r: (KEPT_SECTIONS.index(r["section"]), r["tokens"])))
    ]


def man_pages(owners: dict[str, tuple[str, str]]) -> list[Path]:
    """Pages of sections 1 and 8 that a package installed, at most PAGES_PER_PACKAGE per package (by hash)."""
    by_package = defaultdict(list)
    for folder in SECTIONS:
        for page in (MAN_ROOT / folder).glob("*"):
            if not page.is_symlink() and str(page) in owners:
                by_package[owners[str(page)][0]].append(page)
    picked = []
    for pages in by_package.values():
        pages.sort(key=lambda p: hashlib.sha256(p.name.encode()).hexdigest())
        picked += pages[:PAGES_PER_PACKAGE]
    return sorted(picked)


def build(out: Path) -> dict[str, int]:
    owners = package_owners()
    splits: dict[str, list[dict]] = {name: [] for name in SPLIT_SHARES}
    used_pages = []
    for page in man_pages(owners):
        command = page.name.split(".")[0]
        rows = page_examples(command, render(page, fonts=True))
        if not rows:
            continue
        split = split_of(command, SPLIT_SHARES)
        splits[split] += rows
        used_pages.append((page.name, *owners[str(page)], split))
    for split, rows in splits.items():
        write_jsonl_gz(out / f"{split}.jsonl.gz", rows)
    with open(out / "pages.tsv", "w") as handle:
        handle.write("page\tdebian_package\tversion\tsplit\n")
        handle.writelines("\t".join(row) + "\n" for row in used_pages)
    return {split: len(rows) for split, rows in splits.items()}


if __name__ == "__main__":
    builder_main(build, __doc__, Path(__file__).parent / "data")
