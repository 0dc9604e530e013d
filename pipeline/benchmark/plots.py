"""The benchmark's plots: data files for ``dvc plots`` and two PNG figures, all as bytes.

Everything here is pure: arrays in, bytes out, the same bytes every run. CSV floats are
written with fixed decimals; PNGs use a fixed size and dpi and no ``Software`` metadata
(matplotlib would stamp its version), so only a changed figure changes the file.
"""

from __future__ import annotations

import io
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
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


# blank pixels between two images of the samples figure
GAP = 1


def _sample_cells(labels: np.ndarray, per_class: int, shape: tuple[int, int]):
    """``(index in images, top, left)`` of each image the samples grid shows: row ``digit``, column
    ``j`` holds that digit's ``j``-th image, cells ``shape`` apart from their neighbours by :data:`GAP`."""
    h, w = shape
    for digit in config.DIGITS:
        for j, i in enumerate(np.flatnonzero(labels == digit)[:per_class]):
            yield i, digit * (h + GAP), j * (w + GAP)


def samples_grid(images: np.ndarray, labels: np.ndarray, per_class: int = 10) -> np.ndarray:
    """One row per digit of its first ``per_class`` images (``images`` (N, 8, 8)), side by side
    with :data:`GAP` blank (NaN) pixels between them; a digit with fewer images leaves blanks."""
    (h, w), n = images.shape[1:], len(config.DIGITS)
    grid = np.full((n * (h + GAP) - GAP, per_class * (w + GAP) - GAP), np.nan, np.float32)
    for i, top, left in _sample_cells(labels, per_class, (h, w)):
        grid[top : top + h, left : left + w] = images[i]
    return grid


def samples_png(images: np.ndarray, labels: np.ndarray, per_class: int = 10) -> bytes:
    """A grid, one row per digit, of the first ``per_class`` train images of that digit; ``images`` (N, 8, 8).

    One image of the whole grid (:func:`samples_grid`) with a frame drawn round each digit image:
    one axes, not one per image (100 axes took 0.6 s to draw, this 0.05 s).
    """
    # matplotlib (0.4 s) only now, after the stage has started its forkserver: the imports overlap
    from matplotlib import colormaps
    from matplotlib.collections import PatchCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    h, w = images.shape[1:]
    fig = Figure(figsize=(per_class * 0.6 + 0.4, len(config.DIGITS) * 0.6 + 0.5))
    ax = fig.subplots()
    cmap = colormaps["gray_r"].with_extremes(bad="white")
    ax.imshow(
        samples_grid(images, labels, per_class), cmap=cmap, vmin=0, vmax=1, interpolation="nearest"
    )
    frames = [
        Rectangle((left - 0.5, top - 0.5), w, h)
        for _, top, left in _sample_cells(labels, per_class, (h, w))
    ]
    ax.add_collection(
        PatchCollection(frames, facecolor="none", edgecolor="black", linewidth=0.8, clip_on=False)
    )
    ax.set_xticks([])
    ax.set_yticks([d * (h + GAP) + (h - 1) / 2 for d in config.DIGITS], map(str, config.DIGITS))
    ax.tick_params(length=0)
    ax.set_frame_on(False)
    fig.suptitle(f"TinyDigits train: the first {per_class} images of each digit")
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.01, top=0.93)
    return _png(fig)


def confusion_png(matrix: np.ndarray, title: str) -> bytes:
    """The confusion matrix ``matrix`` (10, 10) as a heat map with the counts written in."""
    # as in samples_png: imported by the first figure drawn, not with this module
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
