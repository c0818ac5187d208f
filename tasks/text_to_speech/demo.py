"""Gradio demo for speech synthesis: type text, pick a voice and a speaking rate, hear it; the waveform and
spectrogram are drawn, and the text as spoken (numbers, dates and abbreviations spelled out) is shown.

API (gradio_client): `Client(url).predict(text, rate, voice, api_name="/speak")` returns (wav path, picture
path, details dict); voice "(the model given)" or a shelf voice name."""

from __future__ import annotations

import gradio as gr
import soundfile

from shared import shelf
from shared.demo_inputs import reviewed, validator
from shared.errors import OmnituneError
from shared.loaded_models import loaded
from shared.model_facts import model_facts
from shared.plots import audio_figure
from shared.scratch import scratch_file
from shared.voices import split_sentences
from tasks.text_to_speech.normalise import normalise
from tasks.text_to_speech.task import MAX_CHARACTERS

GIVEN = "(the model given)"


def build(task, model: str, params=None) -> gr.Blocks:
    params = params or task.params_class()
    voices = {GIVEN: loaded(task, model, params)}
    others = [name for name, entry in shelf.SHELF.items() if entry.extra.get("voice_backend") and name != model]

    def voice(name: str):
        if name not in voices:  # a shelf voice, prepared on first use
            voices[name] = loaded(task, name, params)
        return voices[name]

    def say(text: str, rate: float, name: str):
        try:
            example = task.example_from_inputs({"text": text}, params)
            speech = task.predict(
                voice(name or GIVEN), example, params.model_copy(update={"speaking_rate": rate}), batch_size=1
            )[0]
        except OmnituneError as error:
            raise gr.Error(error.sentence) from None
        path = str(scratch_file(".wav"))
        soundfile.write(path, speech.audio, speech.sample_rate)
        spoken = normalise(text) if params.normalise_text else text
        details = {
            "spoken_text": spoken,
            "sentences": len(split_sentences(spoken)),
            "seconds": round(len(speech.audio) / speech.sample_rate, 2),
            "sample_rate": speech.sample_rate,
            "flags": reviewed(task, params, {"text": text}, {}),
        }
        return path, audio_figure(speech.audio, speech.sample_rate), details

    with gr.Blocks(title="omnitune · text to speech") as demo:
        gr.Markdown(
            f"## Text to speech\nModel: `{model}`. Numbers, dates, times, money and abbreviations are "
            "spelled out before synthesis; long text is read sentence by sentence."
        )
        gr.Markdown(model_facts(model))
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(
                    label="Text",
                    lines=5,
                    max_length=MAX_CHARACTERS + 1,
                    value="Your call is important to us. Please stay on the line.",
                )
                rate = gr.Slider(0.5, 2.0, value=params.speaking_rate, step=0.05, label="Speaking rate")
                voice_choice = gr.Dropdown([GIVEN, *others], value=GIVEN, label="Voice")
                button = gr.Button("Speak", variant="primary")
            with gr.Column():
                audio = gr.Audio(type="filepath", label="Speech", interactive=False)
                picture = gr.Image(type="filepath", label="Waveform and spectrogram", interactive=False)
                with gr.Accordion("Details", open=False):
                    details = gr.JSON(label="Text as spoken, duration")
        checks = validator(task, params, ("text",))
        button.click(say, [text, rate, voice_choice], [audio, picture, details], api_name="speak", validator=checks)
    return demo
