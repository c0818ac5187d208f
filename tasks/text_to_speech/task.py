"""Text to speech: the task protocol's answers (shared/task_protocol.py) for evaluating any voice (backends.py)
by an ASR round trip, and for fine-tuning SpeechT5 through transformers' Trainer.

What is possible offline (README): the shelf's ONNX voices synthesise and are evaluated; there are no
pretrained PyTorch TTS weights, so SpeechT5 fine-tuning needs microsoft/speecht5_tts (and its HiFi-GAN
vocoder) from the Hub, and is exercised offline on a tiny randomly initialised SpeechT5 in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile
import torch
from datasets import Dataset
from pydantic import Field

from shared.audio import read_audio, resample
from shared.config import TrainParams
from shared.errors import OmnituneError
from shared.pretrained import load_kwargs, resolve
from shared.task_defaults import TaskDefaults
from shared.task_protocol import Built, Quickstart
from tasks.speech_recognition import data
from tasks.speech_recognition.transcribe import transcribe
from tasks.text_to_speech import backends, quality, shelf_entries  # noqa: F401  (registers the voices)
from tasks.text_to_speech.normalise import normalise

SAMPLES_SHOWN = 3  # synthesised test clips kept in the run folder for listening


MAX_CHARACTERS = 5_000  # one request's work (CLI and demo): about five minutes of speech


class SpeechSynthesisParams(TrainParams):
    vocoder: str | None = Field(
        None, description=f"SpeechT5: HiFi-GAN vocoder (default {backends.DEFAULT_VOCODER} or the run's own)"
    )
    speaker_embedding: str | None = Field(
        None,
        description="SpeechT5: the voice to speak in: a .npy x-vector, or "
        "a WAV/FLAC/OGG recording embedded by speaker_model (default: the run's "
        "own, else a fixed fallback voice)",
    )
    speaker_model: str = Field(
        backends.SPEAKER_MODEL,
        description="speaker-verification model that turns a recording into an x-vector (WavLMForXVector)",
    )
    speaking_rate: float = Field(1.0, ge=0.5, le=2.0, description="1.0 natural; 1.2 is 20% faster (pitch kept)")
    normalise_text: bool = Field(True, description="spell out numbers, dates, times, money and abbreviations")
    judge: str = Field(
        "whisper-base",
        description="the recogniser that transcribes synthetic speech for the "
        "round-trip WER (a shelf entry, folder or Hub id)",
    )
    language: str = Field(
        "en",
        description="language of the texts: the judge transcribes in it (the text "
        "normalisation before synthesis is English)",
    )
    normaliser: Literal["english", "basic", "none"] = "english"
    bad_audio: Literal["fail", "skip"] = Field(
        "fail", description="missing or unreadable reference clips: fail listing them, or skip them"
    )
    max_label_seconds: float = Field(12.0, description="SpeechT5 fine-tuning: longer reference clips are left out")
    remove_unused_columns: bool = False
    group_by_length: bool = False
    per_device_eval_batch_size: int = 1
    metric_for_best_model: str | None = "eval_loss"  # the spectrogram loss: round trips are too slow per epoch


@dataclass
class Speech:
    """One synthesised utterance: what `predict` answers."""

    audio: np.ndarray
    sample_rate: int


class TextToSpeechTask(TaskDefaults):
    name = "text-to-speech"
    params_class = SpeechSynthesisParams
    default_model = "hibari"  # offline: a voice to evaluate; fine-tuning needs a SpeechT5 checkpoint
    default_data_name = "omnitune/asterisk-prompts"
    metric = "speech_synthesis"
    primary_metric = "wer"
    head_modules: tuple[str, ...] = ()
    input_fields = ("text",)
    audit_columns = {"text": "text", "audio": "target-audio", "speaker": "speaker"}
    scores_during_training = False  # training evaluates the spectrogram loss; the round trip runs on the test split
    speed_sample = {"latency_examples": 8, "throughput_examples": 8}
    bundled_data_defaults = {
        "learning_rate": 1e-5,
        "warmup_ratio": 0.1,
        "per_device_train_batch_size": 4,
        "max_train_minutes": 30.0,
        "bad_audio": "skip",
    }
    quickstart = Quickstart(
        "evaluate",
        minutes=1.0,
        why="no offline weights to fine-tune (SpeechT5 fine-tuning needs its checkpoint from the Hub): the "
        "offline voice is evaluated as it is",
        full_run="omnitune train text-to-speech --model microsoft/speecht5_tts   (online)",
    )

    def load_examples(self, params: SpeechSynthesisParams, split: str) -> Dataset:
        """Texts, each with a human reading (the reference for mel-cepstral distortion; training needs it, the
        round-trip WER of an evaluation does not)."""
        examples = data.load_examples(
            params.data or str(data.BUNDLED),
            params.split_name(split),
            params.column_mapping,
            params.bad_audio,
            audio_required=split == "train",
        )
        return params.limited(examples, split)

    def build(
        self, model_path: str, params: SpeechSynthesisParams, examples: Dataset | None = None, training: bool = False
    ) -> Built:
        """The synthesiser in `extras["voice"]`; for SpeechT5, its model and processor are what trains (an ONNX
        voice has neither: it is inference only)."""
        synthesiser = backends.load_synthesiser(
            model_path, params.vocoder, params.speaker_embedding, params.allow_pickle, params.speaker_model
        )
        if isinstance(synthesiser, backends.SpeechT5Voice):
            return Built(synthesiser.model, synthesiser.processor, extras={"voice": synthesiser})
        if training:
            raise OmnituneError(
                f"{model_path} is an inference-only voice (ONNX, no PyTorch weights to train)",
                "fine-tune SpeechT5: --model microsoft/speecht5_tts (online), or evaluate the voice "
                f"with omnitune evaluate text-to-speech --model {model_path}",
            )
        return Built(synthesiser, None, extras={"voice": synthesiser})

    # training (SpeechT5) ----------------------------------------------------------------------------------------
    def features(self, examples: Dataset, built: Built, params: SpeechSynthesisParams, for_eval: bool) -> Dataset:
        processor = built.processor
        speaker = built.extras["voice"].speaker.numpy()[0]
        rate = processor.feature_extractor.sampling_rate
        rows = []
        for example in examples:
            clip = read_audio(example["audio"], rate)
            if clip.seconds > params.max_label_seconds:
                continue
            text = normalise(example["text"]) if params.normalise_text else example["text"]
            inputs = processor(text=text, audio_target=clip.audio, sampling_rate=rate)
            rows.append(
                {
                    "input_ids": inputs["input_ids"],
                    "labels": np.asarray(inputs["labels"][0], np.float32),
                    "speaker_embeddings": speaker,
                }
            )
        if not rows:
            raise OmnituneError(f"no clip is at most {params.max_label_seconds} s long", "raise --max_label_seconds")
        return Dataset.from_list(rows)

    def save_extras(self, built: Built, model_dir: Path) -> None:
        """The vocoder and the speaker embedding trained with, so that the run speaks the same offline."""
        voice = built.extras["voice"]
        voice.vocoder.save_pretrained(model_dir / "vocoder")
        np.save(model_dir / backends.SPEAKER_EMBEDDING_FILE, voice.speaker.numpy()[0])

    def collator(self, built: Built, params: SpeechSynthesisParams) -> Any:
        return SpeechT5Collator(built.processor, built.model.config.reduction_factor)

    # answers ----------------------------------------------------------------------------------------------------
    def predict(self, built: Built, examples: Any, params: SpeechSynthesisParams, batch_size: int) -> list[Speech]:
        voice = built.extras["voice"]
        rate = voice.sample_rate
        if not 8_000 <= rate <= 48_000:
            raise OmnituneError(
                f"the voice reports a sample rate of {rate} Hz, outside 8-48 kHz",
                "check the voice's configuration (sampling_rate)",
            )
        return [
            Speech(backends.speak(voice, text, params.speaking_rate, params.normalise_text), rate)
            for text in examples["text"]
        ]

    def decode(self, examples, features, outputs, built: Built, params) -> list:
        return []  # training scores the spectrogram loss only (scores_during_training)

    def metric_inputs(self, answers: list[Speech], examples: Dataset, params: SpeechSynthesisParams) -> dict:
        heard = heard_by_judge(answers, params)
        seconds = [quality.speech_seconds(a.audio, a.sample_rate) for a in answers]
        mcd = []
        for answer, example in zip(answers, examples):
            reference = read_audio(example["audio"], None) if example.get("audio") is not None else None
            mcd.append(
                quality.mel_cepstral_distortion(answer.audio, answer.sample_rate, reference.audio, reference.rate)
                if reference is not None and answer.audio.size
                else float("nan")
            )
        return {
            "predictions": heard,
            "references": list(examples["text"]),
            "seconds": seconds,
            "mcd": mcd,
            "sample_rate": answers[0].sample_rate if answers else None,
            "normaliser": params.normaliser,
        }

    def write_artifacts(self, answers: list[Speech], examples: Dataset, params, folder: Path, split: str) -> None:
        """A few synthesised clips beside what the judge heard, to listen to."""
        folder = folder / f"samples_{split}"
        folder.mkdir(parents=True, exist_ok=True)
        shown = answers[:SAMPLES_SHOWN]
        lines = []
        for index, (answer, example, heard) in enumerate(zip(shown, examples, heard_by_judge(shown, params))):
            soundfile.write(folder / f"{index}.wav", answer.audio, answer.sample_rate)
            lines.append(f"{index}.wav\ttext: {example['text']}\theard: {heard}")
        (folder / "README.txt").write_text("\n".join(lines) + "\n")

    def example_from_inputs(self, inputs: dict, params: SpeechSynthesisParams) -> dict:
        text = str(inputs.get("text") or "")
        if not text.strip():
            raise OmnituneError("The text is empty: type something to say.")
        if len(text) > MAX_CHARACTERS:
            raise OmnituneError(
                f"The text has {len(text):,} characters; the limit is {MAX_CHARACTERS:,}. Split it into parts."
            )
        return {"text": [text]}

    def describe_answer(self, answer: Speech, built: Built, params) -> dict:
        path = _free_path(Path(params.output_dir or "."), "speech", ".wav")
        soundfile.write(path, answer.audio, answer.sample_rate)
        return {
            "audio": str(path),
            "seconds": round(len(answer.audio) / answer.sample_rate, 2),
            "sample_rate": answer.sample_rate,
        }


def heard_by_judge(answers: list[Speech], params: SpeechSynthesisParams) -> list[str]:
    """What the judge (a Whisper) hears in the synthesised speech: the round trip behind the WER."""
    model, processor = _judge(params.judge, params.allow_pickle)
    return transcribe(
        model,
        processor,
        [resample(a.audio, a.sample_rate, 16_000) for a in answers],
        batch_size=8,
        language=params.language,
    )


@cache
def _judge(reference: str, allow_pickle: bool):
    """The judge, loaded once per process (an evaluation and its artifacts ask it twice)."""
    from transformers import AutoModelForSpeechSeq2Seq, AutoProcessor

    path = resolve(reference, allow_pickle, log=lambda *_: None)
    return AutoModelForSpeechSeq2Seq.from_pretrained(path, **load_kwargs(allow_pickle)), AutoProcessor.from_pretrained(
        path
    )


class SpeechT5Collator:
    """Token ids padded; log-mel targets padded with -100 (ignored by the loss) and cut to a multiple of the
    model's reduction factor (it predicts that many frames per step), as transformers' SpeechT5 recipe does."""

    def __init__(self, processor, reduction_factor: int):
        self.processor, self.reduction_factor = processor, reduction_factor

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        targets = [{"input_values": np.asarray(item["labels"], np.float32)} for item in items]
        batch = self.processor.pad(
            input_ids=[{"input_ids": item["input_ids"]} for item in items], labels=targets, return_tensors="pt"
        )
        batch["labels"] = batch["labels"].masked_fill(batch.pop("decoder_attention_mask").unsqueeze(-1).ne(1), -100)
        if self.reduction_factor > 1:
            longest = max(len(t["input_values"]) for t in targets)
            batch["labels"] = batch["labels"][:, : longest - longest % self.reduction_factor]
        batch["speaker_embeddings"] = torch.tensor(
            np.stack([np.asarray(i["speaker_embeddings"], np.float32) for i in items])
        )
        return dict(batch)


def _free_path(folder: Path, stem: str, suffix: str) -> Path:
    """speech.wav, else speech-1.wav, ...: a file the user already has is never replaced."""
    if not folder.is_dir():
        raise OmnituneError(f"--output_dir {folder} is not a folder", "give an existing folder for the wav file")
    for index in range(10_000):
        path = folder / (f"{stem}-{index}{suffix}" if index else f"{stem}{suffix}")
        try:
            with open(path, "xb"):  # created here, atomically: two predictions never pick the same name
                return path
        except FileExistsError:
            continue
    raise OmnituneError(f"{folder} already holds 10,000 {stem} files", "give another --output_dir")
