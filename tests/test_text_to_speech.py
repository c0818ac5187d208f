"""Text to speech: normalisation, sentence joining without clicks, speaking rate, mel-cepstral distortion, the
tiny SpeechT5 fine-tuning (loss falls, audio of the expected shape), round-trip evaluation wiring with a tiny
Whisper judge, and the demo through gradio_client."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile
import torch

from shared.errors import OmnituneError
from tasks.text_to_speech.backends import load_synthesiser, speak
from tasks.text_to_speech.normalise import normalise
from tasks.text_to_speech.quality import mel_cepstral_distortion
from tests.tiny_speech import save_tiny_speecht5, save_tiny_whisper, write_audiofolder

TEXTS = {
    "train": ["press one", "press two", "goodbye", "hello there"] * 2,
    "validation": ["goodbye"],
    "test": ["hello there", "press two"],
}


@pytest.mark.parametrize(
    "written, spoken",
    [
        ("Press 1 for sales.", "Press one for sales."),
        (
            "Dr. Smith paid $12.50 on 2026-11-28.",
            "Doctor Smith paid twelve dollars and fifty cents on November twenty-eighth, twenty twenty-six.",
        ),
        (
            "Meet me at 7:05 pm on 11/28/2026.",
            "Meet me at seven oh five p m on November twenty-eighth, twenty twenty-six.",
        ),
        (
            "The 3rd of 25 runs took 5 km, 25% less.",
            "The third of twenty-five runs took five kilometres, twenty-five percent less.",
        ),
        ("In 1999 it cost £1 & 10:00.", "In nineteen ninety-nine it cost one pound and ten o'clock."),
        ("St. Mary lives on Main St.", "Saint Mary lives on Main Street."),
        ("Pi is 3.14, e.g. -4 and 1,000.", "Pi is three point one four, for example minus four and one thousand."),
    ],
)
def test_text_is_normalised_to_what_a_reader_says(written, spoken):
    assert normalise(written) == spoken


@pytest.fixture(scope="module")
def tiny_voice(tmp_path_factory):
    return save_tiny_speecht5(tmp_path_factory.mktemp("speecht5"))


def test_speecht5_speaks_audio_of_the_expected_shape(tiny_voice):
    synthesiser = load_synthesiser(str(tiny_voice))
    ids = synthesiser.processor(text="hello there", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        spectrogram = synthesiser.model.generate_speech(ids, synthesiser.speaker, minlenratio=2.0, maxlenratio=3.0)
        audio = synthesiser.model.generate_speech(
            ids, synthesiser.speaker, minlenratio=2.0, maxlenratio=3.0, vocoder=synthesiser.vocoder
        )
    assert spectrogram.shape[1] == 80 and spectrogram.shape[0] >= 2 * ids.shape[1]
    assert audio.shape == (spectrogram.shape[0] * 16,)  # the vocoder upsamples each frame 4 x 4 times
    assert synthesiser.sample_rate == 16_000


def test_long_text_is_spoken_sentence_by_sentence_and_joined_without_clicks(tiny_voice):
    synthesiser = load_synthesiser(str(tiny_voice))
    one = speak(synthesiser, "Hello there.")
    three = speak(synthesiser, "Hello there. Press 1! Goodbye?")
    pause = int(0.12 * synthesiser.sample_rate)
    assert len(three) > len(one) + 2 * pause
    silent = np.flatnonzero(np.abs(three) < 1e-6)
    assert len(silent) >= 2 * pause  # the pauses between sentences
    assert abs(three[0]) < 1e-6 and abs(three[-1]) < 1e-6  # every piece fades in and out: no step at a join
    with pytest.raises(OmnituneError, match="empty"):
        speak(synthesiser, "   ")
    with pytest.raises(OmnituneError, match="between 0.5 and 2.0"):
        speak(synthesiser, "hi", speaking_rate=3.0)


def test_speaking_rate_shortens_speech_and_keeps_pitch():
    class Tone:  # a synthesiser with a known output, to measure the rate change exactly
        sample_rate = 16_000

        def synthesise(self, text):
            return (0.3 * np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000)).astype(np.float32)

    normal, fast = speak(Tone(), "a"), speak(Tone(), "a", speaking_rate=1.25)
    assert len(fast) == pytest.approx(len(normal) / 1.25, rel=0.02)
    spectrum = np.abs(np.fft.rfft(fast))
    assert np.fft.rfftfreq(len(fast), 1 / 16_000)[spectrum.argmax()] == pytest.approx(220, abs=5)


def test_mel_cepstral_distortion_is_zero_for_the_same_speech_and_grows_with_difference(tmp_path):
    rng = np.random.default_rng(0)
    voice = (np.sin(2 * np.pi * 150 * np.arange(16_000) / 16_000) * (1 + 0.3 * rng.normal(size=16_000))).astype(
        np.float32
    ) * 0.3
    other = (0.3 * rng.normal(size=16_000)).astype(np.float32)
    assert mel_cepstral_distortion(voice, 16_000, voice, 16_000) == pytest.approx(0.0, abs=1e-6)
    slower = np.repeat(voice, 2)[::2]  # same content
    assert mel_cepstral_distortion(voice, 16_000, slower, 16_000) < 1.0
    assert mel_cepstral_distortion(voice, 16_000, other, 16_000) > 2.0


def test_speecht5_fine_tuning_lowers_the_loss_and_the_run_speaks_and_is_judged(tmp_path, tiny_voice):
    from apps.pipeline import train_and_evaluate
    from evaluation.leaderboard import Leaderboard
    from tasks.text_to_speech.task import TextToSpeechTask

    task = TextToSpeechTask()
    data = write_audiofolder(tmp_path / "speech", TEXTS, seconds=0.5)
    params = task.params_class(
        model=str(tiny_voice),
        data=str(data),
        max_steps=15,
        learning_rate=2e-3,
        per_device_train_batch_size=4,
        logging_steps=1,
        eval_strategy="no",
        judge=str(save_tiny_whisper(tmp_path / "judge")),
    )
    outcome = train_and_evaluate(task, params, tmp_path / "run", board=Leaderboard(f"sqlite:///{tmp_path}/lb.db"))
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    losses = [entry["loss"] for entry in log if "loss" in entry]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert {"wer", "cer", "mean_seconds", "words_per_minute", "mel_cepstral_distortion"} <= set(outcome.report.metrics)
    model_dir = tmp_path / "run" / "model"
    assert (model_dir / "vocoder" / "config.json").is_file() and (model_dir / "speaker_embedding.npy").is_file()
    assert (tmp_path / "run" / "samples_test" / "0.wav").is_file()
    reloaded = load_synthesiser(str(model_dir))
    assert np.allclose(reloaded.speaker.numpy(), np.load(model_dir / "speaker_embedding.npy"))


def test_a_wrong_size_speaker_embedding_is_refused(tmp_path, tiny_voice):
    np.save(tmp_path / "x.npy", np.zeros(10, np.float32))
    with pytest.raises(OmnituneError, match="10 numbers; the model takes 512"):
        load_synthesiser(str(tiny_voice), speaker_embedding=str(tmp_path / "x.npy"))


@pytest.fixture
def speech_demo(tiny_voice, serve):
    from apps.demos import build_demo

    return serve(build_demo("text-to-speech", str(tiny_voice)))


def test_demo_speaks_text_and_draws_it(speech_demo, tmp_path):
    from gradio_client import Client

    client = Client(speech_demo.local_url, verbose=False)
    audio, picture, details = client.predict("Press 1. Goodbye!", 1.0, "(the model given)", api_name="/speak")
    samples, rate = soundfile.read(audio)
    assert rate == 16_000 and len(samples) > 0 and picture.endswith(".png")
    assert details["spoken_text"] == "Press one. Goodbye!" and details["sentences"] == 2


@pytest.mark.parametrize("text, message", [("   ", "empty"), ("x" * 5001, "limit is 5,000")])
def test_demo_explains_bad_text(speech_demo, text, message):
    from gradio_client import Client

    client = Client(speech_demo.local_url, verbose=False)
    with pytest.raises(Exception, match=message):
        client.predict(text, 1.0, "(the model given)", api_name="/speak")


def test_a_recording_becomes_the_speaker_embedding_through_a_speaker_model(tmp_path, tiny_voice):
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMForXVector

    from tests.tiny_speech import write_tone

    config = WavLMConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        tdnn_dim=(16, 16),
        tdnn_kernel=(3, 1),
        tdnn_dilation=(1, 1),
        xvector_output_dim=512,
        num_feat_extract_layers=2,
    )
    WavLMForXVector(config).save_pretrained(tmp_path / "speaker-model")
    Wav2Vec2FeatureExtractor(sampling_rate=16_000).save_pretrained(tmp_path / "speaker-model")
    recording = write_tone(tmp_path / "me.flac", seconds=1.0, rate=44_100)
    synthesiser = load_synthesiser(
        str(tiny_voice), speaker_embedding=str(recording), speaker_model=str(tmp_path / "speaker-model")
    )
    assert synthesiser.speaker.shape == (1, 512)
    assert float(synthesiser.speaker.norm()) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(OmnituneError, match="offline, give a .npy"):
        load_synthesiser(str(tiny_voice), speaker_embedding=str(recording), speaker_model=str(tmp_path / "missing"))


def test_predict_never_replaces_a_wav_the_user_has(tiny_voice, tmp_path, capsys):
    from apps.cli import main

    (tmp_path / "speech.wav").write_bytes(b"the user's own recording")
    arguments = ["predict", "text-to-speech", "--model", str(tiny_voice), "--text", "Hello.", "--output_dir"]
    assert main([*arguments, str(tmp_path)]) == 0, capsys.readouterr().err
    assert (tmp_path / "speech.wav").read_bytes() == b"the user's own recording"
    assert '"audio": "' + str(tmp_path / "speech-1.wav") in capsys.readouterr().out
    assert main([*arguments, str(tmp_path / "no" / "such")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_evaluating_new_text_needs_no_recordings(tiny_voice, tmp_path, capsys):
    """Round-trip WER needs only the text; mel-cepstral distortion, which needs a human reading, is left out."""
    from apps.cli import main

    texts = tmp_path / "texts.jsonl"
    texts.write_text("".join(json.dumps({"text": t}) + "\n" for t in ("press one", "goodbye", "hello there")))
    judge = save_tiny_whisper(tmp_path / "judge")
    arguments = ["evaluate", "text-to-speech", "--model", str(tiny_voice), "--data", str(texts), "--no-speed"]
    assert main([*arguments, "--judge", str(judge), "--db", f"sqlite:///{tmp_path}/lb.db"]) == 0, capsys.readouterr()
    printed = capsys.readouterr().out
    assert "every example of" in printed and '"wer"' in printed and "mel_cepstral_distortion" not in printed
