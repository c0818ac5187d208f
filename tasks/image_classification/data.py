"""What an image-classification example is and where it comes from: rows of {"image": {"path", "bytes"},
"label": int}, with the class names alongside.

Accepted sources: a bundled set by name ("fashion-mnist", "clipart"); an imagefolder (class sub-folders, either
inside train/validation/test folders or alone, in which case about 10% of each class is held out for
validation and as much for test); a csv/jsonl
of (path, label) with paths relative to the file; a Hub dataset with image and label columns. Images are not
decoded here, only checked: every file is opened once before training, and unreadable ones are reported by
path and either fail the run (default) or are skipped (`bad_images: skip`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from datasets import ClassLabel, Dataset, Image

from shared.data_files import SPLIT_ALIASES, load_table, non_empty, read_source, stratified_hold_out
from shared.errors import OmnituneError

BUNDLED = Path(__file__).parent / "data"
BUNDLED_SETS = ("fashion-mnist", "clipart")
MAX_BAD_SHOWN = 10
MAX_PIXELS = 40_000_000  # about 7,000 x 6,000: bigger uploads are refused before decoding (decompression bombs)
NOT_AN_IMAGE = "This file is not a readable image. Use a PNG, JPEG, WebP, GIF or BMP file."


@dataclass
class Examples:
    rows: Dataset  # "image" ({"path", "bytes"}), "label" (int)
    labels: list[str]


def load_examples(
    source: str | None, split: str, column_mapping: dict[str, str] | None = None, bad_images: str = "fail"
) -> Examples:
    source = source or BUNDLED_SETS[0]
    path = BUNDLED / source if source in BUNDLED_SETS else Path(source).expanduser()
    where = f"{source} [{split}]"

    def standard(table):  # the hold-out below needs the label column under its standard name
        return _standard_columns(table, column_mapping or {}, where)

    table = read_source(
        str(path),
        split,
        folder=lambda path, split: _image_folder(path, split, standard),
        file=lambda path, split: _hold_out(standard(_listing(path)), split),
        hub=lambda source, split: standard(load_table(source, split)),
    )
    table = non_empty(table, source, split, "images")
    table = _drop_or_report_bad(table, bad_images)
    return Examples(table, table.features["label"].names)


def _image_folder(path: Path, split: str, standard):
    import datasets

    has_splits = any((path / name).is_dir() for names in SPLIT_ALIASES.values() for name in names)
    try:
        data = datasets.load_dataset("imagefolder", data_dir=str(path))
    except datasets.data_files.EmptyDatasetError:
        raise OmnituneError(f"{path} holds no images", "add one sub-folder of images per class") from None
    if has_splits:
        wanted = [name for name in SPLIT_ALIASES.get(split, (split,)) if name in data]
        if not wanted:
            raise OmnituneError(
                f"{path} has no '{split}' folder (found: {', '.join(data)})",
                f"add a {SPLIT_ALIASES.get(split, (split,))[0]}/ folder of class sub-folders",
            )
        return standard(data[wanted[0]])
    return _hold_out(standard(data["train"]), split)


def _listing(path: Path):
    """csv/jsonl of (path, label): relative paths are resolved against the listing's folder."""
    table = load_table(str(path))
    column = "path" if "path" in table.column_names else "image" if "image" in table.column_names else None
    if column is None:
        raise OmnituneError(
            f"{path} needs a 'path' (or 'image') column of image files (found: {', '.join(table.column_names)})",
            "add the column, or use column_mapping",
        )
    table = table.map(lambda row: {"image": str((path.parent / row[column]).resolve())})
    return table.cast_column("image", Image(decode=False))


def _hold_out(table, split: str):
    """One listing for every split: validation and test are held out class by class (see stratified_hold_out)."""
    names = table.features["label"].names
    labels = [names[i] for i in table["label"]]
    return table.select(stratified_hold_out(labels, split, noun="images"))


def _standard_columns(table, column_mapping: dict[str, str], where: str):
    absent = [theirs for theirs in column_mapping.values() if theirs not in table.column_names]
    if absent:
        raise OmnituneError(
            f"{where}: column_mapping names {', '.join(map(repr, absent))}, which the data does "
            f"not have (found: {', '.join(table.column_names)})",
            "fix --column_mapping",
        )
    table = table.rename_columns({theirs: ours for ours, theirs in column_mapping.items() if theirs != ours})
    missing = [c for c in ("image", "label") if c not in table.column_names]
    if missing:
        raise OmnituneError(
            f"{where}: no {' or '.join(repr(c) for c in missing)} column (found: {', '.join(table.column_names)})",
            "rename your columns, e.g. --column_mapping image=img,label=class",
        )
    table = table.select_columns(["image", "label"]).cast_column("image", Image(decode=False))
    if not isinstance(table.features["label"], ClassLabel):
        table = table.class_encode_column("label")
    return table


def open_upload(path: str | Path):
    """One image a user gives (`predict --image`, a demo upload), decoded and checked the same way for both: not
    an image, or more than MAX_PIXELS (read from the header, before decoding), is refused with a message."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        image = PILImage.open(path)
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise OmnituneError(
                f"The image is {width:,} x {height:,} pixels; the limit is {MAX_PIXELS:,} pixels. "
                "Resize it and try again."
            )
        image.load()
        return image
    except (UnidentifiedImageError, OSError, PILImage.DecompressionBombError):
        raise OmnituneError(NOT_AN_IMAGE) from None


def open_image(value: dict):
    """A PIL image from a row's image value (a file path or the bytes of one)."""
    from PIL import Image as PILImage

    if value.get("bytes"):
        return PILImage.open(io.BytesIO(value["bytes"]))
    return PILImage.open(value["path"])


def _drop_or_report_bad(table, bad_images: str):
    bad = []
    for index, value in enumerate(table["image"]):
        try:
            with open_image(value) as image:
                image.load()  # decodes fully: truncated files fail here, not in the middle of training
        except Exception as error:  # PIL raises many types for broken files
            bad.append((index, value.get("path") or f"row {index}", type(error).__name__))
    if not bad:
        return table
    if bad_images == "skip":
        skipped = {index for index, _, _ in bad}
        return table.select([i for i in range(len(table)) if i not in skipped])
    shown = "; ".join(f"{path} ({kind})" for _, path, kind in bad[:MAX_BAD_SHOWN])
    more = f" and {len(bad) - MAX_BAD_SHOWN} more" if len(bad) > MAX_BAD_SHOWN else ""
    raise OmnituneError(
        f"{len(bad)} unreadable image file(s): {shown}{more}",
        "fix or remove them, or pass --bad_images skip to train without them",
    )
