"""Row 2: image classification inference, omnitune's predict path vs transformers' image-classification pipeline
and vs timm's own evaluation loop (timm models only).

Same model folder, same bundled test images (read from their files each time, as a user's would be), at batch 1
and at a larger batch; images/s and the top-1 class of every image, which must agree between the sides.
timm's loop follows timm's validate.py: the model's pretrained data config, timm's eval transform, a
DataLoader (2 workers here, one per core; validate.py's default is 4) and the raw timm model.
"""

from __future__ import annotations

import statistics
import time

from speed_rows import best_batch, existing_run, median_rate, seeded_base

SCALES = {
    "full": {"images": 300, "batch_sizes": (1, 32), "models": ("default-run", "efficientnet-lite0")},
    "quick": {"images": 24, "batch_sizes": (1, 8), "models": ("efficientnet-lite0",)},
}
REPEATS = {"full": 2, "quick": 1}
DEFAULT_RUN = "runs/image-classification/default-probed/model"  # DINOv2-S linear probe (README table)


def prepare(scale: str, workdir) -> dict:
    """Model folders both sides load: the default fine-tuned run if it exists, and Lite0 with a seeded head."""

    models = {}
    for name in SCALES[scale]["models"]:
        if name != "default-run":
            models[name] = seeded_base("image-classification", name, workdir)
        elif existing_run(DEFAULT_RUN):
            models["dinov2-small linear probe (default run)"] = existing_run(DEFAULT_RUN)
    return {"models": models}


def _images(scale: str):
    from tasks.registry import get_task

    task = get_task("image-classification")
    params = task.params_class()
    examples = task.load_examples(params, "test").select(range(SCALES[scale]["images"]))
    return task, params, examples


def _timed(run, batch_sizes) -> dict:
    """{batch: {seconds, top1}} for `run(batch_size) -> top-1 indices`, after one small warm-up call."""
    run(1, warm_up=True)
    out = {}
    for batch_size in batch_sizes:
        started = time.perf_counter()
        top1 = run(batch_size)
        out[str(batch_size)] = {"seconds": round(time.perf_counter() - started, 3), "top1": top1}
    return out


def omnitune(scale: str, fixture: dict) -> dict:
    import numpy as np

    task, params, examples = _images(scale)
    results = {}
    for name, folder in fixture["models"].items():
        built = task.build(folder, params)

        def run(batch_size, warm_up=False):
            chosen = examples.select(range(2)) if warm_up else examples
            return [int(np.argmax(p)) for p in task.predict(built, chosen, params, batch_size)]

        results[name] = _timed(run, SCALES[scale]["batch_sizes"])
    return {"images": len(examples), "models": results}


def transformers_pipeline(scale: str, fixture: dict) -> dict:
    import torch
    from PIL import Image
    from transformers import pipeline

    task, params, examples = _images(scale)
    paths = [image["path"] for image in examples["image"]]
    results = {}
    for name, folder in fixture["models"].items():
        classify = pipeline("image-classification", model=folder, device="cpu")
        index = {label: int(i) for i, label in classify.model.config.id2label.items()}

        def run(batch_size, warm_up=False):
            chosen = paths[:2] if warm_up else paths
            with torch.inference_mode():
                answers = classify([Image.open(p) for p in chosen], batch_size=batch_size, top_k=1)
            return [index[a[0]["label"]] for a in answers]

        results[name] = _timed(run, SCALES[scale]["batch_sizes"])
    return {"images": len(examples), "models": results}


def timm_eval_loop(scale: str, fixture: dict) -> dict:
    import timm.data
    import torch
    from PIL import Image
    from transformers import AutoModelForImageClassification

    task, params, examples = _images(scale)
    paths = [image["path"] for image in examples["image"]]
    results = {}
    for name, folder in fixture["models"].items():
        wrapper = AutoModelForImageClassification.from_pretrained(folder)
        model = getattr(wrapper, "timm_model", None)
        if model is None:
            continue  # not a timm model
        model.eval()
        transform = timm.data.create_transform(**timm.data.resolve_data_config(model=model))

        class Files(torch.utils.data.Dataset):
            def __init__(self, files):
                self.files = files

            def __len__(self):
                return len(self.files)

            def __getitem__(self, i):
                with Image.open(self.files[i]) as image:
                    return transform(image.convert("RGB"))

        def run(batch_size, warm_up=False):
            chosen = paths[:2] if warm_up else paths
            loader = torch.utils.data.DataLoader(Files(chosen), batch_size=batch_size, num_workers=2)
            top1 = []
            with torch.inference_mode():
                for batch in loader:
                    top1 += model(batch).argmax(-1).tolist()
            return top1

        results[name] = _timed(run, SCALES[scale]["batch_sizes"])
    return {"images": len(examples), "models": results}


SIDES = {"omnitune": omnitune, "transformers_pipeline": transformers_pipeline, "timm_eval_loop": timm_eval_loop}


def compare(sides: dict[str, list[dict]]) -> dict:
    images = sides["omnitune"][0]["images"]
    by_model, headlines = {}, []
    for model in sides["omnitune"][0]["models"]:
        present = {s: runs for s, runs in sides.items() if model in runs[0]["models"]}
        rates = {s: median_rate(runs, model, images) for s, runs in present.items()}  # {side: {batch: images/s}}
        reference = present["omnitune"][0]["models"][model]
        agreement = {
            s: round(
                100
                * statistics.mean(
                    statistics.mean(float(a == b) for a, b in zip(runs[0]["models"][model][batch]["top1"], ref["top1"]))
                    for batch, ref in reference.items()
                ),
                2,
            )
            for s, runs in present.items()
            if s != "omnitune"
        }
        by_model[model] = {"images_per_second": rates, "top1_agreement_with_omnitune_percent": agreement}
        for peer in agreement:
            for label, pick in (("batch 1", lambda r: r["1"]), ("best batch", lambda r: r[best_batch(r)])):
                ours, theirs = pick(rates["omnitune"]), pick(rates[peer])
                headlines.append(
                    {
                        "measure": f"{model}: images/s, {label} (vs {peer})",
                        "omnitune": ours,
                        "peer": theirs,
                        "ratio": round(ours / theirs, 2),
                        "goal": 2.0 if peer == "transformers_pipeline" else None,
                        "quality": f"same top-1 on {agreement[peer]}% of {images} images",
                    }
                )
    return {"by_model": by_model, "headlines": headlines}
