"""The data audit (`omnitune audit`, and at the start of every training run): what in a task's data is likely
to bias or flatter a model, found before any training. `profiles` reads each example once, `findings` turns the
profiles into figures and warnings, `report` writes them as Markdown with plots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from evaluation.audit import findings, profiles, report
from shared.config import TrainParams
from shared.errors import OmnituneError


def audit(task, params: TrainParams, folder: Path, log: Callable[[str], None] = print) -> findings.Findings:
    """Audit the train, validation and test splits the task would use with `params`; write the report to
    `folder` (data_audit.md, .json, a balance plot) and log its warnings."""
    columns = task.audit_columns
    rows, label_names = [], None
    for role in ("train", "eval", "test"):
        split = params.split_name(role)
        try:
            examples = task.load_examples(params, role)
        except OmnituneError as error:
            if "split" in str(error).lower():  # data without this split: audit the others
                log(f"audit: no {split} split ({error.problem})")
                continue
            raise
        label = next((column for column, kind in columns.items() if kind == "label"), None)
        if label and hasattr(examples.features.get(label), "names"):
            label_names = examples.features[label].names
        rows.append(profiles.profile(examples, columns, split, label_names))
    found = findings.find(pd.concat(rows, ignore_index=True), columns, train_split=params.split_name("train"))
    path = report.write(found, folder, f"{task.name}, {params.data or 'bundled data'}")
    for warning in found.warnings:
        log(f"audit: {warning}")
    log(f"audit: {len(found.warnings)} warning(s); report {path}")
    return found
