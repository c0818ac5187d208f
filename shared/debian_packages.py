"""Fetch and unpack pinned Debian packages for the bundled-data builders (build time only: nothing at run time
needs Debian). `apt-get download` works as any user on Debian/Ubuntu; the version is checked, so a rebuild from
another release says so instead of silently producing different data."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from shared.errors import OmnituneError


def unpack(packages: dict[str, str], into: Path | None = None) -> Path:
    """Download each `name: version` with apt-get and extract all into one folder (returned)."""
    target = into or Path(tempfile.mkdtemp(prefix="omnitune-deb-"))
    downloads = target / "debs"
    downloads.mkdir(parents=True, exist_ok=True)
    for name, version in packages.items():
        result = subprocess.run(["apt-get", "download", f"{name}={version}"], cwd=downloads,
                                capture_output=True, text=True, check=False)
        found = list(downloads.glob(f"{name}_*.deb"))
        if result.returncode != 0 or not found:
            raise OmnituneError(f"could not download Debian package {name}={version}: {result.stderr.strip()[-300:]}",
                                "run the builder on Debian 12 (bookworm) with its package lists (apt-get update), "
                                "or use the data already committed")
        subprocess.run(["dpkg-deb", "-x", str(found[0]), str(target)], check=True)
    return target
