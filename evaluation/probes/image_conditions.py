"""Image classification: worst-class and worst-condition accuracy and calibration (the worst-group view of
Sagawa et al. 2020, "Distributionally Robust Neural Networks"; the conditions are ImageNet-C's brightness,
contrast, noise and blur corruptions, Hendrycks & Dietterich 2019, at one moderate severity each).

Groups: the classes (on the unaltered images) and the image conditions; for each, accuracy and expected
calibration error, grouped by fairlearn's MetricFrame. The headline is the worst-class gap: mean class accuracy
minus the worst class's, which is what a user of the weakest class loses."""

from __future__ import annotations

import io

import numpy as np
from datasets import Dataset
from PIL import Image, ImageEnhance, ImageFilter

from evaluation.predicting import predict_with_progress
from evaluation.probes.result import ProbeResult, task_metric_by_group


def _noise(image: Image.Image) -> Image.Image:
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    noisy = pixels + np.random.default_rng(0).normal(0, 0.08 * 255, pixels.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


CONDITIONS = {
    "original": lambda image: image,
    "darker": lambda image: ImageEnhance.Brightness(image.convert("RGB")).enhance(0.5),
    "brighter": lambda image: ImageEnhance.Brightness(image.convert("RGB")).enhance(1.5),
    "low contrast": lambda image: ImageEnhance.Contrast(image.convert("RGB")).enhance(0.4),
    "noise": _noise,
    "blur": lambda image: image.filter(ImageFilter.GaussianBlur(max(1.0, 0.02 * image.width))),
}


def probe(task, built, params, log=print, examples: int = 500) -> ProbeResult:
    from tasks.image_classification.data import open_image

    test = task.load_examples(params, "test")
    test = test.shuffle(seed=params.seed).select(range(min(examples, len(test))))
    names = test.features["label"].names
    images, labels, conditions = [], [], []
    for row in test:
        with open_image(row["image"]) as image:
            image.load()
            for condition, alter in CONDITIONS.items():
                buffer = io.BytesIO()
                alter(image).save(buffer, format="PNG")
                images.append({"bytes": buffer.getvalue(), "path": None})
                labels.append(row["label"])
                conditions.append(condition)
    altered = Dataset.from_dict({"image": images, "label": labels}, features=test.features)
    log(f"  {len(test)} test images x {len(CONDITIONS)} conditions")
    answers = predict_with_progress(task, built, altered, params, "bias probe")

    original = [i for i, condition in enumerate(conditions) if condition == "original"]
    plain = altered.select(original)
    plain_answers = [answers[i] for i in original]
    classes = [names[label] for label in plain["label"]]
    by_class = task_metric_by_group(task, plain_answers, plain, params, classes, "accuracy")
    by_condition = task_metric_by_group(task, answers, altered, params, conditions, "accuracy")
    calibration = task_metric_by_group(task, answers, altered, params, conditions, "ece")
    mean_class = float(np.mean(list(by_class.by_group.values())))
    mean_condition = float(np.mean(list(by_condition.by_group.values())))
    metrics = {
        "worst_class_gap": mean_class - by_class.worst,
        "worst_class_accuracy": by_class.worst,
        "worst_condition_gap": mean_condition - by_condition.worst,
        "worst_condition_accuracy": by_condition.worst,
        "worst_condition_ece": calibration.worst,
    }
    log(f"  worst class '{by_class.worst_group}' {by_class.worst:.1f}; worst condition '{by_condition.worst_group}'")
    return ProbeResult(
        method="worst-class and worst-condition accuracy and calibration (Sagawa et al. 2020; ImageNet-C conditions)",
        headline="worst_class_gap",
        metrics=metrics,
        groups={
            "accuracy by class": by_class.by_group,
            "accuracy by condition": by_condition.by_group,
            "ece by condition": calibration.by_group,
        },
        examples=len(altered),
    )
