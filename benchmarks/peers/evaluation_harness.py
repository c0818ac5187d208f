"""Row 5: evaluation, `omnitune evaluate`'s harness vs `evaluate.evaluator` pointed at the same model and local
metric modules (offline). transformers 5 removed the question-answering pipeline, so evaluate's QA evaluator no
longer runs, and its other evaluators need two small shims for transformers 5 (see `peers`). QA's peer is the
hand-written loop of the Hugging Face course (qa_evaluate_throughput.py's), with no null answer on both sides.
"""

from __future__ import annotations

import time
from pathlib import Path

SCALES = {
    "full": {"questions": None, "images": None, "clips": 48},
    "quick": {"questions": 24, "images": 24, "clips": 4},
}
REPEATS = {"full": 2, "quick": 1}
RUNS = {
    "question-answering": "runs/question-answering/default-probed/model",
    "image-classification": "runs/image-classification/default-probed/model",
}
BASES = {"question-answering": "minilm-l6", "image-classification": "efficientnet-lite0"}
ACCURACY = Path(__file__).parent / "metrics" / "accuracy.py"


def prepare(scale: str, workdir) -> dict:
    """The default fine-tuned runs where they exist; else (a fresh machine, CI) the base models with their new
    heads initialised from a fixed seed and saved, so both sides load the same weights."""
    from speed_rows import existing_run, seeded_base

    return {task: existing_run(RUNS[task]) or seeded_base(task, BASES[task], workdir) for task in RUNS} | {
        "automatic-speech-recognition": "whisper-tiny.en"
    }


def _examples(task, params, count):
    examples = task.load_examples(params, "test")
    return examples.select(range(count)) if count else examples


def _params(task, model: str):
    from shared.parameters import params_for_model

    overrides = {"probes": []}  # the runs' configs may ask for bias probes; the peers score the metric only
    if task.name == "question-answering":
        overrides["version_2_with_negative"] = False
    if task.name == "automatic-speech-recognition":
        overrides["language"] = "en"
    return params_for_model(task, model, overrides=overrides)


def omnitune(scale: str, fixture: dict) -> dict:
    from evaluation.harness import evaluate_loaded
    from shared.pretrained import resolve
    from tasks.registry import get_task

    sizes = dict(zip(fixture, (SCALES[scale]["questions"], SCALES[scale]["images"], SCALES[scale]["clips"])))
    out = {}
    for name, model in fixture.items():
        task = get_task(name)
        params = _params(task, model)
        examples = _examples(task, params, sizes[name])
        built = task.build(resolve(model), params)
        started = time.perf_counter()
        report = evaluate_loaded(task, built, examples, params, model, with_speed=False, log=lambda _: None)
        out[name] = _outcome(name, len(examples), started, report.metrics)
    return {"tasks": out}


def _outcome(task: str, examples: int, started: float, metrics: dict) -> dict:
    """One task's evaluation: how many examples, seconds since `started`, and its headline metric."""
    return {"examples": examples, "seconds": round(time.perf_counter() - started, 2), **_quality(task, metrics)}


def _quality(task: str, metrics: dict) -> dict:
    key = {"question-answering": "f1", "image-classification": "accuracy", "automatic-speech-recognition": "wer"}[task]
    return {"metric": key, "value": round(float(metrics[key]), 4)}


def peers(scale: str, fixture: dict) -> dict:
    import evaluate
    import numpy as np
    import torch
    import transformers
    from asr_real_time_factor import speech_pipeline
    from datasets import Dataset
    from evaluate import evaluator
    from PIL import Image
    from qa_evaluate_throughput import plain_transformers_loop
    from transformers import pipeline

    from evaluation.metrics import load_metric
    from shared.audio import read_audio
    from shared.pretrained import resolve
    from tasks.registry import get_task

    # evaluate 0.4's evaluator still tests isinstance(x, transformers.TFPreTrainedModel), which transformers 5
    # removed (an AttributeError before any work); a placeholder class lets it go on
    if not hasattr(transformers, "TFPreTrainedModel"):
        transformers.TFPreTrainedModel = type("TFPreTrainedModel", (), {})
    out = {}
    # question answering: the course's loop, then the same SQuAD metric module
    task = get_task("question-answering")
    params = _params(task, fixture[task.name])
    examples = _examples(task, params, SCALES[scale]["questions"])
    built = task.build(resolve(fixture[task.name]), params)
    started = time.perf_counter()
    texts = plain_transformers_loop(
        built.model, built.processor, examples.to_dict(), 32, params.max_seq_length, params.doc_stride
    )
    metric = load_metric("squad_v2").compute(
        predictions=[
            {"id": i, "prediction_text": t, "no_answer_probability": 0.0} for i, t in zip(examples["id"], texts)
        ],
        references=[{"id": e["id"], "answers": e["answers"]} for e in examples],
    )
    out[task.name] = _outcome(task.name, len(examples), started, metric)

    # image classification: evaluate's evaluator over the transformers pipeline
    task = get_task("image-classification")
    params = _params(task, fixture[task.name])
    examples = _examples(task, params, SCALES[scale]["images"])
    classify = pipeline("image-classification", model=resolve(fixture[task.name]), device="cpu")
    started = time.perf_counter()
    data = Dataset.from_dict({"image": [Image.open(i["path"]) for i in examples["image"]], "label": examples["label"]})
    with torch.inference_mode():
        result = evaluator("image-classification").compute(
            model_or_pipeline=classify,
            data=data,
            metric=evaluate.load(str(ACCURACY)),
            label_mapping=classify.model.config.label2id,
        )
    out[task.name] = _outcome(task.name, len(examples), started, result)

    # speech recognition: evaluate's evaluator over the transformers pipeline, greedy, English
    task = get_task("automatic-speech-recognition")
    params = _params(task, fixture[task.name])
    examples = _examples(task, params, SCALES[scale]["clips"])
    built = task.build(resolve(fixture[task.name]), params)
    recogniser = speech_pipeline(built.model, built.processor)
    started = time.perf_counter()
    clips = [{"raw": np.asarray(read_audio(a).audio), "sampling_rate": 16_000} for a in examples["audio"]]
    data = Dataset.from_dict({"path": list(range(len(clips))), "sentence": list(examples["text"])})

    def transcribe(indices, truncation=None, **kwargs):
        """The evaluator hands over its input column (here clip indices) and truncation=True, which transformers
        5's pipeline passes on to generate, which refuses it: dropped."""
        return recogniser([clips[i] for i in indices], **kwargs)

    transcribe.task = "automatic-speech-recognition"
    with torch.inference_mode():
        result = evaluator("automatic-speech-recognition").compute(
            model_or_pipeline=transcribe,
            data=data,
            metric=load_metric("wer"),
            generation_kwargs={"max_new_tokens": 225},
        )
    out[task.name] = _outcome(task.name, len(examples), started, result)
    return {"tasks": out}


SIDES = {"omnitune": omnitune, "evaluate_evaluator": peers}


def compare(sides: dict[str, list[dict]]) -> dict:
    import statistics

    headlines = []
    for task in sides["omnitune"][0]["tasks"]:
        seconds = {s: statistics.median(r["tasks"][task]["seconds"] for r in runs) for s, runs in sides.items()}
        first = {s: runs[0]["tasks"][task] for s, runs in sides.items()}
        ours, theirs = first["omnitune"], first["evaluate_evaluator"]
        peer = "course loop" if task == "question-answering" else "evaluate.evaluator"
        headlines.append(
            {
                "measure": f"{task}: examples/s evaluating {first['omnitune']['examples']} test examples (vs {peer})",
                "omnitune": round(first["omnitune"]["examples"] / seconds["omnitune"], 2),
                "peer": round(first["omnitune"]["examples"] / seconds["evaluate_evaluator"], 2),
                "ratio": round(seconds["evaluate_evaluator"] / seconds["omnitune"], 2),
                "goal": None,
                "quality": f"{ours['metric']} {ours['value']} / {theirs['value']}",
            }
        )
    return {"headlines": headlines}
