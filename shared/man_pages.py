"""Reading the man pages installed by Debian packages, for the bundled-data builders (question answering,
summarization, token classification): render with groff, cut sections, and know which package (and version)
installed each page."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

MAN_ROOT = Path("/usr/share/man")


def render(page: Path, fonts: bool = False) -> str:
    """Plain text of a man page: wide lines, no hyphenation, no justification, so sentences stay intact. With
    `fonts`, bold and italic stay as the terminal's overstrike ("c\\bc" bold, "_\\bc" italic)."""
    source = gzip.decompress(page.read_bytes()) if page.suffix == ".gz" else page.read_bytes()
    result = subprocess.run(
        ["groff", "-man", "-Tutf8", "-P", "-c" if fonts else "-cbou", "-rLL=1000n", "-rHY=0", "-dAD=l"],
        input=source,
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.stdout.decode("utf-8", errors="replace")


def section(text: str, wanted: str) -> list[str]:
    """Lines of the first section whose heading contains `wanted` (headings start in column 0)."""
    inside, body = False, []
    for line in text.splitlines():
        if line and not line[0].isspace():
            if inside:
                break
            inside = wanted in line.upper()
            continue
        if inside:
            body.append(line)
    return body


def package_owners() -> dict[str, tuple[str, str]]:
    """Map each installed man page path to (Debian package, version), read from dpkg's own database."""
    versions = {}
    status = Path("/var/lib/dpkg/status").read_text(errors="replace")
    for stanza in status.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line[0].isspace())
        if "Package" in fields:
            versions[fields["Package"]] = fields.get("Version", "?")
    owners = {}
    for listing in Path("/var/lib/dpkg/info").glob("*.list"):
        package = listing.stem.split(":")[0]
        for path in listing.read_text(errors="replace").splitlines():
            if path.startswith(str(MAN_ROOT)):
                owners[path] = (package, versions.get(package, "?"))
    return owners
