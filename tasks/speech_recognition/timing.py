"""Word timestamps that land on the speech.

Whisper's word timestamps come from dynamic time warping over its alignment heads' cross-attention; the path
starts at 0 s, so the first word of a clip with leading silence "starts" at 0, and the last word often runs on
into trailing silence. As stable-ts does, a word edge that falls in silence is moved to the nearest edge of
the voiced region it belongs to (voiced regions from librosa's energy-based split).
"""

from __future__ import annotations

import librosa
import numpy as np

SILENCE_DB = 35  # below the clip's peak by this much counts as silence (librosa's top_db)
_FRAME, _HOP = 512, 128  # 32 ms frames, 8 ms steps at 16 kHz


def voiced_regions(audio: np.ndarray, rate: int) -> list[tuple[float, float]]:
    intervals = librosa.effects.split(audio, top_db=SILENCE_DB, frame_length=_FRAME, hop_length=_HOP)
    return [(start / rate, end / rate) for start, end in intervals]


def snap_to_speech(words: list[dict], regions: list[tuple[float, float]]) -> list[dict]:
    """`words` as the ASR pipeline returns them ({"text", "timestamp": (start, end)}); returns new dicts."""
    if not regions:
        return words

    def inside(t: float) -> bool:
        return any(a <= t <= b for a, b in regions)

    snapped = []
    for word in words:
        start, end = word["timestamp"]
        end = start if end is None else end
        if not inside(start):
            later = [a for a, _ in regions if start < a < end]
            start = later[0] if later else start
        if not inside(end):
            earlier = [b for _, b in regions if start < b < end]
            end = earlier[-1] if earlier else end
        snapped.append({**word, "timestamp": (round(float(start), 2), round(float(end), 2))})
    return snapped
