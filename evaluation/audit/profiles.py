"""One row of facts per example, read once: what the findings need and nothing else.

A task names its columns and their kinds (`Task.audit_columns`): inputs ("text", "words", "image", "audio")
make up an example's identity (exact and near duplicates, leakage between splits); "target-text",
"target-audio", "label", "tags" and "speaker" are described but never part of the identity.

Near duplicates: texts equal after case, punctuation and spacing are folded; images whose difference hashes
(dHash, Krawetz 2013: a 17 x 16 greyscale thumbnail, each bit "is this pixel brighter than its right
neighbour") differ in a few of their 256 bits at most, which re-encoding, resizing and small brightness changes
keep. It is five lines on top of Pillow, so the `imagehash` package (and PyWavelets) is not needed for it."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata

import numpy as np
import pandas as pd
from datasets import Dataset
from PIL import Image, UnidentifiedImageError

from shared.wordlists.names import count_names
from shared.wordlists.swap import count_gendered

INPUT_KINDS = ("text", "words", "image", "audio")
KINDS = (*INPUT_KINDS, "target-text", "target-audio", "label", "tags", "speaker")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def profile(examples: Dataset, columns: dict[str, str], split: str, label_names: list[str] | None = None):
    """A DataFrame, one row per example: `split`, `identity` and `near` (hashes of the input columns), and per
    column the facts of its kind, named `<column>.<fact>`."""
    rows = []
    for index in range(len(examples)):
        example = examples[index]
        row: dict = {"split": split, "row": index}
        exact, near = [], []
        for column, kind in columns.items():
            if column not in example:
                continue
            facts, identity, folded = _describe(example[column], kind, label_names)
            row.update({f"{column}.{name}": value for name, value in facts.items()})
            if kind in INPUT_KINDS:
                exact.append(identity)
                near.append(folded)
        row["identity"] = _digest(exact)
        row["near"] = _digest(near)
        rows.append(row)
    return pd.DataFrame(rows)


def _digest(parts: list[str]) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


def _describe(value, kind: str, label_names: list[str] | None) -> tuple[dict, str, str]:
    """(facts, exact identity, folded identity) of one cell."""
    if kind in ("text", "target-text", "words"):
        text = " ".join(value) if isinstance(value, list) else (value or "")
        return _text_facts(text), text, fold_text(text)
    if kind == "image":
        return _image_facts(value)
    if kind in ("audio", "target-audio"):
        return _audio_facts(value)
    if kind == "label":
        name = label_names[value] if label_names and isinstance(value, int) else str(value)
        return {"label": name}, name, name
    if kind == "tags":
        tags = list(value or [])
        return {"tags": len(tags), "tagged": sum(tag not in ("O", 0) for tag in tags)}, "", ""
    return {"value": str(value)}, str(value), str(value)  # speaker


def fold_text(text: str) -> str:
    """Case, accents' composition, punctuation and spacing folded away."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _text_facts(text: str) -> dict:
    words = [word.casefold() for word in _WORD.findall(text)]
    letters = sum(character.isalpha() for character in text)
    return {
        "characters": len(text),
        "words": len(words),
        "empty": not text.strip(),
        # mostly symbols or digits: markup, encoding debris, a table flattened into a cell
        "garbage": bool(text.strip()) and letters / max(len(text.strip()), 1) < 0.3,
        **dict(zip(("female", "male"), count_gendered(text))),
        **{f"names:{group}": count for group, count in count_names(text).items()},
    }


def _image_facts(value) -> tuple[dict, str, str]:
    data = value.get("bytes") if isinstance(value, dict) else None
    path = value.get("path") if isinstance(value, dict) else value
    try:
        if data is None:
            with open(path, "rb") as file:
                data = file.read()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            grey = np.asarray(image.convert("L"), dtype=np.float32)
            facts = {
                "width": image.width,
                "height": image.height,
                "mode": image.mode,
                "brightness": float(grey.mean()),
                "contrast": float(grey.std()),
                "unreadable": False,
            }
            near = difference_hash(image)
            facts["dhash"] = near  # near duplicates: at most a few bits apart (findings.NEAR_IMAGE_BITS)
    except (OSError, UnidentifiedImageError, ValueError, TypeError):
        return {"unreadable": True}, hashlib.sha1(data or b"").hexdigest(), ""
    return facts, hashlib.sha1(data).hexdigest(), near


def difference_hash(image: Image.Image) -> str:
    """256 bits as 64 hex digits. The usual 64-bit hash (9 x 8) is too coarse for small, uniform images: it put a
    quarter of Fashion-MNIST's test garments within 4 bits of some training garment; at 17 x 16, none are."""
    pixels = np.asarray(image.convert("L").resize((17, 16), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (pixels[:, 1:] > pixels[:, :-1]).flatten()
    return f"{int(''.join('1' if bit else '0' for bit in bits), 2):064x}"


def _audio_facts(value) -> tuple[dict, str, str]:
    import soundfile

    path = value.get("path") if isinstance(value, dict) else value
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
        with open(path, "rb") as file:
            identity = hashlib.sha1(file.read()).hexdigest()
    except (OSError, RuntimeError, TypeError, soundfile.LibsndfileError):
        return {"unreadable": True}, str(path), str(path)
    mono = samples.mean(axis=1)
    rms = float(np.sqrt(np.mean(mono**2))) if len(mono) else 0.0
    facts = {
        "seconds": len(mono) / rate,
        "sample_rate": rate,
        "level_db": 20 * np.log10(max(rms, 1e-10)),
        "unreadable": False,
    }
    return facts, identity, identity
