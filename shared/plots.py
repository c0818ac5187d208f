"""Plots people would rather see than read, written as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_loss_curve(history: list[dict], path: Path, primary: str) -> None:
    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    evals = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    scores = [(h["step"], h[primary]) for h in history if primary in h]
    figure, axis = plt.subplots(figsize=(7, 4))
    if train:
        axis.plot(*zip(*train), label="training loss")
    if evals:
        axis.plot(*zip(*evals), "o-", label="validation loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    if scores:
        right = axis.twinx()
        right.plot(*zip(*scores), "s--", color="tab:green", label=primary)
        right.set_ylabel(primary)
        right.legend(loc="upper center")
    axis.legend(loc="upper right")
    axis.set_title("training curve")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_confusion_matrix(references: list[int], predicted: list[int], labels: list[str], path: Path) -> None:
    """Counts of true class (rows) against predicted class (columns), with scikit-learn's display."""
    from sklearn.metrics import ConfusionMatrixDisplay

    size = max(5.0, 0.55 * len(labels) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay.from_predictions(references, predicted, labels=list(range(len(labels))),
                                            display_labels=labels, ax=axis, colorbar=False,
                                            xticks_rotation="vertical", cmap="Blues")
    axis.set_title(f"confusion matrix ({len(references)} images)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
