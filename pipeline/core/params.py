"""Read and validate ``params.yaml`` before any stage writes anything.

Every stage validates the whole file, and the first stage, ``params``, tracks it whole, so a typo
anywhere fails the next ``dvc repro`` with one message that names the key and what would be valid::

    $ python -m pipeline params
    seed=42 train=[100, 100, ..., 100] (1,000) test=[20, 20, ..., 20] (200)

(each list holds ten counts, one per digit 0..9, and its total).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.config import CLASS_SIZES, DIGITS, GATE_PER_CLASS, PARAMS_FILE
from pipeline.core.errors import ParamsError
from pipeline.core.fields import check_unique_keys, integer, mapping, number, overrides

# as a stage it writes nothing: dvc.yaml's outs (tests/test_dvc_yaml.py)
OUTS = ()
# NumPy's legacy RandomState takes seeds in [0, 2**32)
SEED_LIMIT = 2**32


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


def _sample(block: Any) -> SampleParams:
    keys = ("train_per_class", "test_per_class", "train_counts", "test_counts")
    block = mapping(block, "sample", keys)
    smallest = min(CLASS_SIZES)
    train_default = integer(block["train_per_class"], "sample.train_per_class", 0, smallest)
    test_default = integer(block["test_per_class"], "sample.test_per_class", 0, smallest)
    train_over = overrides(block["train_counts"], "sample.train_counts")
    test_over = overrides(block["test_counts"], "sample.test_counts")
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
    block = mapping(block, "benchmark", keys)
    sweep = block["sweep_per_class"]
    if not isinstance(sweep, list) or not sweep:
        raise ParamsError(
            f"benchmark.sweep_per_class must be a non-empty list of counts, got {sweep!r}"
        )
    smallest = min(CLASS_SIZES)
    counts = tuple(
        integer(n, f"benchmark.sweep_per_class[{i}]", 1, smallest) for i, n in enumerate(sweep)
    )
    if len(set(counts)) != len(counts):
        raise ParamsError(
            f"benchmark.sweep_per_class must list distinct counts, got {list(counts)}"
        )
    return BenchmarkParams(
        seeds=integer(block["seeds"], "benchmark.seeds", 1, 1000),
        hidden_units=integer(block["hidden_units"], "benchmark.hidden_units", 1, 4096),
        learning_rate=number(
            block["learning_rate"], "benchmark.learning_rate", 0.0, 10.0, open_lo=True
        ),
        batch_size=integer(block["batch_size"], "benchmark.batch_size", 1, 100_000),
        epochs=integer(block["epochs"], "benchmark.epochs", 1, 10_000),
        min_accuracy=number(block["min_accuracy"], "benchmark.min_accuracy", 0.0, 1.0),
        sweep_per_class=counts,
        reference_hidden_units=integer(
            block["reference_hidden_units"], "benchmark.reference_hidden_units", 1, 4096
        ),
        reference_max_epochs=integer(
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
    raw = mapping(raw, "", ("seed", "sample", "benchmark"))
    p = Params(
        seed=integer(raw["seed"], "seed", 0, SEED_LIMIT - 1),
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
        if (path.parent / "dvc.yaml").exists():
            # the repository's root, without its params.yaml: deleted or moved
            raise ParamsError(
                f"{path} not found beside dvc.yaml "
                f"(`git checkout -- {path.name}` restores the defaults)"
            ) from None
        raise ParamsError(
            f"{path} not found in {path.parent.resolve()}: run from the repository root, "
            "where dvc.yaml and params.yaml are"
        ) from None
    try:
        check_unique_keys(yaml.compose(text, Loader=yaml.SafeLoader), path)
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


def main() -> None:
    """``python -m pipeline params``, dvc.yaml's first stage: check the whole file, print the counts."""
    p = load()
    print(
        f"seed={p.seed} train={list(p.sample.train_counts)} ({sum(p.sample.train_counts):,}) "
        f"test={list(p.sample.test_counts)} ({sum(p.sample.test_counts):,})"
    )
