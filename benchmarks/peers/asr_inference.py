"""Row 3: speech recognition, omnitune's batched Whisper transcription vs transformers' automatic-speech-recognition
pipeline on the same model, clips and greedy decoding (asr_real_time_factor.py's two paths, in fresh processes).

Real-time factor (processing seconds / audio seconds) at batch 1 and at a larger batch, and the WER of both.
"""

from __future__ import annotations

import time

from speed_rows import best_batch, median_rate

SCALES = {
    "full": {"clips": 48, "batch_sizes": (1, 16), "models": ("whisper-tiny.en", "whisper-base")},
    "quick": {"clips": 4, "batch_sizes": (1, 4), "models": ("whisper-tiny.en",)},
}
REPEATS = {"full": 2, "quick": 1}


def _setting(scale: str):
    from shared.audio import read_audio
    from tasks.registry import get_task

    task = get_task("automatic-speech-recognition")
    params = task.params_class(language="en")
    rows = task.load_examples(params, "test").select(range(SCALES[scale]["clips"]))
    clips = [read_audio(source).audio for source in rows["audio"]]
    return task, params, clips, list(rows["text"])


def _side(scale: str, transcriber) -> dict:
    from shared.pretrained import resolve

    task, params, clips, references = _setting(scale)
    models = {}
    for name in SCALES[scale]["models"]:
        built = task.build(resolve(name), params)
        run = transcriber(built)
        run(clips[:1], 1)  # warm-up
        models[name] = {}
        for batch_size in SCALES[scale]["batch_sizes"]:
            started = time.perf_counter()
            texts = run(clips, batch_size)
            models[name][str(batch_size)] = {"seconds": round(time.perf_counter() - started, 3), "texts": texts}
    return {"audio_seconds": round(sum(len(c) for c in clips) / 16_000, 2), "references": references, "models": models}


def omnitune(scale: str, fixture: dict) -> dict:
    from tasks.speech_recognition.transcribe import transcribe

    return _side(scale, lambda built: lambda clips, b: transcribe(built.model, built.processor, clips, b, "en"))


def transformers_pipeline(scale: str, fixture: dict) -> dict:
    import torch
    from asr_real_time_factor import pipeline_transcribe, speech_pipeline

    from tasks.speech_recognition.transcribe import generation_kwargs

    def transcriber(built):
        recogniser = speech_pipeline(built.model, built.processor)
        kwargs = generation_kwargs(built.model, "en", "transcribe", 225, 1)

        def run(clips, batch_size):
            with torch.inference_mode():
                return pipeline_transcribe(recogniser, clips, batch_size, kwargs)

        return run

    return _side(scale, transcriber)


SIDES = {"omnitune": omnitune, "transformers_pipeline": transformers_pipeline}


def compare(sides: dict[str, list[dict]]) -> dict:
    from evaluation.metrics import load_metric

    wer = load_metric("wer")
    first = sides["omnitune"][0]
    audio, references = first["audio_seconds"], first["references"]
    by_model, headlines = {}, []
    for model in first["models"]:
        speed = {s: median_rate(runs, model, audio) for s, runs in sides.items()}  # audio seconds per second
        errors = {
            s: {
                b: round(wer.compute(predictions=out["texts"], references=references)["wer"], 4)
                for b, out in runs[0]["models"][model].items()
            }
            for s, runs in sides.items()
        }
        by_model[model] = {
            "real_time_factor": {s: {b: round(1 / v, 4) for b, v in rates.items()} for s, rates in speed.items()},
            "wer": errors,
        }
        for label, goal, pick in (("batch 1", 1.3, lambda r: "1"), ("best batch", 2.0, best_batch)):
            ours, theirs = pick(speed["omnitune"]), pick(speed["transformers_pipeline"])
            headlines.append(
                {
                    "measure": f"{model}: real-time factor, {label}",
                    "omnitune": round(1 / speed["omnitune"][ours], 4),
                    "peer": round(1 / speed["transformers_pipeline"][theirs], 4),
                    "ratio": round(speed["omnitune"][ours] / speed["transformers_pipeline"][theirs], 2),
                    "goal": goal,
                    "quality": f"WER {errors['omnitune'][ours]} / {errors['transformers_pipeline'][theirs]}",
                }
            )
    return {"by_model": by_model, "headlines": headlines}
