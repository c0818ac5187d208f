"""One Gradio Blocks builder per task, looked up by task name."""

from __future__ import annotations

import importlib

from shared.errors import OmnituneError

DEMOS = {
    "question-answering": "apps.demos.question_answering:build",
    "image-classification": "apps.demos.image_classification:build",
    "translation": "apps.demos.seq2seq:build_translation",
    "summarization": "apps.demos.seq2seq:build_summarization",
    "automatic-speech-recognition": "apps.demos.speech_recognition:build",
    "text-to-speech": "apps.demos.text_to_speech:build",
}


def build_demo(task: str, model: str, **kwargs):
    if task not in DEMOS:
        raise OmnituneError(f"no demo for task '{task}'", f"demos exist for: {', '.join(DEMOS)}")
    module, attribute = DEMOS[task].split(":")
    return getattr(importlib.import_module(module), attribute)(model, **kwargs)
