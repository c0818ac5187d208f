"""What can be measured of synthetic speech without a listener: whether a recogniser understands it (the
round trip), how long it is and how fast it speaks, and how far it is from a human reading of the same text.

Mel-cepstral distortion (Kubichek, 1993) is computed as the speech-synthesis papers do, on the real cepstrum of
a mel-warped log-amplitude spectrum (here a librosa mel filterbank stands in for SPTK's all-pass warping; the
cepstrum is the DCT-II of the log amplitude divided by 2N, the real cepstrum's own scale; c0, the loudness,
is left out), frames aligned by dynamic time warping (librosa.sequence.dtw), in dB. Both sides are cut to
leading/trailing silence first. The bundled references were recorded for 8 kHz telephony, so the mel band stops
at 4 kHz for both.
"""

from __future__ import annotations

import librosa
import numpy as np
import scipy.fft

from shared.audio import resample

RATE = 16_000
BAND_HZ = 4_000  # the telephone band of the Asterisk references
CEPSTRA = 13  # c1..c12
MELS = 40
_DB = 10.0 / np.log(10.0) * np.sqrt(2.0)


def mel_cepstra(audio: np.ndarray, rate: int) -> np.ndarray:
    audio, _ = librosa.effects.trim(resample(audio, rate, RATE), top_db=40)
    mel = librosa.feature.melspectrogram(y=audio, sr=RATE, n_fft=512, hop_length=80, n_mels=MELS, fmax=BAND_HZ)
    log_amplitude = 0.5 * np.log(mel + 1e-10)
    return scipy.fft.dct(log_amplitude, type=2, axis=0)[1:CEPSTRA] / (2 * MELS)


def mel_cepstral_distortion(audio: np.ndarray, rate: int, reference: np.ndarray, reference_rate: int) -> float:
    ours, theirs = mel_cepstra(audio, rate), mel_cepstra(reference, reference_rate)
    if ours.shape[1] == 0 or theirs.shape[1] == 0:
        return float("nan")
    _, path = librosa.sequence.dtw(X=ours, Y=theirs, metric="euclidean")
    differences = ours[:, path[:, 0]] - theirs[:, path[:, 1]]
    return float(np.mean(_DB * np.sqrt(np.sum(differences**2, axis=0))))


def speech_seconds(audio: np.ndarray, rate: int) -> float:
    """Duration from the first to the last sound (silence at the edges excluded)."""
    trimmed, _ = librosa.effects.trim(audio, top_db=40)
    return len(trimmed) / rate
