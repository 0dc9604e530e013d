"""Read and validate ``params.yaml`` before any stage writes anything.

Every stage validates the whole file, so a typo anywhere fails the next ``dvc repro``
with one message that names the key and what would be valid::

    $ python -m pipeline.core.params
    seed=42 train=100 per class (1,000) test=20 per class (200)
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.config import CLASS_SIZES, DIGITS, GATE_PER_CLASS, PARAMS_FILE
from pipeline.core.errors import ParamsError
from pipeline.core.runner import run

SEED_LIMIT = 2**32  # NumPy's legacy RandomState takes seeds in [0, 2**32)


@dataclass(frozen=True)
class SampleParams:
    """Images to draw per digit, indexed by digit 0..9."""

    train_counts: tuple[int, ...]
    test_counts: tuple[int, ...]


@dataclass(frozen=True)
class BenchmarkParams:
    seeds: int
    hidden_units: int
    learning_rate: float
    batch_size: int
    epochs: int
    min_accuracy: float
    sweep_per_class: tuple[int, ...]
    reference_hidden_units: int
    reference_max_epochs: int


@dataclass(frozen=True)
class Params:
    seed: int
    sample: SampleParams
    benchmark: BenchmarkParams


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any, key: str, lo: int, hi: int | None = None) -> int:
    """Return ``value`` if it is an integer in ``[lo, hi]``; otherwise name the key and range."""
    valid = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
    if not _is_int(value) or value < lo or (hi is not None and value > hi):
        raise ParamsError(f"{key} must be {valid}, got {value!r}")
    return value


def _number(value: Any, key: str, lo: float, hi: float, *, open_lo: bool = False) -> float:
    bracket = "(" if open_lo else "["
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value > hi or value < lo or (open_lo and value == lo):
        raise ParamsError(f"{key} must be a number in {bracket}{lo}, {hi}], got {value!r}")
    return float(value)


def _keys(block: Any, key: str, allowed: tuple[str, ...]) -> dict:
    """Check ``block`` is a mapping holding exactly ``allowed``; suggest a fix for typos."""
    where = key or "params.yaml"
    if not isinstance(block, dict):
        raise ParamsError(
            f"{where} must be a mapping with keys {', '.join(allowed)}, got {block!r}"
        )
    prefix = f"{key}." if key else ""
    for name in block:
        if name not in allowed:
            close = difflib.get_close_matches(str(name), allowed, n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
            raise ParamsError(
                f"unknown key {prefix}{name}{hint}; valid keys here: {', '.join(allowed)}"
            )
    missing = [name for name in allowed if name not in block]
    if missing:
        raise ParamsError(f"missing key {prefix}{missing[0]}; {where} needs {', '.join(allowed)}")
    return block


def _digit(digit: Any, key: str) -> Any:
    """``digit`` as an int when it is one written as a string ('8', as ``dvc exp run -S '++...8=N'`` writes)."""
    if not isinstance(digit, str):
        return digit
    text = digit.strip()
    if (
        text.isdigit() and not text.isascii()
    ):  # str.isdigit() accepts '８', '٨', '²'; int() takes some of them
        names = ", ".join(
            f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in text if not c.isascii()
        )
        raise ParamsError(f"{key} has digit {digit!r} ({names}); write digits as 0..9 in ASCII")
    return int(text) if text.isascii() and text.isdigit() else digit


def _overrides(value: Any, key: str) -> dict[int, int]:
    """Per-digit counts ``{digit: count}``; digits may be written as ints or strings, each digit once."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParamsError(f"{key} must be a mapping of digit (0..9) to count, got {value!r}")
    out: dict[int, int] = {}
    spelled: dict[int, Any] = {}
    for digit, count in value.items():
        d = _digit(digit, key)
        if not _is_int(d) or d not in DIGITS:
            raise ParamsError(f"{key} has unknown digit {digit!r}; valid digits are 0..9")
        if d in spelled:
            first = spelled[d]
            raise ParamsError(
                f"{key} gives digit {d} twice, as {first!r}: {value[first]!r} and as {digit!r}: {count!r}; "
                f"edit params.yaml so that digit {d} appears once (`dvc exp run -S '++{key}.{d}=N'` "
                f"adds the key '{d}' next to an existing {d})"
            )
        spelled[d] = digit
        out[d] = _int(count, f"{key}.{d}", 0, CLASS_SIZES[d])
    return out


def _sample(block: Any) -> SampleParams:
    keys = ("train_per_class", "test_per_class", "train_counts", "test_counts")
    block = _keys(block, "sample", keys)
    smallest = min(CLASS_SIZES)
    train_default = _int(block["train_per_class"], "sample.train_per_class", 0, smallest)
    test_default = _int(block["test_per_class"], "sample.test_per_class", 0, smallest)
    train_over = _overrides(block["train_counts"], "sample.train_counts")
    test_over = _overrides(block["test_counts"], "sample.test_counts")
    train = tuple(train_over.get(d, train_default) for d in DIGITS)
    test = tuple(test_over.get(d, test_default) for d in DIGITS)
    over = [d for d in DIGITS if train[d] + test[d] > CLASS_SIZES[d]]
    if over:
        d = over[0]
        keys = " + ".join(
            (
                f"sample.train_counts.{d}" if d in train_over else "sample.train_per_class",
                f"sample.test_counts.{d}" if d in test_over else "sample.test_per_class",
            )
        )
        raise ParamsError(
            f"{keys} = {train[d]} + {test[d]} = {train[d] + test[d]} exceeds the {CLASS_SIZES[d]} "
            f"images of digit {d}; valid: train + test <= {CLASS_SIZES[d]} for digit {d} "
            f"(over the limit: digits {', '.join(map(str, over))}; digit 8 has the fewest, {CLASS_SIZES[8]})"
        )
    if sum(train) == 0 or sum(test) == 0:
        raise ParamsError(
            "sample: train and test must each hold at least one image; all counts are 0"
        )
    return SampleParams(train_counts=train, test_counts=test)


def _benchmark(block: Any) -> BenchmarkParams:
    keys = (
        "seeds",
        "hidden_units",
        "learning_rate",
        "batch_size",
        "epochs",
        "min_accuracy",
        "sweep_per_class",
        "reference_hidden_units",
        "reference_max_epochs",
    )
    block = _keys(block, "benchmark", keys)
    sweep = block["sweep_per_class"]
    if not isinstance(sweep, list) or not sweep:
        raise ParamsError(
            f"benchmark.sweep_per_class must be a non-empty list of counts, got {sweep!r}"
        )
    smallest = min(CLASS_SIZES)
    counts = tuple(
        _int(n, f"benchmark.sweep_per_class[{i}]", 1, smallest) for i, n in enumerate(sweep)
    )
    if len(set(counts)) != len(counts):
        raise ParamsError(
            f"benchmark.sweep_per_class must list distinct counts, got {list(counts)}"
        )
    return BenchmarkParams(
        seeds=_int(block["seeds"], "benchmark.seeds", 1, 1000),
        hidden_units=_int(block["hidden_units"], "benchmark.hidden_units", 1, 4096),
        learning_rate=_number(
            block["learning_rate"], "benchmark.learning_rate", 0.0, 10.0, open_lo=True
        ),
        batch_size=_int(block["batch_size"], "benchmark.batch_size", 1, 100_000),
        epochs=_int(block["epochs"], "benchmark.epochs", 1, 10_000),
        min_accuracy=_number(block["min_accuracy"], "benchmark.min_accuracy", 0.0, 1.0),
        sweep_per_class=counts,
        reference_hidden_units=_int(
            block["reference_hidden_units"], "benchmark.reference_hidden_units", 1, 4096
        ),
        reference_max_epochs=_int(
            block["reference_max_epochs"], "benchmark.reference_max_epochs", 1, 100_000
        ),
    )


def _check_sweep(sweep: tuple[int, ...], test_counts: tuple[int, ...]) -> None:
    """Each sweep point (and the gate's, at 100 per digit) is the split the pipeline would draw
    with that many train images per digit, so train + test must fit every digit, like ``sample``."""
    limit = min(CLASS_SIZES[d] - test_counts[d] for d in DIGITS)
    d = min(DIGITS, key=lambda d: (CLASS_SIZES[d] - test_counts[d], d))
    for i, n in enumerate(sweep):
        if n > limit:
            raise ParamsError(
                f"benchmark.sweep_per_class[{i}] = {n} leaves no room for the {test_counts[d]} test "
                f"images of digit {d} ({CLASS_SIZES[d]} images); valid: counts in [1, {limit}]"
            )
    if GATE_PER_CLASS > limit:
        raise ParamsError(
            f"sample.test_per_class / sample.test_counts.{d} = {test_counts[d]} leaves no room for the "
            f"benchmark gate's {GATE_PER_CLASS} train images of digit {d} ({CLASS_SIZES[d]} images); "
            f"valid: test images per digit <= {CLASS_SIZES[d] - GATE_PER_CLASS} for digit {d}"
        )


def parse(raw: Any) -> Params:
    """Validate a params mapping (as parsed from YAML) and resolve per-digit counts."""
    raw = _keys(raw, "", ("seed", "sample", "benchmark"))
    p = Params(
        seed=_int(raw["seed"], "seed", 0, SEED_LIMIT - 1),
        sample=_sample(raw["sample"]),
        benchmark=_benchmark(raw["benchmark"]),
    )
    _check_sweep(p.benchmark.sweep_per_class, p.sample.test_counts)
    return p


def load(path: Path | str = PARAMS_FILE) -> Params:
    """Read and validate ``params.yaml``; raise :class:`ParamsError` naming the bad key."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path} not found; run from the repository root") from None
    try:
        _check_unique_keys(yaml.compose(text, Loader=yaml.SafeLoader), path)
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark, context = err.problem_mark, f" ({err.context})" if err.context else ""
        raise ParamsError(
            f"{path} is not valid YAML: line {mark.line + 1}, column {mark.column + 1}: "
            f"{err.problem}{context}"
        ) from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path} is not valid YAML: {' '.join(str(err).split())}") from None
    if raw is None:
        raise ParamsError(
            f"{path} is empty; it needs seed, sample and benchmark "
            f"(`git checkout -- {path}` restores the defaults)"
        )
    return parse(raw)


def _check_unique_keys(node: Any, path: Path, where: str = "") -> None:
    """Refuse a key given twice in one mapping: YAML loaders silently keep the last one."""
    import yaml

    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_unique_keys(item, path, f"{where}[{i}]")
    elif isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            name = f"{where}.{key.value}" if where else str(key.value)
            line = key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode) and (key.tag, key.value) in seen:
                raise ParamsError(
                    f"{path} line {line}: key {name} is given twice (first on line {seen[key.tag, key.value]}); "
                    f"YAML would silently keep only the last; delete one of them"
                )
            seen[key.tag, key.value] = line
            _check_unique_keys(value, path, name)


if __name__ == "__main__":

    def _show() -> None:
        p = load()
        print(
            f"seed={p.seed} train={list(p.sample.train_counts)} ({sum(p.sample.train_counts):,}) "
            f"test={list(p.sample.test_counts)} ({sum(p.sample.test_counts):,})"
        )

    run("params", _show)
