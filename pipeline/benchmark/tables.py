"""The Markdown tables and phrases of the dataset card (:mod:`pipeline.benchmark.card`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from pipeline.core import config


def counts_table(train_labels: np.ndarray, test_labels: np.ndarray) -> str:
    """Markdown table of images per digit and split; labels (N,) and (M,) ints 0..9."""
    head = "| split | " + " | ".join(map(str, config.DIGITS)) + " | total |"
    rule = "| --- |" + " ---: |" * (len(config.DIGITS) + 1)
    rows = [
        f"| {name} | "
        + " | ".join(str(int(n)) for n in np.bincount(labels, minlength=10))
        + f" | {len(labels):,} |"
        for name, labels in (("train", train_labels), ("test", test_labels))
    ]
    return "\n".join([head, rule, *rows])


def files_table(files: dict[Path, bytes]) -> str:
    return "\n".join(
        f"| `{Path(path).name}` | {len(blob):,} | `{hashlib.sha256(blob).hexdigest()}` |"
        for path, blob in files.items()
    )


def sweep_table(sweep: dict[int, dict[str, float]]) -> str:
    return "\n".join(
        f"| {k} | {k * len(config.DIGITS):,} | {s['mean']:.4f} | {s['std']:.4f} | {s['min']:.4f} | {s['max']:.4f} |"
        for k, s in sorted(sweep.items())
    )


def span(counts) -> str:
    lo, hi = int(np.min(counts)), int(np.max(counts))
    return str(lo) if lo == hi else f"{lo} to {hi}"


def per_digit_phrase(counts) -> str:
    counts = list(counts)
    return (
        f"the {counts[0]} per digit" if len(set(counts)) == 1 else f"the per-digit counts {counts}"
    )


def row_table(head: str, cells: dict, label: str = "accuracy") -> str:
    """A markdown table with one header row (``head``, then the keys of ``cells``) and one row
    (``label``, then the values)."""
    return "\n".join(
        [
            f"| {head} | " + " | ".join(map(str, cells)) + " |",
            "| --- |" + " ---: |" * len(cells),
            f"| {label} | " + " | ".join(cells.values()) + " |",
        ]
    )


def curve_epochs(epochs: int, shown: int = 10) -> list[int]:
    """About ``shown`` epochs from 1 to ``epochs`` for the card's curve table: 1, every step, and the last."""
    step = max(1, epochs // shown)
    return sorted({1, epochs, *range(step, epochs + 1, step)})
