"""Speech recognition: audio reading and checks, data loading, collators, the Whisper and CTC paths with tiny
random models, training end to end (loss falls, resumable run folder, WER and real-time factor recorded)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile
import torch

from shared.audio import Clip, is_clipped, problems, read_audio
from shared.errors import OmnituneError
from tasks.speech_recognition import ctc
from tasks.speech_recognition.collators import CTCCollator, WhisperCollator
from tasks.speech_recognition.data import load_examples
from tasks.speech_recognition.task import SpeechRecognitionTask
from tests.tiny_speech import save_tiny_wav2vec2, save_tiny_whisper, write_audiofolder, write_tone

TEXTS = {
    "train": ["press one", "press two", "goodbye", "hello there"] * 2,
    "validation": ["press one", "goodbye"],
    "test": ["hello there", "press two"],
}


@pytest.mark.parametrize("extension", ["wav", "flac", "ogg"])
@pytest.mark.parametrize("rate", [8_000, 16_000, 22_050, 44_100, 48_000])
@pytest.mark.parametrize("channels", [1, 2])
def test_audio_is_read_as_16_khz_mono_keeping_duration_and_pitch(tmp_path, extension, rate, channels):
    path = write_tone(tmp_path / f"tone.{extension}", seconds=0.5, rate=rate, channels=channels, frequency=440)
    clip = read_audio(path)
    assert clip.rate == 16_000 and clip.audio.ndim == 1 and clip.audio.dtype == np.float32
    assert (clip.source_rate, clip.source_channels) == (rate, channels)
    assert len(clip.audio) == pytest.approx(8_000, abs=16)
    spectrum = np.abs(np.fft.rfft(clip.audio))
    assert np.fft.rfftfreq(len(clip.audio), 1 / 16_000)[spectrum.argmax()] == pytest.approx(440, abs=4)


def test_corrupt_and_non_audio_files_name_the_file_and_the_fix(tmp_path):
    truncated = tmp_path / "cut.flac"
    truncated.write_bytes(write_tone(tmp_path / "whole.flac", seconds=1.0).read_bytes()[:60])
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    for path in (truncated, text):
        with pytest.raises(OmnituneError) as error:
            read_audio(path)
        assert path.name in str(error.value) and "WAV, FLAC or OGG" in str(error.value)
    with pytest.raises(OmnituneError, match="uploaded audio"):
        read_audio(b"\x00" * 100)


def test_problems_name_silent_short_long_and_clipped_clips():
    rate = 16_000
    assert problems(Clip(np.zeros(rate, np.float32), rate, rate, 1), 0.1, 30)[0].startswith("silent")
    assert problems(Clip(np.full(160, 0.1, np.float32), rate, rate, 1), 0.1, 30)[0].startswith("too short")
    assert problems(Clip(np.full(31 * rate, 0.1, np.float32), rate, rate, 1), 0.1, 30)[0].startswith("too long")
    loud = Clip(np.clip(2 * np.sin(np.linspace(0, 600, rate)), -1, 1).astype(np.float32), rate, rate, 1)
    assert is_clipped(loud) and not problems(loud, 0.1, 30)
    assert not is_clipped(Clip(0.5 * np.sin(np.linspace(0, 600, rate)).astype(np.float32), rate, rate, 1))


def test_audiofolder_csv_and_hub_layouts_load_with_every_bad_file_listed(tmp_path):
    folder = write_audiofolder(tmp_path / "speech", TEXTS)
    examples = load_examples(str(folder), "train")
    assert len(examples) == 8 and examples[0]["seconds"] == pytest.approx(1.0)

    table = tmp_path / "clips.csv"
    table.write_text(
        "path,sentence\n" + "".join(f"speech/train/train-{i}.wav,{t}\n" for i, t in enumerate(TEXTS["train"]))
    )
    rows = [path for split in ("train", "validation", "test") for path in load_examples(str(table), split)["audio"]]
    assert sorted(rows) == sorted(str(folder / "train" / f"train-{i}.wav") for i in range(8))

    (folder / "train" / "train-1.wav").unlink()
    (folder / "train" / "train-2.wav").write_text("garbage")
    with pytest.raises(OmnituneError) as error:
        load_examples(str(folder), "train")
    message = str(error.value)
    assert (
        "2 unusable" in message
        and "train-1.wav: file not found" in message
        and "train-2.wav: not a readable" in message
    )
    assert "--bad_audio skip" in message
    with pytest.warns(UserWarning, match="skipped 2"):
        assert len(load_examples(str(folder), "train", bad_audio="skip")) == 6


def test_hub_audio_columns_are_read_from_their_bytes_without_datasets_decoding(tmp_path):
    from datasets import Audio, Dataset

    from tasks.speech_recognition.data import _rows_of_table, _undecoded

    path = write_tone(tmp_path / "a.flac", seconds=0.5, rate=22_050)
    table = Dataset.from_dict({"audio": [str(path)], "sentence": ["hello"]}).cast_column("audio", Audio())
    table = _undecoded(
        table.cast_column("audio", Audio(decode=False)).map(
            lambda row: {"audio": {"bytes": path.read_bytes(), "path": None}}
        )
    )
    row = _rows_of_table(table, None, base=None, where="hub")[0]
    assert isinstance(row["audio"], bytes) and row["text"] == "hello"
    assert read_audio(row["audio"]).seconds == pytest.approx(0.5, abs=0.01)


def test_whisper_collator_masks_padding_and_cuts_the_start_token(tmp_path):
    from transformers import WhisperProcessor

    processor = WhisperProcessor.from_pretrained(save_tiny_whisper(tmp_path / "whisper"))
    start = processor.tokenizer.convert_tokens_to_ids("<|startoftranscript|>")
    items = [{"audio": np.zeros(8_000, np.float32), "labels": processor.tokenizer(t).input_ids} for t in ("a", "abc")]
    batch = WhisperCollator(processor, start)(items)
    assert batch["input_features"].shape == (2, 80, 3000)
    assert start not in batch["labels"][:, 0].tolist()
    assert batch["labels"][0].tolist()[-2:] == [-100, -100]  # "a" is two tokens shorter than "abc"
    assert (batch["labels"][1] != -100).all()


def test_ctc_vocabulary_comes_from_the_transcripts_and_decodes_back():
    processor = ctc.processor_from_texts(["Press 1, please!", "Don't go"])
    vocabulary = processor.tokenizer.get_vocab()
    assert vocabulary["<pad>"] == 0 and processor.tokenizer.pad_token_id == 0
    assert set("press1pleasedon'tgo") <= set(vocabulary) and "," not in vocabulary and "P" not in vocabulary
    ids = processor.tokenizer(ctc.normalise("Press 1, please!")).input_ids
    assert processor.tokenizer.decode(ids, group_tokens=False) == "press 1 please"
    batch = CTCCollator(processor)(
        [{"audio": np.ones(400, np.float32), "labels": ids}, {"audio": np.ones(800, np.float32), "labels": ids[:3]}]
    )
    assert batch["input_values"].shape == (2, 800) and batch["attention_mask"][0, 400:].sum() == 0
    assert (batch["labels"][1, 3:] == -100).all()


def _train(tmp_path, model_folder, **overrides):
    from apps.pipeline import train_and_evaluate
    from evaluation.leaderboard import Leaderboard

    task = SpeechRecognitionTask()
    data = write_audiofolder(tmp_path / "speech", TEXTS)
    params = task.params_class(
        model=str(model_folder),
        data=str(data),
        max_steps=12,
        learning_rate=3e-3,
        per_device_train_batch_size=4,
        logging_steps=1,
        max_new_tokens=8,
        eval_strategy="no",
        save_steps=6,
        **overrides,
    )
    outcome = train_and_evaluate(task, params, tmp_path / "run", board=Leaderboard(f"sqlite:///{tmp_path}/lb.db"))
    losses = [
        e["loss"]
        for e in map(json.loads, (tmp_path / "run" / "train_log.jsonl").read_text().splitlines())
        if "loss" in e
    ]
    return outcome, losses


@pytest.mark.parametrize("builder", [save_tiny_whisper, save_tiny_wav2vec2], ids=["whisper", "ctc"])
def test_training_lowers_the_loss_and_records_wer_with_real_time_factor(tmp_path, builder):
    outcome, losses = _train(tmp_path, builder(tmp_path / "model"))
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    metrics = outcome.report.metrics
    assert {"wer", "cer", "substitutions", "insertions", "deletions", "real_time_factor"} <= set(metrics)
    assert metrics["reference_words"] == 4 and metrics["real_time_factor"] > 0
    transcripts = [json.loads(line) for line in (tmp_path / "run" / "transcripts_test.jsonl").read_text().splitlines()]
    assert {t["reference"] for t in transcripts} == set(TEXTS["test"])
    assert [t["wer"] for t in transcripts] == sorted((t["wer"] for t in transcripts), reverse=True)
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-12").is_dir()  # resumable


def test_ctc_run_saves_its_vocabulary_and_reloads(tmp_path):
    from evaluation.harness import evaluate

    _train(tmp_path, save_tiny_wav2vec2(tmp_path / "model"))
    task = SpeechRecognitionTask()
    params = task.params_class(data=str(tmp_path / "speech"))
    report = evaluate(task, str(tmp_path / "run" / "model"), params, with_speed=False)
    assert report.examples == 2 and 0 <= report.metrics["cer"]
    processor = task.build(str(tmp_path / "run" / "model"), params).processor
    assert processor.tokenizer.get_vocab() == ctc.processor_from_texts(TEXTS["train"]).tokenizer.get_vocab()


def test_frozen_encoder_and_spec_augment_are_applied(tmp_path):
    task = SpeechRecognitionTask()
    params = task.params_class(freeze_encoder=True, spec_augment=True)
    model = task.build(str(save_tiny_whisper(tmp_path / "whisper")), params).model
    assert not any(p.requires_grad for p in model.get_encoder().parameters())
    assert all(p.requires_grad for p in model.get_decoder().parameters())
    assert model.config.apply_spec_augment and model.config.mask_time_prob == 0.05


def test_multilingual_whisper_labels_carry_language_and_task_and_english_only_refuses_others(tmp_path):
    task = SpeechRecognitionTask()
    processor = task.build(
        str(save_tiny_whisper(tmp_path / "multi", multilingual=True)), task.params_class(language="de")
    ).processor
    prefix = processor.tokenizer.convert_ids_to_tokens(processor.tokenizer("hallo").input_ids[:4])
    assert prefix == ["<|startoftranscript|>", "<|de|>", "<|transcribe|>", "<|notimestamps|>"]
    with pytest.raises(OmnituneError, match="English-only"):
        task.build(str(save_tiny_whisper(tmp_path / "english")), task.params_class(language="de"))


def test_long_clips_are_transcribed_in_long_form_and_language_is_detected(tmp_path):
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from tasks.speech_recognition.transcribe import detect_language, transcribe

    folder = save_tiny_whisper(tmp_path / "multi", multilingual=True)
    model = WhisperForConditionalGeneration.from_pretrained(folder)
    processor = WhisperProcessor.from_pretrained(folder)
    clips = [np.random.default_rng(0).normal(0, 0.1, 16_000 * 45).astype(np.float32), np.zeros(8_000, np.float32)]
    texts = transcribe(model, processor, clips, batch_size=2, max_new_tokens=4)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    assert detect_language(model, processor, clips[0]) in ("en", "de")


def test_unusable_training_clips_fail_listing_them_or_are_skipped(tmp_path):
    task = SpeechRecognitionTask()
    data = write_audiofolder(tmp_path / "speech", TEXTS)
    soundfile.write(data / "train" / "train-0.wav", np.zeros(16_000, np.float32), 16_000)  # silent
    soundfile.write(data / "train" / "train-1.wav", np.full(16_000 * 31, 0.1, np.float32), 16_000)  # too long
    folder = save_tiny_whisper(tmp_path / "whisper")
    params = task.params_class(model=str(folder), data=str(data))
    built = task.build(str(folder), params)
    examples = task.load_examples(params, "train")
    with pytest.raises(OmnituneError) as error:
        task.features(examples, built, params, for_eval=False)
    assert "train-0.wav: silent" in str(error.value) and "train-1.wav: too long" in str(error.value)
    with pytest.warns(UserWarning, match="skipped 2"):
        kept = task.features(examples, built, params.model_copy(update={"bad_audio": "skip"}), for_eval=False)
    assert (
        len(kept) == 6
        and isinstance(kept[0]["audio"], np.ndarray)
        and torch.is_tensor(task.collator(built, params)([kept[0]])["input_features"])
    )


@pytest.fixture
def speech_demo(tmp_path, serve):
    from apps.demos import build_demo

    return serve(build_demo("automatic-speech-recognition", str(save_tiny_whisper(tmp_path / "whisper"))))


def test_demo_transcribes_an_uploaded_file_with_timestamps_and_a_picture(speech_demo, tmp_path):
    from gradio_client import Client, handle_file

    path = write_tone(tmp_path / "stereo-44k.wav", seconds=2.0, rate=44_100, channels=2)
    client = Client(speech_demo.local_url, verbose=False)
    transcript, timestamps, picture, details = client.predict(handle_file(str(path)), "segment", api_name="/transcribe")
    assert isinstance(transcript, str) and timestamps["headers"] == ["start (s)", "end (s)", "text"]
    assert details["seconds"] == pytest.approx(2.0, abs=0.01)
    assert (
        "resampled from 44100 Hz to 16000 Hz" in details["notes"]
        and "2 channels mixed down to mono" in details["notes"]
    )
    assert picture.endswith(".png")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"RIFF not really", "not a readable audio file"),
        ("silent", "silent"),
        ("short", "too short"),
    ],
)
def test_demo_explains_bad_audio(speech_demo, tmp_path, content, message):
    from gradio_client import Client, handle_file

    path = tmp_path / "clip.wav"
    if content == "silent":
        soundfile.write(path, np.zeros(16_000, np.float32), 16_000)
    elif content == "short":
        write_tone(path, seconds=0.02)
    else:
        path.write_bytes(content)
    client = Client(speech_demo.local_url, verbose=False)
    with pytest.raises(Exception, match=message):
        client.predict(handle_file(str(path)), "word", api_name="/transcribe")


def test_whisper_lora_trains_adapters_only_and_exports_a_merged_model(tmp_path):
    outcome, losses = _train(tmp_path, save_tiny_whisper(tmp_path / "model"), peft="lora", lora_r=4, lora_alpha=8)
    assert outcome.train.trainable_parameters < 0.5 * outcome.train.total_parameters
    assert (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file() and "wer" in outcome.report.metrics
