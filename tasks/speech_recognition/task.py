"""Automatic speech recognition: the task protocol's answers (shared/task_protocol.py) for Whisper (sequence to
sequence, trained with predict-with-generate) and CTC encoders (wav2vec2 / HuBERT / MMS), picked from the
model's own config. Audio is read with soundfile/librosa (shared/audio.py) and resampled to the model's rate.

Whisper recipe: labels are the tokenizer's prefix tokens (+ language and task tokens for multilingual models)
and the transcript, without the leading <|startoftranscript|> the model adds itself; optional SpecAugment,
frozen encoder and LoRA. Whisper's encoder only takes 30-second windows, so length-grouped batching saves
label padding only; for CTC models it saves real compute.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
from datasets import Dataset
from pydantic import Field
from transformers import AutoConfig, AutoModelForCTC, AutoModelForSpeechSeq2Seq, AutoProcessor, GenerationConfig

from shared.attention.setup import configure_attention
from shared.audio import checked_clip, problems, read_audio
from shared.config import TrainParams
from shared.errors import OmnituneError
from shared.pretrained import hub_failure, load_kwargs, load_noting_fresh_weights
from shared.task_defaults import TaskDefaults
from shared.task_protocol import Built, Quickstart
from shared.text_normalise import normaliser_for
from tasks.speech_recognition import ctc, data, shelf_entries  # noqa: F401  (registers Whisper)
from tasks.speech_recognition.collators import CTCCollator, WhisperCollator
from tasks.speech_recognition.transcribe import WINDOW_SECONDS, is_whisper, transcribe

LONGER = ": split longer recordings"  # why a clip over max_audio_seconds is refused


class SpeechParams(TrainParams):
    language: str | None = Field(
        None,
        description="multilingual Whisper: the spoken language (en, de, ...); unset: "
        "detected per clip at inference, English on the bundled data",
    )
    whisper_task: Literal["transcribe", "translate"] = Field(
        "transcribe", description="multilingual Whisper: transcribe, or translate the speech into English"
    )
    freeze_encoder: bool = Field(
        False,
        description="keep the acoustic encoder at its pretrained weights "
        "(about 3x faster steps for Whisper; the decoder still adapts)",
    )
    spec_augment: bool = Field(False, description="SpecAugment while training (time and feature masks, 5%)")
    normaliser: Literal["english", "basic", "none"] = Field(
        "english",
        description="text normalisation before WER/CER: Whisper's English normaliser, its basic "
        "(any-language) one, or none",
    )
    max_new_tokens: int = Field(225, description="Whisper: longest transcript generated per 30 s window")
    num_beams: int = Field(1, ge=1, description="Whisper: beam width at evaluation (1: greedy)")
    min_audio_seconds: float = Field(0.1, description="shorter clips are unusable")
    max_audio_seconds: float = Field(600.0, description="longer clips are refused (split them first)")
    bad_audio: Literal["fail", "skip"] = Field(
        "fail",
        description="missing, unreadable, silent or (for Whisper "
        "training) over-30-s clips: fail listing them, or skip them",
    )
    remove_unused_columns: bool = False  # the collator needs the raw audio column
    per_device_eval_batch_size: int = 8


class SpeechRecognitionTask(TaskDefaults):
    name = "automatic-speech-recognition"
    params_class = SpeechParams
    default_model = "whisper-tiny.en"
    default_data_name = "omnitune/asterisk-prompts"
    metric = "wer"
    primary_metric = "wer"
    head_modules: tuple[str, ...] = ("lm_head",)  # CTC's output layer is new when the vocabulary is
    input_fields = ("audio",)
    audit_columns = {"audio": "audio", "text": "target-text", "speaker": "speaker"}
    speed_sample = {"latency_examples": 12, "throughput_examples": 32}  # each example is a whole transcription
    # Sized for the bundled Asterisk prompts on a 2-core CPU (README has the measured run): Whisper's usual
    # fine-tuning rate, about 3 epochs in the 25-minute budget. Its train split holds 10 silent clips
    # ("(N seconds of silence)") and 3 prompts over 30 s: skipped, with a warning naming them
    bundled_data_defaults = {
        "learning_rate": 1e-5,
        "warmup_ratio": 0.1,
        "num_train_epochs": 3,
        "per_device_train_batch_size": 8,
        "language": "en",
        "max_train_minutes": 25.0,
        "save_steps": 50,
        "bad_audio": "skip",
    }
    # a run short enough for the quickstart (6 minutes) left Whisper worse than zero-shot (WER 0.060 vs 0.047)
    quickstart = Quickstart(
        "evaluate",
        minutes=0.5,
        why="Whisper tiny.en transcribes these prompts well zero-shot (WER 0.047); only the full 165-step run "
        "improves on it (0.040), a few minutes of fine-tuning made it worse",
        full_run="omnitune train automatic-speech-recognition   (24 min: WER 0.040)",
    )

    # 1. examples ------------------------------------------------------------------------------------------------
    def load_examples(self, params: SpeechParams, split: str) -> Dataset:
        examples = data.load_examples(
            params.data or str(data.BUNDLED), params.split_name(split), params.column_mapping, params.bad_audio
        )
        return params.limited(examples, split)

    # 3. model ---------------------------------------------------------------------------------------------------
    def build(
        self, model_path: str, params: SpeechParams, examples: Dataset | None = None, training: bool = False
    ) -> Built:
        """Whisper generates its transcripts; a CTC model reads them off its frames."""
        try:
            config = AutoConfig.from_pretrained(model_path, trust_remote_code=False)
            if config.is_encoder_decoder:
                model, processor, fresh = *self._build_whisper(model_path, params), ()
            else:
                model, processor, fresh = self._build_ctc(model_path, config, params, examples)
        except (OSError, ValueError) as error:
            raise hub_failure(model_path, error) from None
        if params.freeze_encoder:
            encoder = model.get_encoder() if is_whisper(model) else getattr(model, model.base_model_prefix)
            for parameter in encoder.parameters():
                parameter.requires_grad_(False)
        return Built(model, processor, generates=config.is_encoder_decoder, untrained=fresh)

    def _build_whisper(self, model_path: str, params: SpeechParams):
        processor = AutoProcessor.from_pretrained(model_path)
        overrides = (
            {"apply_spec_augment": True, "mask_time_prob": 0.05, "mask_feature_prob": 0.05}
            if params.spec_augment
            else {}
        )
        model = AutoModelForSpeechSeq2Seq.from_pretrained(model_path, **load_kwargs(params.allow_pickle), **overrides)
        configure_attention(model, params, model_path)  # token pruning of the encoder's frames, when asked
        if getattr(model.generation_config, "is_multilingual", False):
            processor.tokenizer.set_prefix_tokens(language=params.language, task=params.whisper_task)
        elif params.language not in (None, "en", "english"):
            raise OmnituneError(
                f"{model_path} is an English-only Whisper; it cannot learn '{params.language}'",
                "use a multilingual Whisper (the shelf's whisper-base, or openai/whisper-small)",
            )
        return model, processor

    def _build_ctc(self, model_path: str, config, params: SpeechParams, examples: Dataset | None):
        has_vocabulary = (Path(model_path) / "vocab.json").is_file() or not Path(model_path).exists()
        try:
            processor = AutoProcessor.from_pretrained(model_path) if has_vocabulary else None
        except (OSError, ValueError):
            processor = None  # a Hub encoder without a CTC vocabulary (e.g. facebook/wav2vec2-base)
        if processor is None or not hasattr(processor, "tokenizer"):
            if examples is None:
                raise OmnituneError(
                    f"{model_path} has no CTC vocabulary; one is made from the transcripts a model trains on",
                    f"fine-tune it first: omnitune train automatic-speech-recognition --model {model_path}",
                )
            processor = ctc.processor_from_texts(list(examples["text"]))
        tokenizer = processor.tokenizer
        overrides = {
            "vocab_size": len(tokenizer),
            "pad_token_id": tokenizer.pad_token_id,
            "ctc_loss_reduction": "mean",
            "ctc_zero_infinity": True,
        }
        if params.spec_augment:
            overrides.update(mask_time_prob=0.05, mask_feature_prob=0.05)
        model, fresh = load_noting_fresh_weights(
            AutoModelForCTC,
            model_path,
            **load_kwargs(params.allow_pickle),
            **overrides,
            ignore_mismatched_sizes=config.vocab_size != len(tokenizer),
        )
        return model, processor, fresh

    # 2. features ------------------------------------------------------------------------------------------------
    def features(self, examples: Dataset, built: Built, params: SpeechParams, for_eval: bool) -> Dataset:
        """Waveforms at the model's rate and token labels; unusable training clips are listed (or skipped) first."""
        processor = built.processor
        rate = processor.feature_extractor.sampling_rate
        whisper = built.generates
        limit = WINDOW_SECONDS if whisper else params.max_audio_seconds
        rows, bad = [], []
        for example in examples:
            clip = read_audio(example["audio"], rate)
            # evaluation keeps every example (predictions are matched to examples by position)
            found = (
                []
                if for_eval
                else problems(
                    clip,
                    params.min_audio_seconds,
                    limit,
                    " (Whisper trains on 30-second windows: split the clip and its transcript)" if whisper else "",
                )
            )
            if found:
                bad.append(f"{example['audio'] if isinstance(example['audio'], str) else 'a clip'}: {found[0]}")
                continue
            text = example["text"] if whisper else ctc.normalise(example["text"])
            labels = processor.tokenizer(text).input_ids
            rows.append({"audio": clip.audio, "labels": labels, "length": len(clip.audio)})
        data.report_unusable(bad, params.bad_audio, where="training clips")
        return Dataset.from_list(rows).with_format("numpy", columns=["audio"], output_all_columns=True)

    def collator(self, built: Built, params: SpeechParams) -> Any:
        if built.generates:
            start = built.processor.tokenizer.convert_tokens_to_ids("<|startoftranscript|>")
            return WhisperCollator(built.processor, start)
        return CTCCollator(built.processor)

    def training_generation(self, built: Built, params: SpeechParams) -> GenerationConfig | None:
        """Whisper: greedy generation with the language and task of the run, for evaluation during training."""
        if not built.generates:
            return None
        config = GenerationConfig.from_dict(built.model.generation_config.to_dict())
        config.max_new_tokens, config.num_beams = params.max_new_tokens, 1
        if getattr(config, "is_multilingual", False):
            config.task = params.whisper_task
            config.language = params.language
        return config

    # 4. answers -------------------------------------------------------------------------------------------------
    def decode(
        self, examples: Dataset, features: Dataset, outputs: Any, built: Built, params: SpeechParams
    ) -> list[str]:
        outputs = outputs[0] if isinstance(outputs, tuple) else outputs
        tokenizer = built.processor.tokenizer
        if built.generates:
            ids = np.where(outputs < 0, tokenizer.pad_token_id, outputs)
            return [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]
        return [t.strip() for t in tokenizer.batch_decode(np.asarray(outputs).argmax(-1))]

    def predict(self, built: Built, examples: Any, params: SpeechParams, batch_size: int) -> list[str]:
        rate = built.processor.feature_extractor.sampling_rate
        clips = [read_audio(source, rate).audio for source in examples["audio"]]
        return transcribe(
            built.model,
            built.processor,
            clips,
            batch_size,
            params.language,
            params.whisper_task,
            params.max_new_tokens,
            params.num_beams,
        )

    def input_seconds(self, examples: Dataset) -> float:
        """Audio duration of the examples, for the real-time factor (processing time / audio time)."""
        return float(sum(examples["seconds"]))

    # 5. metric --------------------------------------------------------------------------------------------------
    def metric_inputs(self, answers: list[str], examples: Dataset, params: SpeechParams) -> dict[str, Any]:
        return {"predictions": answers, "references": list(examples["text"]), "normaliser": params.normaliser}

    def write_artifacts(
        self, answers: list[str], examples: Dataset, params: SpeechParams, folder: Path, split: str
    ) -> None:
        """Every transcript beside its reference, worst first, so a user sees what the WER is made of."""
        import jiwer

        normalise = normaliser_for(params.normaliser)
        rows = []
        for example, answer in zip(examples, answers):
            reference, hypothesis = normalise(example["text"]), normalise(answer)
            wer = jiwer.wer(reference, hypothesis) if reference.strip() else 0.0
            source = example["audio"] if isinstance(example["audio"], str) else None
            rows.append({"audio": source, "reference": example["text"], "transcript": answer, "wer": round(wer, 3)})
        rows.sort(key=lambda r: -r["wer"])
        (folder / f"transcripts_{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    # CLI and demo ---------------------------------------------------------------------------------------------
    def example_from_inputs(self, inputs: dict, params: SpeechParams) -> dict:
        path = Path(str(inputs["audio"])).expanduser()
        if not path.is_file():
            raise OmnituneError(f"audio file {path} does not exist", "give the path of a WAV, FLAC or OGG file")
        checked_clip(path, None, params.min_audio_seconds, params.max_audio_seconds, LONGER)
        return {"audio": [str(path)], "text": [""]}

    def describe_answer(self, answer: str, built: Built, params: SpeechParams) -> dict:
        return {"transcript": answer}
