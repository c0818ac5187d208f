"""Gradio demo for speech recognition: record or upload audio; get the transcript with word or segment
timestamps, the detected language (multilingual Whisper), and the waveform and spectrogram of what was heard.

API (gradio_client): `Client(url).predict(handle_file(path), "word", api_name="/transcribe")` returns
(transcript, timestamps {"headers", "data"}, picture path, details dict)."""

from __future__ import annotations

import gradio as gr

from shared.audio import checked_clip, notes
from shared.demo_inputs import reviewed, validator
from shared.errors import OmnituneError
from shared.loaded_models import loaded
from shared.model_facts import model_facts
from shared.plots import audio_figure
from tasks.speech_recognition.task import LONGER
from tasks.speech_recognition.transcribe import timed_transcript

LEVELS = ("word", "segment", "none")


def build(task, model: str, params=None) -> gr.Blocks:
    params = params or task.params_class()
    built = loaded(task, model, params)
    built.require_trained(model, task.name)
    loaded_model, processor = built.model, built.processor
    loaded_model.eval()
    rate = processor.feature_extractor.sampling_rate

    def transcribe(path: str | None, level: str):
        if not path:
            raise gr.Error("No audio: record or upload a clip first.")
        try:
            clip = checked_clip(path, rate, params.min_audio_seconds, params.max_audio_seconds, LONGER)
        except OmnituneError as error:  # the upload's temporary path means nothing to the user
            raise gr.Error(error.problem.removeprefix(f"{path}: ") + (f". {error.fix}" if error.fix else "")) from None
        result = timed_transcript(
            loaded_model,
            processor,
            clip.audio,
            level if level != "none" else "segment",
            params.language,
            params.whisper_task,
        )
        rows = [[c["timestamp"][0], c["timestamp"][1], c["text"]] for c in result.chunks] if level != "none" else []
        details = {
            "seconds": round(clip.seconds, 2),
            "language": result.language,
            "notes": notes(clip),
            "flags": reviewed(task, params, {"audio": path}, {"transcript": result.text}),
        }
        return (
            result.text,
            {"headers": ["start (s)", "end (s)", "text"], "data": rows},
            audio_figure(clip.audio, rate, result.chunks),
            details,
        )

    with gr.Blocks(title="omnitune · speech recognition") as demo:
        gr.Markdown(
            f"## Speech recognition\nModel: `{model}`. Record or upload speech (WAV, FLAC or OGG; any "
            f"sample rate, stereo is mixed down; up to {params.max_audio_seconds / 60:.0f} minutes)."
        )
        gr.Markdown(model_facts(model))
        with gr.Row():
            with gr.Column():
                audio = gr.Audio(sources=["microphone", "upload"], type="filepath", label="Speech")
                level = gr.Radio(list(LEVELS), value="word", label="Timestamps")
                button = gr.Button("Transcribe", variant="primary")
            with gr.Column():
                transcript = gr.Textbox(label="Transcript", lines=4, buttons=["copy"])
                timestamps = gr.Dataframe(
                    headers=["start (s)", "end (s)", "text"], label="Timestamps", interactive=False
                )
                picture = gr.Image(type="filepath", label="Waveform and spectrogram", interactive=False)
                with gr.Accordion("Details", open=False):
                    details = gr.JSON(label="Duration, language, notes")
        checks = validator(
            task, params, ("audio",), {"audio": "No audio: record or upload a clip first."}, contents=False
        )
        outputs = [transcript, timestamps, picture, details]
        button.click(transcribe, [audio, level], outputs, api_name="transcribe", validator=checks)
    return demo
