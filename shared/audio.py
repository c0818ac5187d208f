"""Audio in and out for the speech tasks, through soundfile and librosa: datasets 5 decodes audio through
torchcodec and FFmpeg, which many machines (this one included) lack, so omnitune never asks datasets to decode.

`read_audio` gives mono float32 at the model's rate (stereo is averaged, other rates resampled with soxr and
logged); `problems` names what makes a clip unusable or suspicious (silent, clipped, too short, too long) in
words a user can act on.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile

from shared.errors import OmnituneError

log = logging.getLogger("omnitune.audio")

UNREADABLE_HINT = "use WAV, FLAC or OGG audio (convert MP3/M4A first, e.g. ffmpeg -i in.mp3 out.wav)"
SILENT_PEAK = 10 ** (-60 / 20)  # peak below -60 dBFS: nothing to hear
CLIPPED_LEVEL = 0.999  # samples at full scale
CLIPPED_SHARE = 0.001  # more than 0.1% of samples at full scale: audibly distorted


@dataclass
class Clip:
    audio: np.ndarray  # mono float32 at `rate`
    rate: int
    source_rate: int
    source_channels: int

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.rate


def read_audio(source: str | Path | bytes, rate: int | None = 16_000) -> Clip:
    """Decode a file path (or its bytes) to mono float32 at `rate` (None: keep the file's own rate)."""
    name = "uploaded audio" if isinstance(source, bytes) else str(source)
    try:
        audio, source_rate = soundfile.read(
            io.BytesIO(source) if isinstance(source, bytes) else source, dtype="float32", always_2d=True
        )
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise OmnituneError(f"{name}: not a readable audio file ({error})", UNREADABLE_HINT) from None
    channels = audio.shape[1]
    audio = audio.mean(axis=1) if channels > 1 else audio[:, 0]
    target = rate or source_rate
    if source_rate != target:
        log.info("%s: resampled from %d Hz to %d Hz", name, source_rate, target)
        audio = librosa.resample(audio, orig_sr=source_rate, target_sr=target, res_type="soxr_hq")
    return Clip(np.ascontiguousarray(audio, dtype=np.float32), target, source_rate, channels)


def audio_info(path: Path) -> tuple[float, int]:
    """(seconds, sample rate) from the file's header, without decoding it."""
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise OmnituneError(f"{path}: not a readable audio file ({error})", UNREADABLE_HINT) from None
    return info.frames / info.samplerate, info.samplerate


def problems(clip: Clip, min_seconds: float, max_seconds: float | None, why_max: str = "") -> list[str]:
    """What is wrong with a clip, worst first; empty when it is fine. Clipping is reported but not fatal."""
    found = []
    if clip.seconds < min_seconds:
        found.append(f"too short ({clip.seconds:.2f} s; at least {min_seconds} s is needed)")
    if max_seconds is not None and clip.seconds > max_seconds:
        found.append(f"too long ({clip.seconds:.1f} s; the limit is {max_seconds:.0f} s{why_max})")
    if clip.audio.size and float(np.abs(clip.audio).max()) < SILENT_PEAK:
        found.append("silent (peak below -60 dBFS): check the microphone or the file")
    return found


def checked_clip(
    source: str | Path, rate: int | None, min_seconds: float, max_seconds: float | None, why_max: str = ""
) -> Clip:
    """A clip a user gives (`predict --audio`, a demo upload), refused the same way for both when it is
    unreadable, too short, too long or silent: a model answers "you" for silence and "." for 0.01 s."""
    clip = read_audio(source, rate)
    found = problems(clip, min_seconds, max_seconds, why_max)
    if found:
        raise OmnituneError(f"The clip is {found[0]}.")
    return clip


def is_clipped(clip: Clip) -> bool:
    return bool(clip.audio.size) and float(np.mean(np.abs(clip.audio) >= CLIPPED_LEVEL)) > CLIPPED_SHARE


def notes(clip: Clip) -> list[str]:
    """What a user should know about a clip that is still usable."""
    found = []
    if clip.source_rate != clip.rate:
        found.append(f"resampled from {clip.source_rate} Hz to {clip.rate} Hz")
    if clip.source_channels > 1:
        found.append(f"{clip.source_channels} channels mixed down to mono")
    if is_clipped(clip):
        found.append("the recording is clipped (distorted at full scale): expect more errors")
    return found


def resample(audio: np.ndarray, source_rate: int, rate: int) -> np.ndarray:
    if source_rate == rate:
        return audio.astype(np.float32)
    return librosa.resample(audio.astype(np.float32), orig_sr=source_rate, target_sr=rate, res_type="soxr_hq")
