"""What the bundled-data builders (`python -m tasks.<task>.build_dataset`) share: fetching pinned Debian packages,
writing gzipped JSON lines reproducibly, and the command line. Build time only: nothing at run time needs Debian.
`apt-get download` works as any user on Debian/Ubuntu; the version is pinned, so a rebuild from another release
says so instead of silently producing different data."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from shared.errors import OmnituneError


def unpack(packages: dict[str, str], into: Path | None = None) -> Path:
    """Download each `name: version` with apt-get and extract all into one folder (returned)."""
    target = into or Path(tempfile.mkdtemp(prefix="omnitune-deb-"))
    downloads = target / "debs"
    downloads.mkdir(parents=True, exist_ok=True)
    for name, version in packages.items():
        result = subprocess.run(
            ["apt-get", "download", f"{name}={version}"], cwd=downloads, capture_output=True, text=True, check=False
        )
        found = list(downloads.glob(f"{name}_*.deb"))
        if result.returncode != 0 or not found:
            raise OmnituneError(
                f"could not download Debian package {name}={version}: {result.stderr.strip()[-300:]}",
                "run the builder on Debian 12 (bookworm) with its package lists (apt-get update), "
                "or use the data already committed",
            )
        subprocess.run(["dpkg-deb", "-x", str(found[0]), str(target)], check=True)
    return target


def write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    """Gzipped JSON lines with a fixed timestamp, so rebuilding identical data gives identical bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as handle:
        handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode())


def builder_main(
    build: Callable[..., dict],
    doc: str,
    default_out: Path,
    options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """`--out FOLDER` (default: the task's data folder) plus any builder-specific options, then print counts."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=default_out)
    if options:
        options(parser)
    print(json.dumps(build(**vars(parser.parse_args()))))


def split_of(name: str, shares: dict[str, float]) -> str:
    """Deterministic split by a hash of the name, so an item never lands in two splits whatever else changes."""
    fraction = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    cumulative = 0.0
    for split, share in shares.items():
        cumulative += share
        if fraction <= cumulative:
            return split
    return list(shares)[-1]
