"""Every way omnitune can speak, behind one interface: `synthesiser.sample_rate` and
`synthesiser.synthesise(text) -> float32 audio`.

- offline: the shelf's ONNX voices (hibari, piper-joe; shared/voices.py), inference only;
- SpeechT5 (a Hub id such as microsoft/speecht5_tts, or a run fine-tuned by omnitune): text -> log-mel ->
  HiFi-GAN vocoder, with a speaker embedding (an x-vector: 512 numbers);
- anything else transformers' text-to-audio pipeline loads (MMS-TTS / VITS, Bark, ...), online.

`speak` adds what every backend needs: text normalisation, long text split at sentence boundaries and joined
with short fades and pauses (no clicks), and a speaking rate.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import torch

from shared import shelf
from shared.errors import OmnituneError
from shared.pretrained import hub_failure, load_kwargs
from shared.voices import BACKENDS, split_sentences
from tasks.text_to_speech.normalise import normalise

DEFAULT_VOCODER = "microsoft/speecht5_hifigan"
SPEAKER_EMBEDDING_FILE = "speaker_embedding.npy"  # saved beside a fine-tuned SpeechT5
SPEAKER_MODEL = "microsoft/wavlm-base-plus-sv"  # x-vectors (512 numbers) from a recording, online
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
FADE_SECONDS = 0.005
PAUSE_SECONDS = 0.12


def fallback_speaker_embedding(size: int = 512) -> np.ndarray:
    """Offline, with no x-vector model and no embedding file: a fixed, seeded unit-scale vector. SpeechT5 then
    speaks in one consistent but unnamed voice; fine-tuning adapts the model to it (README)."""
    return np.random.default_rng(0).normal(0.0, 0.05, size).astype(np.float32)


class ShelfVoice:
    def __init__(self, folder: Path):
        backend = shelf.entry(folder.name).extra["voice_backend"]
        self._voice = BACKENDS[backend](folder)
        self.sample_rate = self._voice.sample_rate

    def synthesise(self, text: str) -> np.ndarray:
        return self._voice.synthesise(text)


class SpeechT5Voice:
    def __init__(self, model, processor, vocoder, speaker_embedding: np.ndarray):
        self.model, self.processor, self.vocoder = model.eval(), processor, vocoder.eval()
        self.speaker = torch.as_tensor(speaker_embedding, dtype=torch.float32).reshape(1, -1)
        self.sample_rate = int(getattr(vocoder.config, "sampling_rate", 16_000))

    def synthesise(self, text: str) -> np.ndarray:
        inputs = self.processor(text=text, return_tensors="pt")
        with torch.inference_mode():
            audio = self.model.generate_speech(inputs["input_ids"], self.speaker, vocoder=self.vocoder)
        return audio.numpy().astype(np.float32)


class PipelineVoice:
    def __init__(self, model_ref: str):
        from transformers import pipeline

        self._pipeline = pipeline("text-to-audio", model=model_ref, device="cpu", trust_remote_code=False)
        self.sample_rate = int(self._pipeline.sampling_rate or 16_000)

    def synthesise(self, text: str) -> np.ndarray:
        result = self._pipeline(text)
        self.sample_rate = int(result["sampling_rate"])
        return np.asarray(result["audio"], np.float32).reshape(-1)


def xvector_of(audio_file: str, model_ref: str = SPEAKER_MODEL) -> np.ndarray:
    """The x-vector of the voice in a recording, from a speaker-verification model (WavLMForXVector online;
    any folder of one offline), L2-normalised as SpeechT5's recipe does."""
    from transformers import AutoFeatureExtractor, WavLMForXVector

    from shared.audio import read_audio

    try:
        extractor = AutoFeatureExtractor.from_pretrained(model_ref)
        model = WavLMForXVector.from_pretrained(model_ref, use_safetensors=True).eval()
    except (OSError, ValueError) as error:
        raise OmnituneError(
            f"cannot load the speaker-embedding model '{model_ref}' ({type(error).__name__})",
            "online, it downloads; offline, give a .npy x-vector instead, or none for the fallback voice",
        ) from None
    clip = read_audio(audio_file, extractor.sampling_rate)
    inputs = extractor(clip.audio, sampling_rate=extractor.sampling_rate, return_tensors="pt")
    with torch.inference_mode():
        vector = torch.nn.functional.normalize(model(**inputs).embeddings, dim=-1)[0]
    return vector.numpy().astype(np.float32)


def speaker_embedding_of(
    model_path: str, given: str | None, size: int, speaker_model: str = SPEAKER_MODEL
) -> np.ndarray:
    """An x-vector from what the user gives (a .npy file, or a recording of the voice, embedded by a speaker
    model), else the one saved with a fine-tuned model, else the documented fallback."""
    if given and Path(given).is_file() and Path(given).suffix.lower() in AUDIO_SUFFIXES:
        return _sized(xvector_of(given, speaker_model), given, size)
    for candidate in (given, Path(model_path) / SPEAKER_EMBEDDING_FILE):
        if candidate and Path(candidate).is_file():
            return _sized(np.load(candidate, allow_pickle=False).astype(np.float32).reshape(-1), candidate, size)
    return fallback_speaker_embedding(size)


def _sized(vector: np.ndarray, source, size: int) -> np.ndarray:
    if vector.size != size:
        raise OmnituneError(
            f"speaker embedding {source} has {vector.size} numbers; the model takes {size}",
            "give a 512-number x-vector (.npy) or a recording of the voice",
        )
    return vector


def load_speecht5(
    model_path: str,
    vocoder: str | None,
    speaker_embedding: str | None,
    allow_pickle: bool = False,
    speaker_model: str = SPEAKER_MODEL,
):
    from transformers import SpeechT5ForTextToSpeech, SpeechT5HifiGan, SpeechT5Processor

    try:
        model = SpeechT5ForTextToSpeech.from_pretrained(model_path, **load_kwargs(allow_pickle))
        processor = SpeechT5Processor.from_pretrained(model_path)
        vocoder_ref = vocoder or (
            str(Path(model_path) / "vocoder") if (Path(model_path) / "vocoder").is_dir() else DEFAULT_VOCODER
        )
        vocoder_model = SpeechT5HifiGan.from_pretrained(vocoder_ref, **load_kwargs(allow_pickle))
    except (OSError, ValueError) as error:
        raise hub_failure(model_path, error) from None
    size = model.config.speaker_embedding_dim
    speaker = speaker_embedding_of(model_path, speaker_embedding, size, speaker_model)
    return SpeechT5Voice(model, processor, vocoder_model, speaker)


def load_synthesiser(
    model_path: str,
    vocoder: str | None = None,
    speaker_embedding: str | None = None,
    allow_pickle: bool = False,
    speaker_model: str = SPEAKER_MODEL,
):
    """`model_path` as shared.pretrained.resolve gives it: a shelf voice folder, a model folder or a Hub id."""
    folder = Path(model_path)
    if folder.is_dir() and folder.name in shelf.SHELF and shelf.entry(folder.name).extra.get("voice_backend"):
        return ShelfVoice(folder)
    from transformers import AutoConfig

    try:
        model_type = AutoConfig.from_pretrained(model_path, trust_remote_code=False).model_type
    except (OSError, ValueError) as error:
        raise hub_failure(model_path, error) from None
    if model_type == "speecht5":
        return load_speecht5(model_path, vocoder, speaker_embedding, allow_pickle, speaker_model)
    return PipelineVoice(model_path)


def _faded(audio: np.ndarray, rate: int) -> np.ndarray:
    """Raised-cosine fade in and out, so a piece starts and ends at zero (no click at a join)."""
    length = min(int(FADE_SECONDS * rate), len(audio) // 2)
    if length < 2:
        return audio
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, length, dtype=np.float32))
    audio = audio.copy()
    audio[:length] *= ramp
    audio[-length:] *= ramp[::-1]
    return audio


def speak(synthesiser, text: str, speaking_rate: float = 1.0, normalise_text: bool = True) -> np.ndarray:
    """Audio at `synthesiser.sample_rate` for any length of text."""
    if not text.strip():
        raise OmnituneError("the text is empty", "type something to say")
    if not 0.5 <= speaking_rate <= 2.0:
        raise OmnituneError(f"speaking rate {speaking_rate} is out of range", "use a rate between 0.5 and 2.0")
    spoken = normalise(text) if normalise_text else text
    pieces = []
    for sentence in split_sentences(spoken) or [spoken]:
        audio = np.asarray(synthesiser.synthesise(sentence), np.float32).reshape(-1)
        if speaking_rate != 1.0 and audio.size:
            audio = librosa.effects.time_stretch(audio, rate=speaking_rate)  # phase vocoder: pitch is kept
        pieces.append(_faded(audio, synthesiser.sample_rate))
    pause = np.zeros(int(PAUSE_SECONDS * synthesiser.sample_rate), np.float32)
    joined = [part for piece in pieces for part in (piece, pause)][:-1]
    return np.concatenate(joined) if joined else np.zeros(0, np.float32)
