"""Plots people would rather see than read, written as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from shared.scratch import scratch_file  # noqa: E402


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
    ConfusionMatrixDisplay.from_predictions(
        references,
        predicted,
        labels=list(range(len(labels))),
        display_labels=labels,
        ax=axis,
        colorbar=False,
        xticks_rotation="vertical",
        cmap="Blues",
    )
    axis.set_title(f"confusion matrix ({len(references)} images)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def pareto_front(points: list[tuple[float, float]], higher_is_better: bool = True) -> list[int]:
    """Indices of the (latency, score) points no other point beats on both: as fast or faster and as good or
    better, and strictly better on one. Sorted by latency. For an error rate (WER), lower scores are better."""
    if not higher_is_better:
        points = [(latency, -score) for latency, score in points]
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for index in order:
        if points[index][1] > best:
            front.append(index)
            best = points[index][1]
    return front


def pareto_figure(rows: list[dict], metric: str, better_up: bool = True):
    """Score against end-to-end latency p50 (log scale), bubble area proportional to size on disk; the Pareto
    front joined by a line, so a user sees which models no other beats on both. `better_up`: higher scores are
    better (False for error rates)."""
    rows = [r for r in rows if r.get("latency_p50_ms") and r.get("score") is not None]
    figure, axis = plt.subplots(figsize=(8, 5))
    if not rows:
        axis.text(0.5, 0.5, "no evaluation with a measured latency yet", ha="center", va="center")
        axis.set_axis_off()
        return figure
    points = [(r["latency_p50_ms"], r["score"]) for r in rows]
    sizes = [max(20.0, 4.0 * (r.get("size_mb") or 0.0)) for r in rows]
    front = pareto_front(points, better_up)
    axis.scatter(
        *zip(*points),
        s=sizes,
        alpha=0.45,
        color=["tab:orange" if i in front else "tab:blue" for i in range(len(rows))],
        edgecolor="black",
    )
    axis.plot(*zip(*[points[i] for i in front]), "--", color="tab:orange", label="Pareto front")
    for row, (x, y) in zip(rows, points):
        axis.annotate(Path(str(row["model"])).name[:32], (x, y), fontsize=7, xytext=(4, 4), textcoords="offset points")
    axis.set_xscale("log")
    axis.set_xlabel("latency p50 at batch 1, ms (log scale; left is faster)")
    axis.set_ylabel(metric if better_up else f"{metric} (lower is better)")
    axis.set_title("score vs latency; bubble area = size on disk")
    axis.legend(loc="lower right" if better_up else "upper right")
    figure.tight_layout()
    return figure


def audio_figure(audio, rate: int, spans: list[dict] | None = None) -> str:
    """Waveform (with the timed words or segments shaded and labelled) over a log-mel spectrogram, as a
    PNG file in the demos' scratch folder; returns its path."""
    import librosa
    import librosa.display
    import numpy as np

    figure, (wave, spectrum) = plt.subplots(2, 1, figsize=(9, 4.5), sharex=True)
    times = np.arange(len(audio)) / rate
    wave.plot(times, audio, linewidth=0.5, color="tab:blue")
    for index, span in enumerate(spans or []):
        start, end = span["timestamp"]
        end = start if end is None else end
        wave.axvspan(start, end, alpha=0.15, color="tab:orange" if index % 2 else "tab:green")
        wave.annotate(span["text"][:18], (start, 0.9), xycoords=("data", "axes fraction"), fontsize=7)
    wave.set_ylabel("amplitude")
    mel = librosa.feature.melspectrogram(y=audio, sr=rate, n_mels=80, hop_length=160 * rate // 16_000)
    librosa.display.specshow(
        librosa.power_to_db(mel, ref=np.max),
        sr=rate,
        hop_length=160 * rate // 16_000,
        x_axis="time",
        y_axis="mel",
        ax=spectrum,
    )
    spectrum.set_xlabel("seconds")
    figure.tight_layout()
    path = str(scratch_file(".png"))
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
