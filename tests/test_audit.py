"""The data audit finds what it promises on data with planted problems: duplicates, leakage between splits, a
minority class, skewed gendered words, a single speaker; and it writes the report a user reads."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from apps import api
from apps.cli import main as cli_main


def _write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.fixture
def pairs_folder(tmp_path):
    """en->es pairs: two exact duplicates in train, one test pair copied from train, one only differing in case
    and punctuation, and sources that speak of men far more than of women."""
    train = [
        {"source": f"The man number {i} said he walked home.", "target": f"El hombre {i} caminó."} for i in range(40)
    ]
    train.append(dict(train[0]))  # exact duplicate
    validation = [{"source": f"A woman read book {i}.", "target": f"Una mujer leyó {i}."} for i in range(5)]
    test = [{"source": f"Test sentence {i} about rivers.", "target": f"Frase {i}."} for i in range(6)]
    test.append(dict(train[3]))  # leaked exactly
    test.append({"source": train[4]["source"].upper().replace(".", " !"), "target": "x"})  # leaked nearly
    folder = tmp_path / "pairs"
    for split, rows in {"train": train, "validation": validation, "test": test}.items():
        _write_jsonl(folder / f"{split}.jsonl", rows)
    return folder


def test_audit_finds_planted_duplicates_leakage_and_gender_skew(pairs_folder, tmp_path):
    out = tmp_path / "audit"
    found = api.audit("translation", out, data=str(pairs_folder), log=lambda _: None)

    assert found.facts["examples"] == {"test": 8, "train": 41, "validation": 5}
    assert found.facts["leakage_test"] == {"exact": 1, "near": 1}
    assert found.facts["leakage_validation"] == {"exact": 0, "near": 0}
    duplicates = found.tables["duplicates"]
    assert duplicates.loc["train", "exact duplicates"] == 1
    assert any(w.startswith("leakage: 2 of 8 test") for w in found.warnings)
    gendered = found.facts["source_gendered_words"]
    assert gendered["male"] >= 80 and gendered["female"] == 5  # "man", "he" per train row; "woman" in validation
    assert any("male" in w and "`source`" in w for w in found.warnings)
    # the target side is Spanish: the English word lists are not applied to it
    assert "target_gendered_words" not in found.facts

    report = (out / "data_audit.md").read_text()
    assert "## Warnings" in report and "leakage" in report
    assert json.loads((out / "data_audit.json").read_text())["leakage_test"] == {"exact": 1, "near": 1}


def test_audit_counts_names_by_category_and_warns_when_one_group_is_rarely_named(tmp_path):
    folder = tmp_path / "names"
    train = [{"source": f"Greg and Emily met on day {i}; Greg paid.", "target": f"dia {i}"} for i in range(12)]
    train.append({"source": "Jamal greeted Lakisha.", "target": "hola"})
    for split, rows in {"train": train, "validation": train[:2], "test": train[2:4]}.items():
        _write_jsonl(folder / f"{split}.jsonl", rows)
    found = api.audit("translation", tmp_path / "audit", data=str(folder), log=lambda _: None)
    race = found.facts["source_names"]["perceived race (Bertrand and Mullainathan 2004)"]
    assert race == {"white-associated names": 48, "Black-associated names": 2}  # Greg x2 + Emily per row, 16 rows
    assert found.facts["source_names"]["sex (U.S. birth records)"] == {"female names": 16, "male names": 0}
    assert any("48 white-associated names and 2 Black-associated names" in w for w in found.warnings)
    assert "## Source names by category" in (tmp_path / "audit" / "data_audit.md").read_text()


def test_audit_of_clean_data_has_no_duplicate_warnings(tmp_path):
    folder = tmp_path / "clean"
    for split, count in {"train": 20, "validation": 4, "test": 4}.items():
        _write_jsonl(folder / f"{split}.jsonl", [{"source": f"{split} {i} text", "target": "t"} for i in range(count)])
    found = api.audit("translation", tmp_path / "audit", data=str(folder), log=lambda _: None)
    assert not [w for w in found.warnings if "duplicate" in w or "leakage" in w]


def test_audit_warns_of_a_minority_class_and_near_duplicate_images(colour_folder, tmp_path):
    # a third class with a single training image among 67 (1.5%), and two test images in train: one copied,
    # one re-encoded as JPEG and resized, which its difference hash still matches
    green = colour_folder / "train" / "green"
    green.mkdir()
    Image.fromarray(np.full((24, 24, 3), (0, 200, 0), dtype=np.uint8)).save(green / "0.png")
    rng = np.random.default_rng(1)
    for index in range(40):
        pixels = np.clip(np.array((30, 30, 200)) + rng.normal(0, 25, (24, 24, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(colour_folder / "train" / "blue" / f"more{index}.png")
    first, second = sorted((colour_folder / "test" / "red").glob("*.png"))[:2]
    Image.open(first).resize((48, 48)).save(colour_folder / "train" / "red" / "copy.jpg", quality=90)
    shutil.copy(second, colour_folder / "train" / "red" / "exact.png")

    lines = []
    found = api.audit("image-classification", tmp_path / "audit", data=str(colour_folder), log=lines.append)

    assert found.facts["leakage_test"] == {"exact": 1, "near": 1}
    assert any("class 'green'" in w and "of train (1 examples)" in w for w in found.warnings)
    assert any("range from 1 to 52 examples (52:1)" in w for w in found.warnings)
    assert any("different image sizes" in w for w in found.warnings)
    assert (tmp_path / "audit" / "data_audit_balance.png").stat().st_size > 0
    assert lines[-1].startswith("audit: ") and "report" in lines[-1]


def test_audit_says_the_bundled_speech_set_has_one_speaker(tmp_path):
    found = api.audit("automatic-speech-recognition", tmp_path / "audit", log=lambda _: None)
    assert list(found.facts["speakers"]) == ["en_US_f_Allison"]
    assert any(w.startswith("one speaker (en_US_f_Allison)") for w in found.warnings)
    assert found.facts["audio_sample_rates"]  # read from every file


def test_cli_audit_strict_exits_3_on_warnings(pairs_folder, tmp_path):
    arguments = ["audit", "translation", "--data", str(pairs_folder), "--out", str(tmp_path / "a")]
    assert cli_main(arguments) == 0
    assert cli_main([*arguments, "--strict"]) == 3
