"""Gradio demo for image classification: upload, paste or take a photo; see the top labels with their
probabilities and where the model looked (attention rollout for ViTs, Grad-CAM for CNNs), with an opacity
slider for the overlay.

API (gradio_client): `Client(url).predict(handle_file(path), 0.5, api_name="/classify")` returns
(labels {"label", "confidences"}, explanation image, details dict)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image, UnidentifiedImageError

from shared.demo_inputs import reviewed, validator
from shared.errors import OmnituneError
from shared.loaded_models import loaded
from shared.model_facts import model_facts
from tasks.image_classification.data import NOT_AN_IMAGE, open_upload
from tasks.image_classification.explain import explanation_map, overlay
from tasks.image_classification.preprocessing import from_processor, to_rgb, transform

SHOWN_SIDE = 448  # the explanation is drawn at this size


class CheckedImage(gr.Image):
    """gr.Image whose decoding failures reach the user as a clear message instead of a component error."""

    def get_block_name(self) -> str:
        return "image"  # the browser renders it with gr.Image's own front-end (found by this name)

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            # handed on as the uploaded file, which the event refuses with the message (failing here, while the
            # inputs are validated, would give API callers a bare "400 Bad Request")
            if getattr(payload, "path", None):
                return payload.path
            raise gr.Error(NOT_AN_IMAGE) from None


def build(task, model: str, params=None) -> gr.Blocks:
    params = params or task.params_class()
    built = loaded(task, model, params)
    built.require_trained(model, task.name)
    loaded_model, processor = built.model, built.processor
    loaded_model.eval()
    preprocess = transform(from_processor(processor), training=False)
    labels = built.labels

    def classify(path: str | None, opacity: float):
        image = _open(path)  # what is not an image is refused here, with a message
        probabilities = task.predict(built, {"image": [{"path": path, "bytes": None}]}, params, batch_size=1)[0]
        top = int(np.argmax(probabilities))
        pixels = preprocess(image).unsqueeze(0)
        heat, method = explanation_map(loaded_model, pixels, top)  # where the model looked for that class
        shown = to_rgb(image)
        shown.thumbnail((SHOWN_SIDE, SHOWN_SIDE))
        confidences = task.describe_answer(probabilities, built, params)["labels"]
        details = {
            "top_label": labels[top],
            "explanation": method,
            "image_size": list(image.size),
            "model_input": list(pixels.shape[-2:]),
            "flags": reviewed(task, params, {"image": path}, {"labels": confidences}),
        }
        return confidences, overlay(shown, heat, opacity), details

    with gr.Blocks(title="omnitune · image classification") as demo:
        gr.Markdown(
            f"## Image classification\nModel: `{model}` ({len(labels)} classes). Upload, paste or take "
            "a picture; the overlay shows which parts of it the prediction rests on."
        )
        gr.Markdown(model_facts(model))
        with gr.Row():
            with gr.Column():
                image_input = CheckedImage(type="filepath", sources=["upload", "clipboard", "webcam"], label="Image")
                opacity = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Overlay opacity")
                button = gr.Button("Classify", variant="primary")
            with gr.Column():
                label_output = gr.Label(num_top_classes=params.top_k, label="Top labels")
                explanation = gr.Image(type="pil", label="Where the model looked", interactive=False)
                with gr.Accordion("Details", open=False):
                    details_box = gr.JSON(label="Method and sizes")
                matrix = _confusion_matrix_of(model)
                if matrix:
                    with gr.Accordion("Confusion matrix on the test split", open=False):
                        gr.Image(value=str(matrix), interactive=False, show_label=False)
        outputs = [label_output, explanation, details_box]
        checks = validator(
            task, params, ("image",), {"image": "No image: upload, paste or take one first."}, contents=False
        )
        button.click(classify, [image_input, opacity], outputs, api_name="classify", validator=checks)
        opacity.release(classify, [image_input, opacity], outputs, api_name=False)
    return demo


def _confusion_matrix_of(model: str) -> Path | None:
    """The test-split confusion matrix that training drew in the model's run folder, if there is one."""
    from shared.run_dir import run_of

    run = run_of(model)
    matrix = run / "confusion_matrix_test.png" if run else None
    return matrix if matrix and matrix.is_file() else None


def _open(path: str | None) -> Image.Image:
    if not path:
        raise gr.Error("No image: upload, paste or take one first.")
    try:
        return open_upload(path)
    except OmnituneError as error:
        raise gr.Error(error.sentence) from None
