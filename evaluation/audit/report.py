"""The audit as a user reads it: `data_audit.md` (warnings first, then each table) with a class-balance plot,
and `data_audit.json` with the figures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evaluation.audit.findings import Findings
from shared.plots import plt

MARKDOWN, FIGURES, BALANCE_PLOT = "data_audit.md", "data_audit.json", "data_audit_balance.png"


def write(findings: Findings, folder: Path, title: str) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"# Data audit: {title}", ""]
    sizes = ", ".join(f"{split} {count}" for split, count in findings.facts["examples"].items())
    lines += [f"Examples: {sizes}.", ""]
    if findings.warnings:
        lines += ["## Warnings", "", *[f"- {warning}" for warning in findings.warnings], ""]
    else:
        lines += ["No warnings.", ""]
    for name, table in findings.tables.items():
        lines += [f"## {name[0].upper()}{name[1:]}", "", _markdown_table(table), ""]
    balance = next((table for name, table in findings.tables.items() if name.endswith("balance")), None)
    if balance is not None:
        _balance_plot(balance, folder / BALANCE_PLOT)
        lines += [f"![class balance]({BALANCE_PLOT})", ""]
    (folder / FIGURES).write_text(json.dumps(findings.facts, indent=2, default=str))
    path = folder / MARKDOWN
    path.write_text("\n".join(lines))
    return path


def _markdown_table(table: pd.DataFrame) -> str:
    table = table.reset_index() if table.index.name or not isinstance(table.index, pd.RangeIndex) else table
    header = "| " + " | ".join(str(column) for column in table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    rows = ["| " + " | ".join(str(value) for value in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _balance_plot(balance: pd.DataFrame, path: Path) -> None:
    shares = balance / balance.sum()
    figure, axis = plt.subplots(figsize=(max(5, 0.5 * len(shares)), 3))
    shares.plot.bar(ax=axis)
    axis.set_ylabel("share of the split")
    axis.set_title("class balance per split", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
