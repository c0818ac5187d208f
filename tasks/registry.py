"""Every task omnitune knows, by the Hub's task name. Adding a task: one folder and one line here."""

from __future__ import annotations

import importlib

from shared.errors import OmnituneError
from shared.task_protocol import Task

TASKS = {
    "question-answering": "tasks.question_answering.task:QuestionAnsweringTask",
    "image-classification": "tasks.image_classification.task:ImageClassificationTask",
    "translation": "tasks.translation.task:TranslationTask",
    "summarization": "tasks.summarization.task:SummarizationTask",
    "automatic-speech-recognition": "tasks.speech_recognition.task:SpeechRecognitionTask",
    "text-to-speech": "tasks.text_to_speech.task:TextToSpeechTask",
    "token-classification": "tasks.token_classification.task:TokenClassificationTask",
}


def all_tasks() -> list[Task]:
    """Every registered task; importing each also registers the shelf entries its folder builds."""
    return [get_task(name) for name in TASKS]


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise OmnituneError(f"unknown task '{name}'", f"choose one of: {', '.join(TASKS)}")
    module, attribute = TASKS[name].split(":")
    return getattr(importlib.import_module(module), attribute)()
