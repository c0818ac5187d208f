"""Reading the data any task accepts: a folder (one file or sub-folder per split), one local csv / json / jsonl /
parquet file (optionally gzipped) from which validation and test are held out, or a Hub dataset id. `read_source`
decides which; a task says only how it reads each kind and turns the rows into its own examples."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from shared.errors import OmnituneError

SPLIT_ALIASES = {
    "train": ("train", "training"),
    "validation": ("validation", "dev", "val", "valid"),
    "test": ("test", "eval"),
}
_BUILDERS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet", ".gz")
Rows = TypeVar("Rows")
HOLD_OUT_SHARE = 0.1
RECORDS_FIELD = "data"  # JSON files may hold their rows under this key
WHOLE = "all"  # the split name for every row of a single file, with nothing held out


def read_source(
    source: str,
    split: str,
    *,
    folder: Callable[[Path, str], Rows],
    file: Callable[[Path, str], Rows],
    hub: Callable[[str, str], Rows],
) -> Rows:
    """One split of `source`, read by the task's reader for its kind: `folder(path, split)`, `file(path, split)`
    (which holds out validation and test, see hold_out) or `hub(dataset_id, split)`. A path that does not exist
    is an error, not a Hub id."""
    path = Path(source).expanduser()
    if path.is_dir():
        return folder(path, split)
    if path.is_file():
        return file(path, split)
    if source.startswith((".", "/", "~")) or source.endswith(DATA_SUFFIXES):
        raise OmnituneError(f"data path {source} does not exist", "check the path given to --data")
    return hub(source, split)


def non_empty(rows: Rows, source: str, split: str, noun: str = "examples") -> Rows:
    if len(rows) == 0:
        raise OmnituneError(f"no {noun} in split '{split}' of {source}", "check the data or the split name")
    return rows


def builder_for(path: Path) -> str:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in _BUILDERS:
        raise OmnituneError(
            f"{path}: unsupported file type '{suffix or path.name}'", "use csv, json, jsonl or parquet (optionally .gz)"
        )
    return _BUILDERS[suffix]


def load_table(source: str, split: str = "train"):
    """A datasets.Dataset of the rows of a local file, or of one split of a Hub dataset."""
    import datasets

    path = Path(source).expanduser()
    try:
        if path.is_file():
            table = datasets.load_dataset(builder_for(path), data_files=str(path), split="train")
            if table.column_names == [RECORDS_FIELD] and len(table) == 1 and isinstance(table[0][RECORDS_FIELD], list):
                # {"data": [rows]}: the `field="data"` convention of transformers' example scripts
                table = datasets.load_dataset("json", data_files=str(path), field=RECORDS_FIELD, split="train")
            return table
        return datasets.load_dataset(source, split=split)
    except OmnituneError:
        raise
    except Exception as error:  # datasets raises many types; the user needs the message, not the type
        message = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        raise OmnituneError(
            f"could not read data '{source}' (split '{split}'): {message}",
            "check the file's format, or, for a Hub dataset id, that the Hub is reachable",
        ) from None


def split_file(folder: Path, split: str) -> Path:
    names = SPLIT_ALIASES.get(split, (split,))
    for name in names:
        for candidate in sorted(folder.glob(f"{name}.*")):
            if candidate.is_file():
                return candidate
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    raise OmnituneError(
        f"no file for split '{split}' in {folder} (found: {', '.join(present) or 'nothing'})",
        f"name the file {names[0]}.json / .jsonl / .csv / .parquet",
    )


def hold_out(rows: list[dict], split: str, group_key: Callable[[dict], str]) -> list[dict]:
    """One file given for every split: about 10% of its groups (e.g. documents), at least one, chosen by hash
    (deterministic), are held out for test and another 10% for validation, so that no group is in two splits and
    the model picked on validation is scored on examples it was not picked on. Two groups: one trains, the other
    serves validation and test (with a warning); a single group is used whole for all three (with a warning).
    The split "all" is every row."""
    if split == WHOLE:
        return rows
    groups = sorted({group_key(r) for r in rows}, key=_hashed)
    if len(groups) < 2:
        warnings.warn("the data has a single document: training and evaluation use the same examples", stacklevel=2)
        return rows
    size = max(1, round(HOLD_OUT_SHARE * len(groups)))
    test = set(groups[:size])
    validation = set(groups[size : 2 * size]) if len(groups) > 2 else test
    if validation is test:
        warnings.warn("the data has two documents: validation and test use the same one", stacklevel=2)
    if split in SPLIT_ALIASES["train"]:
        return [r for r in rows if group_key(r) not in test | validation]
    held = validation if split in SPLIT_ALIASES["validation"] else test
    return [r for r in rows if group_key(r) in held]


def evaluation_split(source: str | None, trained_on: str | None) -> str:
    """The split `evaluate` scores when none is asked for: "test", but all of a single local file the model was
    not trained on (holding out a tenth of it would leave nine in ten of the user's examples unscored)."""
    path = Path(source).expanduser() if source else None
    if path is None or not path.is_file():
        return "test"
    if trained_on and Path(trained_on).expanduser().resolve() == path.resolve():
        return "test"
    return WHOLE


def stratified_hold_out(labels: list[str], split: str, noun: str = "examples") -> list[int]:
    """Positions of `split` when one listing serves every split and each example has a class: per class, about
    10% (at least one) are held out for test and as many for validation, chosen by hash (deterministic), so every
    class is trained on and scored. A class with fewer than 3 examples cannot be in all three splits: an error."""
    if split == WHOLE:
        return list(range(len(labels)))
    by_class: dict[str, list[int]] = {}
    for position, label in enumerate(labels):
        by_class.setdefault(label, []).append(position)
    too_small = {label: len(positions) for label, positions in by_class.items() if len(positions) < 3}
    if too_small:
        shown = ", ".join(f"'{label}' ({n})" for label, n in sorted(too_small.items()))
        raise OmnituneError(
            f"too few {noun} in class {shown}: one listing for every split needs at least 3 per class "
            "(one each for training, validation and test)",
            f"add {noun} to those classes, or give separate train/validation/test data",
        )
    wanted = []
    for positions in by_class.values():
        ordered = sorted(positions, key=lambda p: _hashed(str(p)))
        size = max(1, round(HOLD_OUT_SHARE * len(ordered)))
        if split in SPLIT_ALIASES["train"]:
            wanted += ordered[2 * size :]
        elif split in SPLIT_ALIASES["validation"]:
            wanted += ordered[size : 2 * size]
        else:
            wanted += ordered[:size]
    return sorted(wanted)


def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
