"""Speech data in the `audiofolder` layout (a folder per split, audio files beside a metadata.jsonl/csv with
`file_name` and `text`), read without datasets' Audio feature: datasets 5 decodes audio through torchcodec and
FFmpeg, which many machines lack, so omnitune reads audio with soundfile and resamples with librosa."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import soundfile

from shared.data_files import load_table, split_file
from shared.errors import OmnituneError

BUNDLED = Path(__file__).parent / "data"
MODEL_RATE = 16_000


def read_audio(path: Path, rate: int = MODEL_RATE) -> np.ndarray:
    """Mono float32 at `rate` (stereo is averaged, other rates are resampled)."""
    try:
        audio, source_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise OmnituneError(f"{path}: not a readable audio file ({error})",
                            "use WAV, FLAC or OGG audio (convert MP3/M4A with ffmpeg first)") from None
    audio = audio.mean(axis=1)
    return librosa.resample(audio, orig_sr=source_rate, target_sr=rate) if source_rate != rate else audio


def load_split(folder: Path, split: str) -> list[dict]:
    """Rows of one split ({"path", "text", ...}); `folder` holds one sub-folder per split."""
    split_folder = folder / split
    rows = load_table(str(split_file(split_folder, "metadata")), split="train").to_list()
    for row in rows:
        if "file_name" not in row or "text" not in row:
            raise OmnituneError(f"{split_folder}: metadata rows need 'file_name' and 'text' (found "
                                f"{', '.join(row)})", "name the columns file_name and text")
        row["path"] = split_folder / row["file_name"]
    return rows
