"""Row 4: seq2seq generation (translation), omnitune's batched generation (sources sorted by length, so a batch
pads little; answers restored to input order) vs the plain transformers loop in dataset order (tokenise a
padded batch, `generate`, decode), same model, generation config and sentences; BLEU and chrF++ of both.
"""

from __future__ import annotations

import time

from speed_rows import existing_run, median_rate

DEFAULT_RUN = "runs/translation/20261203-102831-minilm2whisper-base/model"  # the README's default run
SCALES = {
    "full": {"sentences": 96, "batch_size": 32, "max_new_tokens": None},
    "quick": {"sentences": 8, "batch_size": 4, "max_new_tokens": 8},
}
REPEATS = {"full": 2, "quick": 1}


def prepare(scale: str, workdir) -> dict:
    """The default translation run when it exists; else (a fresh machine, CI) the untrained warm-started base,
    which generates nonsense at the same cost per token."""

    return {"model": existing_run(DEFAULT_RUN) or "minilm2whisper-base"}


def _side(scale: str, fixture: dict, generate) -> dict:
    from evaluation.metrics import score
    from shared.parameters import params_for_model
    from shared.pretrained import resolve
    from tasks.registry import get_task
    from tasks.seq2seq import generation

    task = get_task("translation")
    s = SCALES[scale]
    params = params_for_model(task, fixture["model"])
    if s["max_new_tokens"]:
        params = params.model_copy(update={"max_new_tokens": s["max_new_tokens"]})
    built = task.build(resolve(fixture["model"]), params)
    rows = task.load_examples(params, "test").select(range(s["sentences"]))
    texts = list(rows["source"])
    settings = generation.settings_of(params)
    generate(built, texts[:2], settings, params.max_source_length, s["batch_size"])  # warm-up
    started = time.perf_counter()
    outputs = generate(built, texts, settings, params.max_source_length, s["batch_size"])
    seconds = time.perf_counter() - started
    metrics = score(task, outputs, rows, params)
    return {
        "sentences": len(texts),
        "generation": settings.model_dump(),
        "models": {"translation": {str(s["batch_size"]): {"seconds": round(seconds, 3), "texts": outputs}}},
        "quality": {k: round(v, 2) for k, v in metrics.items() if isinstance(v, float) and k in ("bleu", "chrf++")},
    }


def omnitune(scale: str, fixture: dict) -> dict:
    from tasks.seq2seq import generation

    def generate(built, texts, settings, max_source_length, batch_size):
        condition = built.processor.condition
        return generation.generate(
            built.model, built.processor, texts, condition, settings, max_source_length, batch_size
        )

    return _side(scale, fixture, generate)


def plain_generate_loop(scale: str, fixture: dict) -> dict:
    from seq2seq_generation_throughput import plain_transformers_loop

    def generate(built, texts, settings, max_source_length, batch_size):
        return plain_transformers_loop(built.model, built.processor, texts, settings, max_source_length, batch_size)

    return _side(scale, fixture, generate)


SIDES = {"omnitune": omnitune, "plain_generate_loop": plain_generate_loop}


def compare(sides: dict[str, list[dict]]) -> dict:
    first = sides["omnitune"][0]
    rates = {s: median_rate(runs, "translation", first["sentences"]) for s, runs in sides.items()}
    batch = next(iter(rates["omnitune"]))
    quality = {s: runs[0]["quality"] for s, runs in sides.items()}
    ours, theirs = (runs[0]["models"]["translation"][batch]["texts"] for runs in sides.values())
    same = round(100 * sum(a == b for a, b in zip(ours, theirs)) / len(ours), 1)
    return {
        "sentences_per_second": rates,
        "quality": quality,
        "same_output_percent": same,
        "headlines": [
            {
                "measure": f"translation: sentences/s, batch {batch}, beam {first['generation']['num_beams']}",
                "omnitune": rates["omnitune"][batch],
                "peer": rates["plain_generate_loop"][batch],
                "ratio": round(rates["omnitune"][batch] / rates["plain_generate_loop"][batch], 2),
                "goal": 1.5,
                "quality": f"BLEU {quality['omnitune'].get('bleu')} / {quality['plain_generate_loop'].get('bleu')}, "
                f"chrF++ {quality['omnitune'].get('chrf++')} / {quality['plain_generate_loop'].get('chrf++')}; "
                f"same output for {same}% of {first['sentences']} sentences",
            }
        ],
    }
