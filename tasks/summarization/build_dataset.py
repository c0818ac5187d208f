"""Rebuild the bundled summarization set from the Linux man-pages project (Debian `manpages` and
`manpages-dev`): the DESCRIPTION section of each page is the document, the one-line summary of its NAME
section ("printf, fprintf - formatted output conversion") is the summary. Splits are made by page.

    python -m tasks.summarization.build_dataset [--out tasks/summarization/data]

Needs `groff` and the two packages installed (they are on Debian by default).
"""

from __future__ import annotations

import re
from pathlib import Path

from shared.dataset_builders import builder_main, split_of, write_jsonl_gz
from shared.man_pages import MAN_ROOT, package_owners, render, section

PACKAGES = ("manpages", "manpages-dev")
SPLIT_SHARES = {"train": 0.8, "validation": 0.1, "test": 0.1}
MAX_DOCUMENT_WORDS = 400  # cut at a sentence end; keeps documents within a 512-token encoder
MIN_DOCUMENT_WORDS = 20
SUMMARY_WORDS = (2, 20)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def summary_of(name_section: list[str]) -> str | None:
    line = " ".join(" ".join(name_section).split())
    names, dash, summary = line.partition(" - ")
    return summary.strip() if dash and summary.strip() else None


def document_of(description: list[str]) -> str:
    paragraphs, current = [], []
    for line in description + [""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    kept, words = [], 0
    for sentence in _SENTENCE_END.split(" ".join(paragraphs)):
        words += len(sentence.split())
        if kept and words > MAX_DOCUMENT_WORDS:
            break
        kept.append(sentence)
    return " ".join(kept)


def build(out: Path) -> dict[str, int]:
    owners = package_owners()
    rows: dict[str, list[dict]] = {split: [] for split in SPLIT_SHARES}
    for path, (package, version) in sorted(owners.items()):
        page = Path(path)
        if package not in PACKAGES or page.is_symlink() or not page.is_file() or page.parent.parent != MAN_ROOT:
            continue
        text = render(page)
        summary, document = summary_of(section(text, "NAME")), document_of(section(text, "DESCRIPTION"))
        if not summary or not SUMMARY_WORDS[0] <= len(summary.split()) <= SUMMARY_WORDS[1]:
            continue
        if len(document.split()) < MIN_DOCUMENT_WORDS:
            continue
        name = page.name.removesuffix(".gz")
        rows[split_of(name, SPLIT_SHARES)].append(
            {"document": document, "summary": summary, "page": name, "package": f"{package} {version}"}
        )
    for split, split_rows in rows.items():
        write_jsonl_gz(out / f"{split}.jsonl.gz", split_rows)
    return {split: len(split_rows) for split, split_rows in rows.items()}


if __name__ == "__main__":
    builder_main(build, __doc__, Path(__file__).parent / "data")
