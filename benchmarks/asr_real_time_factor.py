"""Real-time factor (processing seconds / audio seconds; below 1 is faster than real time) of omnitune's batched
transcription vs transformers' own automatic-speech-recognition pipeline, same model, same clips, same greedy
decoding, same run, at batch 1 and at larger batches; the transcripts' WER is reported for both, so a speed-up
that costs accuracy shows.

    python benchmarks/asr_real_time_factor.py --model whisper-tiny.en [--clips 48] [--batch-sizes 1,8,16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from report import RESULTS, machine, save

from evaluation.metrics import load_metric
from shared.audio import read_audio
from shared.pretrained import resolve
from tasks.registry import get_task
from tasks.speech_recognition.transcribe import generation_kwargs, transcribe


def speech_pipeline(model, processor):
    """The peer: transformers' automatic-speech-recognition pipeline over an already loaded Whisper, on the CPU."""
    from transformers import pipeline

    return pipeline(
        "automatic-speech-recognition",
        model=model,
        tokenizer=processor.tokenizer,
        feature_extractor=processor.feature_extractor,
        device="cpu",
    )


def pipeline_transcribe(recogniser, clips, batch_size: int, kwargs: dict) -> list[str]:
    """The peer: transformers' pipeline over raw 16 kHz arrays, batched by the pipeline itself."""
    inputs = [{"raw": clip, "sampling_rate": 16_000} for clip in clips]
    return [out["text"].strip() for out in recogniser(inputs, batch_size=batch_size, generate_kwargs=kwargs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="whisper-tiny.en")
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--batch-sizes", default="1,8,16")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    task = get_task("automatic-speech-recognition")
    params = task.params_class(language="en")
    built = task.build(resolve(args.model), params)
    model, processor = built.model, built.processor
    model.eval()
    rows = task.load_examples(params, "test").select(range(args.clips))
    clips = [read_audio(source).audio for source in rows["audio"]]
    audio_seconds = sum(len(c) for c in clips) / 16_000
    kwargs = generation_kwargs(model, "en", "transcribe", params.max_new_tokens, 1)
    recogniser = speech_pipeline(model, processor)
    metric = load_metric("wer")
    results = {}
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        timings = {"omnitune": [], "transformers_pipeline": []}
        outputs = {}
        for _ in range(args.repeats):  # interleaved, so that drift on the machine hits both alike
            start = time.perf_counter()
            outputs["omnitune"] = transcribe(model, processor, clips, batch_size, "en")
            timings["omnitune"].append(time.perf_counter() - start)
            start = time.perf_counter()
            with torch.inference_mode():
                outputs["transformers_pipeline"] = pipeline_transcribe(recogniser, clips, batch_size, kwargs)
            timings["transformers_pipeline"].append(time.perf_counter() - start)
        rtf = {name: statistics.median(values) / audio_seconds for name, values in timings.items()}
        results[f"batch_{batch_size}"] = {
            "real_time_factor": {k: round(v, 4) for k, v in rtf.items()},
            "speed_ratio_omnitune_over_pipeline": round(rtf["transformers_pipeline"] / rtf["omnitune"], 3),
            "wer": {
                name: round(metric.compute(predictions=texts, references=list(rows["text"]))["wer"], 4)
                for name, texts in outputs.items()
            },
            "seconds": {k: [round(x, 2) for x in v] for k, v in timings.items()},
        }
        print(batch_size, json.dumps(results[f"batch_{batch_size}"]), flush=True)
    best = {
        name: min(r["real_time_factor"][name] for r in results.values())
        for name in ("omnitune", "transformers_pipeline")
    }
    result = {
        "benchmark": "asr_real_time_factor",
        "model": args.model,
        "clips": len(clips),
        "audio_seconds": round(audio_seconds, 1),
        "by_batch_size": results,
        "best_real_time_factor": best,
        "repeats": args.repeats,
        "machine": machine(),
    }
    save(result, RESULTS / f"asr_real_time_factor_{Path(args.model).name}.json")


if __name__ == "__main__":
    main()
