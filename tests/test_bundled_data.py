"""The bundled real data of every task loads through the same readers as user data, with splits that do not
leak into each other, and stays small enough to ship in the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.audio import read_audio
from shared.data_files import load_table, split_file
from tasks.speech_recognition.data import BUNDLED as SPEECH
from tasks.speech_recognition.data import load_split

ROOT = Path(__file__).resolve().parents[1] / "tasks"
SPLITS = ("train", "validation", "test")


def _rows(task: str, split: str) -> list[dict]:
    return load_table(str(split_file(ROOT / task / "data", split))).to_list()


def _disjoint(values_by_split: dict[str, set]) -> bool:
    seen: set = set()
    for values in values_by_split.values():
        if seen & values:
            return False
        seen |= values
    return True


def test_translation_pairs_are_split_by_book():
    books = {}
    for split in SPLITS:
        rows = _rows("translation", split)
        assert len(rows) > 500 and all(r["translation"]["en"] and r["translation"]["es"] for r in rows)
        books[split] = {r["reference"].rsplit(" ", 1)[0] for r in rows}
    assert books["test"] == {"John"} and _disjoint(books)


def test_summarization_pairs_are_split_by_page():
    pages = {}
    for split in SPLITS:
        rows = _rows("summarization", split)
        assert len(rows) > 50
        assert all(len(r["summary"].split()) <= 20 <= len(r["document"].split()) for r in rows)
        pages[split] = {r["page"] for r in rows}
    assert _disjoint(pages)


def test_speech_clips_read_at_16_khz_and_near_duplicates_share_a_split():
    groups = {}
    for split in SPLITS:
        rows = load_split(SPEECH, split)
        assert len(rows) > 40 and all(r["text"].strip() for r in rows)
        groups[split] = {r["group"] for r in rows}
    assert _disjoint(groups)
    audio = read_audio(rows[0]["path"]).audio
    assert audio.ndim == 1 and len(audio) == pytest.approx(rows[0]["seconds"] * 16_000, abs=160)


@pytest.mark.parametrize(
    "name, classes, per_split",
    [
        ("fashion-mnist", 10, {"train": 2000, "validation": 500, "test": 1000}),
        ("clipart", 10, None),
    ],
)
def test_image_sets_load_as_imagefolders(name, classes, per_split):
    import datasets

    data = datasets.load_dataset("imagefolder", data_dir=str(ROOT / "image_classification" / "data" / name))
    assert set(data) == set(SPLITS)
    assert len(data["train"].features["label"].names) == classes
    if per_split:
        assert {split: len(data[split]) for split in SPLITS} == per_split
        assert set(data["test"]["label"]) == set(range(classes))


def test_all_bundled_data_stays_under_30_mb():
    total = sum(p.stat().st_size for p in ROOT.glob("*/data/**/*") if p.is_file())
    assert total < 30e6, f"{total / 1e6:.1f} MB"
