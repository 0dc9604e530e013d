"""The benchmark's plots: data files for ``dvc plots`` and two PNG figures, all as bytes.

Everything here is pure: arrays in, bytes out, the same bytes every run. CSV floats are
written with fixed decimals; PNGs use a fixed size and dpi and no ``Software`` metadata
(matplotlib would stamp its version), so only a changed figure changes the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from pipeline.core import config

DPI = 100
DECIMALS = config.REPORT_DECIMALS


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """A small CSV: ints as is, floats with :data:`DECIMALS` decimals, ``\\n`` line ends."""

    def cell(v):
        return f"{v:.{DECIMALS}f}" if isinstance(v, (float, np.floating)) else str(v)

    lines = [",".join(header)] + [",".join(cell(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def learning_curve(curves: np.ndarray, loss: np.ndarray) -> bytes:
    """Per epoch, test accuracy mean/min/max over seeds (``curves`` (seeds, epochs)) and the mean
    training loss (``loss`` (epochs,), as :func:`pipeline.benchmark.training.mean_loss` gives it)."""
    rows = [
        (
            e + 1,
            float(curves[:, e].mean()),
            float(curves[:, e].min()),
            float(curves[:, e].max()),
            float(loss[e]),
        )
        for e in range(curves.shape[1])
    ]
    return csv_bytes(("epoch", "mean", "min", "max", "train_loss"), rows)


def sweep_table(summaries: dict[int, dict[str, float]]) -> bytes:
    """One row per train-per-class count: train images and test accuracy mean/min/max/std."""
    rows = [
        (k, k * len(config.DIGITS), s["mean"], s["min"], s["max"], s["std"])
        for k, s in sorted(summaries.items())
    ]
    return csv_bytes(("train_per_class", "train_images", "mean", "min", "max", "std"), rows)


def confusion_rows(actual: np.ndarray, predicted: np.ndarray) -> bytes:
    """One row per test prediction for DVC's confusion template; ``predicted`` (seeds, M), ``actual`` (M,)."""
    pairs = zip(np.tile(actual, len(predicted)), predicted.ravel(), strict=True)
    return csv_bytes(("actual", "predicted"), pairs)


def per_class_table(per_class: dict[int, float]) -> bytes:
    return csv_bytes(("digit", "accuracy"), sorted(per_class.items()))


def confusion_matrix(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Counts (10, 10), rows actual digit, columns predicted, pooled over seeds (``predicted`` (S, M))."""
    n = len(config.DIGITS)
    flat = np.tile(actual, len(predicted)) * n + predicted.ravel()
    return np.bincount(flat, minlength=n * n).reshape(n, n)


def _png(fig) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def samples_png(images: np.ndarray, labels: np.ndarray, per_class: int = 10) -> bytes:
    """A grid, one row per digit, of the first ``per_class`` train images of that digit; ``images`` (N, 8, 8)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(per_class * 0.6 + 0.4, len(config.DIGITS) * 0.6 + 0.5))
    axes = fig.subplots(len(config.DIGITS), per_class, squeeze=False)
    for digit, row in zip(config.DIGITS, axes, strict=True):
        index = np.flatnonzero(labels == digit)[:per_class]
        for j, ax in enumerate(row):
            ax.set_xticks([]), ax.set_yticks([])
            if j < len(index):
                ax.imshow(images[index[j]], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.set_axis_off()
        row[0].set_ylabel(str(digit), rotation=0, labelpad=10, va="center")
    fig.suptitle(f"TinyDigits train: the first {per_class} images of each digit")
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.01, top=0.93, wspace=0.08, hspace=0.08)
    return _png(fig)


def confusion_png(matrix: np.ndarray, title: str) -> bytes:
    """The confusion matrix ``matrix`` (10, 10) as a heat map with the counts written in."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 5.0))
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues", vmin=0)
    peak = matrix.max() or 1
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if count > peak / 2 else "black",
            )
    ticks = list(config.DIGITS)
    ax.set_xticks(ticks), ax.set_yticks(ticks)
    ax.set_xlabel("predicted digit"), ax.set_ylabel("actual digit")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _png(fig)
