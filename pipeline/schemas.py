"""The data contract: one pandera schema per stage boundary, and the checks behind them.

Arrays cross stages as NumPy; they are checked here as data frames with one row per image,
64 pixel columns ``pixel_<row>_<col>`` and a ``label`` column (plus ``split`` for the
splits). A violation raises :class:`ContractError` naming the stage, the check and the
offending values.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from pipeline.core.config import DIGITS, IMAGE_SHAPE, PIXEL_MAX, SOURCE_ROWS, SPLITS
from pipeline.core.errors import ContractError

PIXEL_COLUMNS = [f"pixel_{r}_{c}" for r in range(IMAGE_SHAPE[0]) for c in range(IMAGE_SHAPE[1])]
# A split is only required to look shuffled when a fair shuffle would leave it grouped by
# class with at most this probability (tiny splits such as one image per class are exempt).
GROUPED_CHANCE_LIMIT = 1e-9
# offending values quoted per check
_SHOWN = 5


@dataclass(frozen=True)
class FrameCheck:
    """A whole-frame check that can also say which values offend it."""

    name: str
    offenders: Callable[[pd.DataFrame], list[str]]

    def check(self) -> pa.Check:
        return pa.Check(lambda df: not self.offenders(df), name=self.name, error=self.name)


# ---- frames from arrays ------------------------------------------------------------------


def to_frame(images: np.ndarray, labels: np.ndarray, split: str | None = None) -> pd.DataFrame:
    """One row per image: ``images`` (N, 8, 8) or (N, 64), ``labels`` (N,)."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim not in (2, 3) or images.shape[1:] not in ((64,), IMAGE_SHAPE):
        raise ContractError(f"images must have shape (N, 8, 8) or (N, 64), got {images.shape}")
    if labels.shape != (len(images),):
        raise ContractError(f"labels must have shape ({len(images)},), got {labels.shape}")
    frame = pd.DataFrame(images.reshape(len(images), 64), columns=PIXEL_COLUMNS)
    frame["label"] = labels
    if split is not None:
        frame.insert(0, "split", split)
    return frame


def splits_frame(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """Train and test stacked into one frame with a ``split`` column, ``splits`` = {name: (images, labels)}."""
    for name, (images, _) in splits.items():
        if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
            raise ContractError(f"{name} images must have shape (N, 8, 8), got {images.shape}")
    parts = [to_frame(images, labels, name) for name, (images, labels) in splits.items()]
    return pd.concat(parts, ignore_index=True)


# ---- whole-frame checks ------------------------------------------------------------------


def _row_count(n: int) -> FrameCheck:
    return FrameCheck(
        f"exactly {n:,} rows", lambda df: [] if len(df) == n else [f"{len(df):,} rows"]
    )


def _pixel_columns_present() -> FrameCheck:
    def offenders(df):
        got = [c for c in df.columns if c.startswith("pixel_")]
        return (
            []
            if got == PIXEL_COLUMNS
            else [f"pixel columns {got[:3]}... ({len(got)}), want {len(PIXEL_COLUMNS)}"]
        )

    return FrameCheck("64 pixel columns pixel_<row>_<col>", offenders)


def _class_counts(expected: dict[str, Sequence[int]]) -> FrameCheck:
    def offenders(df):
        got = df.groupby(["split", "label"]).size()
        bad = []
        for split, counts in expected.items():
            for digit, want in zip(DIGITS, counts, strict=True):
                have = int(got.get((split, digit), 0))
                if have != want:
                    bad.append(f"{split} digit {digit}: {have} images, params say {want}")
        return bad

    return FrameCheck("per-class counts as params say", offenders)


def _disjoint() -> FrameCheck:
    def offenders(df):
        digest = pd.util.hash_pandas_object(df[PIXEL_COLUMNS], index=False)
        train = set(digest[df["split"] == "train"])
        clash = df.index[(df["split"] == "test") & digest.isin(train)]
        return [
            f"test row {i - int((df['split'] == 'train').sum())} is also in train" for i in clash
        ]

    return FrameCheck("no image in both train and test", offenders)


def grouped_chance(counts: Sequence[int]) -> float:
    """Probability that a uniform shuffle of a split with these per-class counts is grouped by class."""
    sizes = [n for n in counts if n > 0]
    log_p = math.lgamma(len(sizes) + 1) + sum(math.lgamma(n + 1) for n in sizes)
    return math.exp(min(0.0, log_p - math.lgamma(sum(sizes) + 1)))


def _shuffled() -> FrameCheck:
    def offenders(df):
        bad = []
        for split, part in df.groupby("split", sort=False):
            labels = part["label"].to_numpy()
            if grouped_chance(np.bincount(labels, minlength=10)) > GROUPED_CHANCE_LIMIT:
                # too small to tell a shuffle from a grouping
                continue
            runs = 1 + int(np.count_nonzero(labels[1:] != labels[:-1]))
            if runs == len(np.unique(labels)):
                bad.append(f"{split} labels are grouped by class ({runs} runs), not shuffled")
        return bad

    return FrameCheck("labels shuffled, not grouped by class", offenders)


# ---- schemas -----------------------------------------------------------------------------

_label = pa.Column("int64", pa.Check.isin(DIGITS), nullable=False)
_sixteenth = pa.Check(lambda s: (s * PIXEL_MAX) == (s * PIXEL_MAX).round(), name="multiple of 1/16")


def _pixels(dtype: str, *checks: pa.Check) -> dict[str, pa.Column]:
    return {c: pa.Column(dtype, checks=list(checks), nullable=False) for c in PIXEL_COLUMNS}


def _schema(name: str, columns: dict, checks: list[FrameCheck]) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        columns,
        checks=[c.check() for c in checks],
        strict=True,
        ordered=True,
        name=name,
        metadata={"frame_checks": {c.name: c for c in checks}},
    )


@functools.cache
def raw_schema(rows: int = SOURCE_ROWS) -> pa.DataFrameSchema:
    """The source snapshot: ``rows`` images of integer pixels 0..16 (1,797 for the real source)."""
    return _schema(
        "raw",
        {**_pixels("uint8", pa.Check.in_range(0, PIXEL_MAX)), "label": _label},
        [_row_count(rows), _pixel_columns_present()],
    )


@functools.cache
def normalized_schema() -> pa.DataFrameSchema:
    """Pixels scaled to float32 multiples of 1/16 in [0, 1]."""
    return _schema(
        "normalized",
        {**_pixels("float32", pa.Check.in_range(0.0, 1.0), _sixteenth), "label": _label},
        [_pixel_columns_present()],
    )


def __getattr__(name: str) -> pa.DataFrameSchema:
    # RAW and NORMALIZED are built on first use (each costs ~40 ms): a stage validates one of them.
    if name == "RAW":
        return raw_schema()
    if name == "NORMALIZED":
        return normalized_schema()
    raise AttributeError(f"module 'pipeline.schemas' has no attribute {name!r}")


def splits_schema(train_counts: Sequence[int], test_counts: Sequence[int]) -> pa.DataFrameSchema:
    """Train and test (one frame, ``split`` column) with the per-class counts params ask for."""
    columns = {
        "split": pa.Column(str, pa.Check.isin(SPLITS), nullable=False),
        **_pixels("float32", pa.Check.in_range(0.0, 1.0), _sixteenth),
        "label": _label,
    }
    expected = {"train": list(train_counts), "test": list(test_counts)}
    return _schema("splits", columns, [_class_counts(expected), _disjoint(), _shuffled()])


# ---- validation with readable errors -----------------------------------------------------


def validate(frame: pd.DataFrame, schema: pa.DataFrameSchema, *, stage: str) -> pd.DataFrame:
    """Validate ``frame``; on failure raise :class:`ContractError` listing every failed check."""
    try:
        return schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        raise ContractError(_describe(err.failure_cases, frame, schema, stage)) from None


def _describe(
    cases: pd.DataFrame, frame: pd.DataFrame, schema: pa.DataFrameSchema, stage: str
) -> str:
    lines = [f"stage '{stage}': {schema.name} data ({len(frame):,} rows) violates the contract:"]
    frame_checks = (schema.metadata or {}).get("frame_checks", {})
    for check, group in cases.groupby("check", sort=False):
        if check in frame_checks:
            shown = frame_checks[check].offenders(frame)
            extra = len(shown) - _SHOWN
        else:
            shown = [
                f"{col}[{idx}]={_value(val)}"
                if idx is not None and not pd.isna(idx)
                else f"{col}: {val}"
                for col, idx, val in zip(
                    group["column"], group["index"], group["failure_case"], strict=True
                )
            ]
            extra = len(shown) - _SHOWN
        more = f" (+{extra} more)" if extra > 0 else ""
        lines.append(f"  - check '{check}': {'; '.join(map(str, shown[:_SHOWN]))}{more}")
    return "\n".join(lines)


def _value(val) -> str:
    """Quote an offending cell: floats as float32 would print them (0.03, not 0.029999999329...)."""
    return f"{val:.7g}" if isinstance(val, (float, np.floating)) else repr(val)
