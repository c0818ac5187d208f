"""Model cards as the Hub writes them: YAML front matter with base_model, datasets, license, pipeline_tag and a
model-index of measured results (huggingface_hub's ModelCardData renders the model-index)."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

{{ body }}
"""


def write_model_card(
    model_dir: Path,
    *,
    name: str,
    task: str,
    base_model: str,
    dataset: str,
    split: str,
    metrics: dict[str, float],
    licence: str | None,
    body: str,
) -> Path:
    results = _eval_results(task, dataset, split, {k: v for k, v in metrics.items() if not k.endswith("total")})
    data = ModelCardData(
        model_name=name,
        base_model=base_model,
        datasets=[dataset],
        license=licence,
        pipeline_tag=task,
        library_name="transformers",
        tags=["omnitune"],
        eval_results=results or None,
    )
    card = ModelCard.from_template(data, template_str=TEMPLATE, model_name=name, body=body)
    path = Path(model_dir) / "README.md"
    card.save(path)
    return path


def _eval_results(task: str, dataset: str, split: str, metrics: dict) -> list[EvalResult]:
    """The model-index entries of the numeric `metrics`."""
    return [
        EvalResult(
            task_type=task,
            dataset_type=dataset,
            dataset_name=dataset,
            dataset_split=split,
            metric_type=key,
            metric_value=round(float(value), 4),
            metric_name=key,
        )
        for key, value in metrics.items()
        if isinstance(value, (int, float))
    ]


def add_bias_probe(model_dir: Path, *, task: str, dataset: str, split: str, probe: dict) -> Path | None:
    """Put a bias probe's figures (`omnitune evaluate --probes bias` after training) into the card training
    wrote: its metrics join the model-index as bias_*, and a section names the method and the worst groups.
    A probe run again replaces what the last one wrote. No card (a shelf model, a Hub id): nothing to do."""
    path = Path(model_dir) / "README.md"
    if not path.is_file():
        return None
    card = ModelCard.load(path)
    kept = [r for r in card.data.eval_results or [] if not r.metric_type.startswith("bias_")]
    bias = {f"bias_{key}": value for key, value in probe["metrics"].items()}
    card.data.eval_results = kept + _eval_results(task, dataset, split, bias)
    card.text = card.text.split(PROBE_HEADING)[0].rstrip() + "\n\n" + _probe_section(probe, dataset, split)
    card.save(path)
    return path


PROBE_HEADING = "## Bias probe"


def _probe_section(probe: dict, dataset: str, split: str) -> str:
    lines = [
        PROBE_HEADING,
        "",
        f"{probe['method']} on `{dataset}` split `{split}` ({probe.get('examples', 0)} examples); "
        f"headline `{probe['headline']}` = {probe['metrics'][probe['headline']]:.4g} (lower is better).",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {key} | {value:.4g} |" for key, value in probe["metrics"].items() if isinstance(value, (int, float))),
    ]
    return "\n".join(lines) + "\n"
