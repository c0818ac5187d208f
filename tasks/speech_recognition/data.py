"""What a speech example is (an audio file and its transcript) and where it comes from.

Accepted sources:
- a folder in the `audiofolder` layout: one sub-folder per split, audio files beside a metadata.jsonl/csv with
  `file_name` and `text` (the bundled Asterisk prompts);
- one csv/json/jsonl/parquet file of (audio path, transcript) rows, paths relative to the file; about 10% is
  held out for validation and test;
- a Hub dataset id with an Audio column: the encoded bytes are read by soundfile, never decoded by datasets
  (datasets 5 decodes through torchcodec + FFmpeg, see shared/audio.py).
Column names: `audio` (also file_name, path, file) and `text` (also sentence, transcript, transcription,
normalized_text); `column_mapping` renames others. Every file is checked (exists, readable) before a model
is loaded, and the bad ones are listed together.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from datasets import Dataset

from shared.audio import audio_info, read_audio
from shared.data_files import hold_out, load_table, non_empty, read_source, split_file
from shared.errors import OmnituneError

BUNDLED = Path(__file__).parent / "data"
MODEL_RATE = 16_000
AUDIO_NAMES = ("audio", "file_name", "path", "file")
TEXT_NAMES = ("text", "sentence", "transcript", "transcription", "normalized_text")
SPEAKER_NAMES = ("speaker", "speaker_id", "client_id")  # audiofolder, LibriSpeech, Common Voice
MAX_SHOWN = 10


def load_split(folder: Path, split: str) -> list[dict]:
    """Rows of one split of an audiofolder ({"path", "text", ...}); `folder` holds one sub-folder per split."""
    split_folder = folder / split
    if not split_folder.is_dir():
        raise OmnituneError(
            f"{folder} has no '{split}' folder",
            "lay the data out as <folder>/train|validation|test/metadata.jsonl beside the audio",
        )
    rows = load_table(str(split_file(split_folder, "metadata")), split="train").to_list()
    for row in rows:
        if "file_name" not in row or "text" not in row:
            raise OmnituneError(
                f"{split_folder}: metadata rows need 'file_name' and 'text' (found {', '.join(row)})",
                "name the columns file_name and text",
            )
        row["path"] = split_folder / row["file_name"]
    return rows


def load_examples(
    source: str,
    split: str,
    column_mapping: dict[str, str] | None = None,
    bad_audio: str = "fail",
    audio_required: bool = True,
) -> Dataset:
    """Examples {"audio": path or encoded bytes, "text", "seconds"} of one split, every file checked. Without
    `audio_required` (texts to synthesise), a table may have no audio column: "audio" and "seconds" are None."""
    rows = read_source(
        source,
        split,
        folder=lambda path, split: [_folder_row(row) for row in load_split(path, split)],
        file=lambda path, split: hold_out(
            _rows_of_table(load_table(str(path)), column_mapping, path.parent, str(path), audio_required),
            split,
            group_key=lambda r: r["text"],
        ),
        hub=lambda source, split: _rows_of_table(
            _undecoded(load_table(source, split)), column_mapping, None, f"{source} [{split}]", audio_required
        ),
    )
    where = f"{source} [{split}]"
    return Dataset.from_list(non_empty(_checked(rows, bad_audio, where, audio_required), source, split))


def _folder_row(row: dict) -> dict:
    """An audiofolder row as an example; its speaker kept for the data audit and per-speaker scores."""
    example = {"audio": str(row["path"]), "text": row["text"]}
    speaker = _pick(SPEAKER_NAMES, list(row))
    if speaker:
        example["speaker"] = str(row[speaker])
    return example


def _undecoded(table):
    """A Hub dataset's Audio columns as encoded bytes (no torchcodec needed)."""
    from datasets import Audio

    for name, feature in table.features.items():
        if isinstance(feature, Audio):
            table = table.cast_column(name, Audio(decode=False))
    return table


def _pick(names: tuple[str, ...], present: list[str]) -> str | None:
    return next((name for name in names if name in present), None)


def _rows_of_table(
    table, mapping: dict[str, str] | None, base: Path | None, where: str, audio_required: bool = True
) -> list[dict]:
    table = table.rename_columns(
        {theirs: ours for ours, theirs in (mapping or {}).items() if theirs in table.column_names and theirs != ours}
    )
    audio_column, text_column = _pick(AUDIO_NAMES, table.column_names), _pick(TEXT_NAMES, table.column_names)
    speaker_column = _pick(SPEAKER_NAMES, table.column_names)  # kept for the data audit and per-speaker scores
    if (audio_column is None and audio_required) or text_column is None:
        missing = "audio" if audio_column is None else "text"
        raise OmnituneError(
            f"{where}: no {missing} column (found: {', '.join(table.column_names)})",
            f'rename yours with --column_mapping \'{{"{missing}": "<your column>"}}\'',
        )
    rows = []
    for row in table:
        audio = row[audio_column] if audio_column else None
        if isinstance(audio, dict):  # a Hub Audio column: {"bytes", "path"}
            audio = audio.get("bytes") or audio.get("path")
        elif audio is not None and base is not None and not Path(audio).is_absolute():
            audio = str(base / audio)
        rows.append({"audio": audio, "text": "" if row[text_column] is None else str(row[text_column])})
        if speaker_column:
            rows[-1]["speaker"] = str(row[speaker_column])
    return rows


def _checked(rows: list[dict], bad_audio: str, where: str, audio_required: bool = True) -> list[dict]:
    """Rows with their duration; missing, unreadable or empty-transcript rows fail the load (listed together)
    or are dropped with a warning under bad_audio=skip."""
    good, bad = [], []
    for index, row in enumerate(rows):
        reason = _unusable(row, audio_required)
        if reason:
            bad.append(f"{row['audio'] if isinstance(row['audio'], str) else f'row {index}'}: {reason}")
        else:
            good.append(row)
    report_unusable(bad, bad_audio, where)
    return good


def report_unusable(bad: list[str], policy: str, where: str) -> None:
    """Fail naming every unusable example (the first few shown), or, under --bad_audio skip, warn."""
    if not bad:
        return
    shown = "; ".join(bad[:MAX_SHOWN]) + (f"; and {len(bad) - MAX_SHOWN} more" if len(bad) > MAX_SHOWN else "")
    if policy == "fail":
        raise OmnituneError(
            f"{where}: {len(bad)} unusable examples: {shown}",
            "fix or remove them, or pass --bad_audio skip to leave them out",
        )
    warnings.warn(f"{where}: skipped {len(bad)} unusable examples: {shown}", stacklevel=3)


def _unusable(row: dict, audio_required: bool = True) -> str | None:
    """Why a row cannot be used, or None; sets row["seconds"] from the file's header."""
    if not row["text"].strip():
        return "empty transcript"
    if row["audio"] is None:
        row["seconds"] = None
        return "no audio" if audio_required else None
    try:
        if isinstance(row["audio"], bytes):
            row["seconds"] = read_audio(row["audio"], rate=None).seconds
        elif not Path(row["audio"]).is_file():
            return "file not found"
        else:
            row["seconds"] = audio_info(Path(row["audio"]))[0]
    except OmnituneError:
        return "not a readable audio file (use WAV, FLAC or OGG)"
    return None
