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
    results = [
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
        if isinstance(value, (int, float)) and not key.endswith("total")
    ]
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
