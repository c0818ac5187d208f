"""Row 6: training efficiency. FLOPs of one training step counted with torch.utils.flop_counter.FlopCounterMode,
the achieved FLOP/s over timed steps (forward, backward, AdamW), and this machine's fp32 matmul peak measured in
the same process with the same threads (a large `torch.mm` loop): model FLOP utilisation (MFU).

QA: omnitune's batches (16 questions' 256-token windows, padded to the batch's longest, attention dropout 0)
vs run_qa.py's (384-token windows, all padded, the model's attention dropout); "useful" FLOPs count the same
step at the windows' real lengths (no padding), so padding does not pass for utilisation. Image
classification: DINOv2-S at 224 px, batch 32, omnitune's settings.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

SCALES = {"full": {"steps": 6, "peak_seconds": 5.0}, "quick": {"steps": 2, "peak_seconds": 1.0}}
REPEATS = {"full": 2, "quick": 1}
QUESTIONS = 16


def matmul_peak(seconds: float, n: int = 2048) -> float:
    """fp32 FLOP/s of a square torch.mm loop (the dense kernel every Linear uses), after a warm-up."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.mm(a, b)
        count += 1
    return 2 * n**3 * count / (time.perf_counter() - started)


def step_flops(model, batch: dict) -> int:
    with FlopCounterMode(display=False) as counter:
        model(**batch).loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def timed_steps(model, batch: dict, steps: int) -> float:
    """Median seconds of a full training step (forward, backward, AdamW), after one warm-up step."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    seconds = []
    for _ in range(steps + 1):
        started = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds[1:])


def _qa_batch(window: int, stride: int, pad_to_window: bool, attention_dropout: float | None):
    """A QA model and one batch of the bundled training questions' windows, as a side makes them."""
    from transformers import DataCollatorWithPadding, default_data_collator

    from shared.pretrained import resolve
    from tasks.registry import get_task

    task = get_task("question-answering")
    params = task.params_class(
        max_train_samples=QUESTIONS, max_seq_length=window, doc_stride=stride, attention_dropout=attention_dropout
    )
    built = task.build(resolve("minilm-l6"), params, training=True)
    examples = task.load_examples(params, "train")
    if pad_to_window:
        import run_qa

        features = examples.map(
            run_qa.prepare_train_features,
            batched=True,
            remove_columns=examples.column_names,
            fn_kwargs={"tokenizer": built.processor, "max_seq_length": window, "doc_stride": stride},
        )
        rows = [features[i] for i in range(min(QUESTIONS, len(features)))]
        batch = default_data_collator(rows)
    else:
        features = task.features(examples, built, params, for_eval=False)
        rows = [features[i] for i in range(min(QUESTIONS, len(features)))]
        batch = DataCollatorWithPadding(built.processor)(rows)
    lengths = [sum(r["attention_mask"]) for r in rows]
    return built.model.train(), {k: torch.as_tensor(v) for k, v in batch.items()}, lengths


def _useful_flops(model, batch: dict, lengths: list[int]) -> int:
    """The same step's FLOPs with each window at its real length (one window at a time, summed)."""
    total = 0
    for i, length in enumerate(lengths):
        total += step_flops(
            model, {k: v[i : i + 1, :length] if v.dim() > 1 else v[i : i + 1] for k, v in batch.items()}
        )
    return total


def _measure(model, batch, scale: str, lengths=None) -> dict:
    flops = step_flops(model, batch)
    seconds = timed_steps(model, batch, SCALES[scale]["steps"])
    peak = matmul_peak(SCALES[scale]["peak_seconds"])
    out = {
        "step_gflop": round(flops / 1e9, 1),
        "step_seconds": round(seconds, 3),
        "achieved_gflops": round(flops / seconds / 1e9, 1),
        "matmul_peak_gflops": round(peak / 1e9, 1),
        "mfu_percent": round(100 * flops / seconds / peak, 1),
        "batch_shape": list(batch[next(iter(batch))].shape),
    }
    if lengths is not None:
        useful = _useful_flops(model, batch, lengths)
        out["useful_step_gflop"] = round(useful / 1e9, 1)
        out["useful_mfu_percent"] = round(100 * useful / seconds / peak, 1)
    return out


def omnitune(scale: str, fixture: dict) -> dict:
    from shared.pretrained import resolve
    from tasks.registry import get_task

    model, batch, lengths = _qa_batch(256, 64, pad_to_window=False, attention_dropout=0.0)
    result = {"question-answering": _measure(model, batch, scale, lengths)}
    task = get_task("image-classification")
    params = task.params_class()
    built = task.build(resolve(task.default_model), params, task.load_examples(params, "train"), training=True)
    torch.manual_seed(0)
    images = {"pixel_values": torch.randn(32, 3, 224, 224), "labels": torch.randint(0, 10, (32,))}
    result["image-classification"] = _measure(built.model.train(), images, scale)
    return result


def run_qa_recipe(scale: str, fixture: dict) -> dict:
    import run_qa

    model, batch, lengths = _qa_batch(
        run_qa.MAX_SEQ_LENGTH, run_qa.DOC_STRIDE, pad_to_window=True, attention_dropout=None
    )
    return {"question-answering": _measure(model, batch, scale, lengths)}


SIDES = {"omnitune": omnitune, "run_qa_recipe": run_qa_recipe}


def compare(sides: dict[str, list[dict]]) -> dict:
    def median(side: str, task: str, key: str) -> float:
        return round(statistics.median(run[task][key] for run in sides[side]), 1)

    headlines = []
    for task in ("question-answering", "image-classification"):
        peer = "run_qa_recipe" if task in sides["run_qa_recipe"][0] else None
        ours = median("omnitune", task, "mfu_percent")
        line = {
            "measure": f"{task}: model FLOP utilisation of a training step, % of the fp32 matmul peak",
            "omnitune": ours,
            "peer": median(peer, task, "mfu_percent") if peer else "n/a",
            "ratio": None,
            "goal": None,
            "quality": f"peak {median('omnitune', task, 'matmul_peak_gflops')} GFLOP/s",
        }
        if peer:
            useful = (median("omnitune", task, "useful_mfu_percent"), median(peer, task, "useful_mfu_percent"))
            line["quality"] += f"; counting only real tokens: {useful[0]} / {useful[1]} %"
            line["goal"], line["met"] = "omnitune >= 40%", ours >= 40
        headlines.append(line)
    return {"headlines": headlines}
