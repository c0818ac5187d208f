"""Rebuild the bundled extractive-QA set from the Linux man pages installed by Debian packages.

Every man page in sections 1 and 8 whose OPTIONS section lists option entries becomes a few SQuAD-style
paragraphs: a context of up to six consecutive option entries, one question per entry ("What does the -x
option of cmd do?") whose answer is the first sentence of that entry's description, plus one question per
paragraph about an option of the same page that the paragraph does NOT contain (no answer, SQuAD v2 style).
Splits are made by man page, so that no page is seen in two splits.

    python -m tasks.question_answering.build_dataset [--out tasks/question_answering/data]

Needs `groff` (Debian `groff-base`, present on Debian by default) and the man pages of the installed packages.
The pages used, with their Debian package and version, are written to pages.tsv beside the data.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.dataset_builders import split_of
from shared.man_pages import MAN_ROOT, package_owners, render, section

SECTIONS = ("man1", "man8")
ENTRIES_PER_CONTEXT = 6
# Contexts stop growing at about 1,000 characters (~250 tokens), so most fit one model window: on a 2-core CPU
# that doubles the examples seen per minute of fine-tuning compared with 6 entries of any length.
MAX_CONTEXT_CHARS = 1000
MAX_CONTEXTS_PER_PAGE = 4  # keeps a few huge pages (gcc, ffmpeg) from dominating the set
MAX_ANSWER_WORDS = 50
SPLIT_SHARES = {"train": 0.8, "validation": 0.1, "test": 0.1}
QUESTION_TEMPLATES = (
    "What does the {option} option of {command} do?",
    "What is the {option} option of {command} for?",
    "What happens when {command} is run with {option}?",
)
TAG_INDENT = 7  # groff's man macros indent a .TP tag by 7 columns and its body by 14
_TAG_LINE = re.compile(r"^ {7}(-{1,2}[A-Za-z0-9?#@][^ ]*(?:,? [^ ]+)*?)(?: {2,}(\S.*))?$")
_OPTION_NAME = re.compile(r"^-{1,2}[A-Za-z0-9?#@][A-Za-z0-9_?#@.+-]*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


@dataclass(frozen=True)
class OptionEntry:
    tag: str  # as printed, e.g. "-a, --all"
    option: str  # how questions name it: the first long option in the tag if any ("--all"), else the first
    description: str


def options_section(text: str) -> list[str]:
    return section(text, "OPTION")


def option_entries(section: list[str]) -> list[OptionEntry]:
    entries: list[OptionEntry] = []
    tag, body = None, []

    def close() -> None:
        if tag is not None and body:
            description = " ".join(" ".join(body).split())
            option = question_option(tag)
            if option and description:
                entries.append(OptionEntry(tag=tag, option=option, description=description))

    for line in section:
        match = _TAG_LINE.match(line)
        if match:
            close()
            tag, body = match.group(1).strip(), [match.group(2)] if match.group(2) else []
        elif line.startswith(" " * (TAG_INDENT + 1)) and tag is not None:
            body.append(line.strip())
        elif line.strip():  # prose at the tag's indent ends the entry
            close()
            tag, body = None, []
    close()
    return entries


def question_option(tag: str) -> str | None:
    """People ask about `--all` rather than `-a` when both exist; a long name is also less ambiguous
    (`-l` and `-L` read the same to an uncased model)."""
    names = [m.group(0).rstrip(".,") for m in (_OPTION_NAME.match(part.strip()) for part in tag.split(",")) if m]
    long_names = [n for n in names if n.startswith("--")]
    return (long_names or names or [None])[0]


def first_sentence(description: str) -> str:
    return _SENTENCE_END.split(description, maxsplit=1)[0].strip()


def page_paragraphs(command: str, entries: list[OptionEntry], rng: random.Random) -> list[dict]:
    # One option name per page may appear in several entries (e.g. documented twice): keep the first.
    seen, unique = set(), []
    for entry in entries:
        if entry.option not in seen:
            seen.add(entry.option)
            unique.append(entry)
    blocks, current, size = [], [], 0
    for entry in unique:
        length = len(entry.tag) + len(entry.description) + 3
        if current and (len(current) == ENTRIES_PER_CONTEXT or size + length > MAX_CONTEXT_CHARS):
            blocks.append(current)
            current, size = [], 0
        current.append(entry)
        size += length
    blocks.append(current)
    blocks = [b for b in blocks if len(b) >= 2][:MAX_CONTEXTS_PER_PAGE]  # one entry alone has no distractor
    paragraphs = []
    for index, block in enumerate(blocks):
        context, questions = "", []
        for entry in block:
            prefix = f"{entry.tag}\n"
            start_of_description = len(context) + len(prefix)
            context += f"{prefix}{entry.description}\n\n"
            answer = first_sentence(entry.description)
            if not answer or len(answer.split()) > MAX_ANSWER_WORDS:
                continue
            questions.append((entry.option, answer, start_of_description))
        context = context.rstrip("\n")
        qas = []
        for option, answer, start in questions:
            assert context[start : start + len(answer)] == answer
            question = rng.choice(QUESTION_TEMPLATES).format(option=option, command=command)
            qas.append(
                {
                    "id": _qid(command, index, question),
                    "question": question,
                    "is_impossible": False,
                    "answers": [{"text": answer, "answer_start": start}],
                }
            )
        # case-insensitive: "-L" is not absent from a context that documents "-l", for an uncased model
        absent = [
            e.option
            for other in blocks
            if other is not block
            for e in other
            if not re.search(rf"(?<![\w-]){re.escape(e.option)}(?![\w-])", context, flags=re.IGNORECASE)
        ]
        if absent:
            question = rng.choice(QUESTION_TEMPLATES).format(option=rng.choice(absent), command=command)
            qas.append(
                {"id": _qid(command, index, question), "question": question, "is_impossible": True, "answers": []}
            )
        if qas:
            paragraphs.append({"context": context, "qas": qas})
    return paragraphs


def _qid(command: str, block: int, question: str) -> str:
    return hashlib.sha1(f"{command}|{block}|{question}".encode()).hexdigest()[:16]


def man_pages() -> Iterator[Path]:
    for folder in SECTIONS:
        yield from sorted((MAN_ROOT / folder).glob("*"))


def build(out: Path, seed: int = 0) -> dict[str, int]:
    rng = random.Random(seed)
    owners = package_owners()
    splits: dict[str, list[dict]] = {name: [] for name in SPLIT_SHARES}
    used_pages = []
    for page in man_pages():
        if page.is_symlink() or str(page) not in owners:
            continue
        command = page.name.split(".")[0]
        paragraphs = page_paragraphs(command, option_entries(options_section(render(page))), rng)
        if not paragraphs:
            continue
        split = split_of(command, SPLIT_SHARES)
        splits[split].append({"title": command, "paragraphs": paragraphs})
        used_pages.append((page.name, *owners[str(page)], split))
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, articles in splits.items():
        document = {"version": "v2.0", "data": articles}
        with gzip.GzipFile(out / f"{split}.json.gz", "wb", mtime=0) as handle:
            handle.write(json.dumps(document, ensure_ascii=False, sort_keys=True).encode())
        counts[split] = sum(len(p["qas"]) for a in articles for p in a["paragraphs"])
    with open(out / "pages.tsv", "w") as handle:
        handle.write("page\tdebian_package\tversion\tsplit\n")
        handle.writelines("\t".join(row) + "\n" for row in used_pages)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(build(args.out, args.seed)))


if __name__ == "__main__":
    main()
