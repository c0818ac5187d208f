"""Rebuild the bundled English-Spanish translation set: verse pairs of the World English Bible (SWORD module
engWEB2015eb, Debian `sword-text-web`) and the Reina-Valera 1909 (spaRV1909eb, `sword-text-sparv`), read
with pysword. Whole books go to one split, so no chapter is split between training and evaluation.

    python -m tasks.translation.build_dataset [--out tasks/translation/data] [--testament nt|all]

By default all 66 books are written (31,011 pairs, 2.9 MB; the bundled set): the warm-started model learns to
translate from more verses than the New Testament's 6,230 training pairs hold. `--testament nt` writes only the
New Testament (7,936 pairs); validation (Mark, Galatians) and test (John) are the same either way.
"""

from __future__ import annotations

import re
from pathlib import Path

from shared.dataset_builders import builder_main, unpack, write_jsonl_gz

PACKAGES = {"sword-text-web": "426.0-1", "sword-text-sparv": "2.60-1"}
SOURCE, TARGET = ("en", "engWEB2015eb"), ("es", "spaRV1909eb")
# whole books per evaluation split (about 10% of the New Testament each); every other book is training data
EVALUATION_BOOKS = {"validation": ("Mark", "Galatians"), "test": ("John",)}
LENGTH_RATIO = (0.5, 2.2)  # Spanish/English characters; outside this a verse pair is misaligned
_SPACES = re.compile(r"\s+")
_GLUED = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])")  # markup removal glues words: "only bornSon"
_CHAPTER_CAPITALS = re.compile(r"^([A-ZÁÉÍÓÚÑ])([A-ZÁÉÍÓÚÑ]+)\b")  # RV1909 prints "EN el principio"


def clean(text: str) -> str:
    text = _GLUED.sub(" ", _SPACES.sub(" ", text).strip())
    return _CHAPTER_CAPITALS.sub(lambda m: m.group(1) + m.group(2).lower(), text)


def build(out: Path, testament: str = "all") -> dict[str, int]:
    from pysword.modules import SwordModules

    modules = SwordModules(str(unpack(PACKAGES) / "usr/share/sword"))
    modules.parse_modules()
    source, target = modules.get_bible_from_module(SOURCE[1]), modules.get_bible_from_module(TARGET[1])
    # the Spanish module's versification (KJV) lists the books both share; the English one adds deuterocanon
    books = target.get_structure().get_books()
    rows: dict[str, list[dict]] = {"train": [], "validation": [], "test": []}
    dropped = 0
    for book in [*(books["ot"] if testament == "all" else []), *books["nt"]]:
        split = next((s for s, names in EVALUATION_BOOKS.items() if book.name in names), "train")
        for chapter, verses in enumerate(book.chapter_lengths, start=1):
            for verse in range(1, verses + 1):
                where = {"books": [book.osis_name], "chapters": [chapter], "verses": [verse], "clean": True}
                english, spanish = clean(source.get(**where)), clean(target.get(**where))
                if not english or not spanish:
                    continue
                if not LENGTH_RATIO[0] <= len(spanish) / len(english) <= LENGTH_RATIO[1]:
                    dropped += 1
                    continue
                rows[split].append(
                    {
                        "translation": {SOURCE[0]: english, TARGET[0]: spanish},
                        "reference": f"{book.name} {chapter}:{verse}",
                    }
                )
    for split, split_rows in rows.items():
        write_jsonl_gz(out / f"{split}.jsonl.gz", split_rows)
    return {**{split: len(split_rows) for split, split_rows in rows.items()}, "dropped_misaligned": dropped}


if __name__ == "__main__":
    builder_main(
        build,
        __doc__,
        Path(__file__).parent / "data",
        lambda parser: parser.add_argument("--testament", choices=("nt", "all"), default="all"),
    )
