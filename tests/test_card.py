"""The dataset card: generated from the template, its figures from the data, nothing that drifts."""

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.benchmark import card, reports, tables
from pipeline.core import config, params
from pipeline.core.errors import PipelineError
from pipeline.formats import hub_header, parquet
from tests.helpers import ROOT

TEMPLATE = (ROOT / reports.CARD_TEMPLATE).read_text(encoding="utf-8")
P = params.load(ROOT / config.PARAMS_FILE)
# Real Parquet files of 3 and 2 blank images: the card measures their in-memory size with pyarrow.
PARQUET = {
    s: parquet.parquet_bytes(np.zeros((n, 8, 8), np.float32), np.arange(n), np.arange(n))
    for s, n in (("train", 3), ("test", 2))
}


def facts(**changes) -> card.Facts:
    """A small, made-up set of facts; each test changes what it checks."""
    summary = {"mean": 0.8, "std": 0.03, "min": 0.74, "max": 0.85}
    base = dict(
        p=P,
        train_labels=np.repeat(np.arange(10), 100),
        test_labels=np.repeat(np.arange(10), 20),
        files={
            Path("train.pkl"): b"x" * 264_255,
            Path("test.pkl"): b"y" * 53_044,
            Path("train.npz"): b"z",
            Path("train.parquet"): PARQUET["train"],
            Path("test.parquet"): PARQUET["test"],
        },
        base=summary,
        per_class={d: 0.5 + d / 20 for d in range(10)},
        curve=np.linspace(0.15, 0.8, 20),
        ref={"test_accuracy": 0.975, "epochs": 351, "converged": True},
        sweep={15: {"mean": 0.29, "std": 0.07, "min": 0.14, "max": 0.35}, 100: summary},
    )
    return card.Facts(**{**base, **changes})


def claim(f: card.Facts, name: str) -> tuple[str, str, str]:
    return next(row for row in card.claims(f) if row[0].startswith(name))


def test_every_placeholder_is_filled():
    text = card.render(TEMPLATE, facts())
    assert not re.search(r"\$[A-Za-z_{]", text), re.findall(r"\$\w+", text)


def test_card_opens_with_the_hugging_face_header_of_its_files():
    text = card.render(TEMPLATE, facts())
    sizes = {s: len(blob) for s, blob in PARQUET.items()}
    in_memory = {s: parquet.arrow_nbytes(blob) for s, blob in PARQUET.items()}
    assert text.startswith(
        hub_header.header({"train": 1000, "test": 200}, sizes, in_memory) + "\n<!--"
    )
    assert "## Which format when" in text and '`load_dataset("datasets/tinydigits")`' in text


def test_counts_and_digests_come_from_the_data():
    labels = np.array([0, 0, 1, 9, 9, 9])
    table = tables.counts_table(labels, np.array([1]))
    assert "| train | 2 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 3 | 6 |" in table
    assert "| test | 0 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 1 |" in table
    text = card.render(TEMPLATE, facts())
    assert f"| `train.pkl` | 264,255 | `{hashlib.sha256(b'x' * 264_255).hexdigest()}` |" in text
    assert "The two pickles total 317,299 bytes (309.9 KiB)." in text


def test_claims_verdicts_follow_the_measures():
    f = facts()
    assert claim(f, "~80%")[2] == "holds"
    assert claim(facts(base={"mean": 0.6, "std": 0.0, "min": 0.6, "max": 0.6}), "~80%")[
        2
    ].startswith("does not hold")
    assert claim(f, "<20%")[2].startswith("does not hold") and "0.2900" in claim(f, "<20%")[1]
    small = {15: {"mean": 0.12, "std": 0.0, "min": 0.1, "max": 0.14}}
    assert claim(facts(sweep=small), "<20%")[2] == "holds"
    assert claim(facts(sweep={}), "<20%")[1].startswith("not measured")
    assert claim(f, "~310 KB")[2] == "holds"
    assert claim(facts(files={Path("train.pkl"): b"x" * 500_000}), "~310 KB")[2].startswith(
        "does not hold"
    )
    assert claim(facts(curve=np.full(20, 0.5)), "Model improves")[2].startswith("does not hold")
    assert claim(facts(train_labels=np.repeat(np.arange(10), 50)), "Perfect 100")[2].startswith(
        "does not hold"
    )


def test_time_claim_is_stated_without_a_wall_clock_figure():
    measured = claim(facts(), "<10 sec")[1]
    assert "0.28 GFLOP" in measured and "reports/local/benchmark.json" in measured
    assert card.run_flops(P.benchmark, 1000) == 6 * (64 * 32 + 32 * 10) * 1000 * 20


def test_imbalanced_and_unconverged_runs_are_described_as_such():
    text = card.render(
        TEMPLATE,
        facts(
            train_labels=np.repeat(np.arange(10), [100] * 8 + [50, 100]),
            ref={"test_accuracy": 0.9, "epochs": 1000, "converged": False},
        ),
    )
    assert (
        "a small set (per-digit counts as below)" in text
        and "balanced" not in text.split("\n## ")[0]
    )
    assert "stopped by benchmark.reference_max_epochs before converging" in text


def test_the_reference_says_where_it_trained_when_that_is_not_the_published_split():
    # 100 per digit: the same split
    assert "the v1 size, as for the gate" not in card.render(TEMPLATE, facts())
    fifty = params.parse(
        {
            **yaml.safe_load((ROOT / config.PARAMS_FILE).read_text()),
            "sample": {
                "train_per_class": 50,
                "test_per_class": 20,
                "train_counts": {},
                "test_counts": {},
            },
        }
    )
    text = card.render(TEMPLATE, facts(p=fifty, train_labels=np.repeat(np.arange(10), 50)))
    assert (
        "(351 epochs; on the split drawn with 100 train images per digit, the v1 size, as for the gate)"
        in text
    )


def test_unknown_placeholder_and_stray_dollar_are_refused():
    with pytest.raises(
        PipelineError,
        match=r"^card template has unknown placeholder \$nonsense; known: baseline_max, "
        r"baseline_mean, baseline_min, baseline_pct, baseline_std, batch_size, citation, claims_table, ",
    ):
        card.render("x $nonsense y", facts())
    with pytest.raises(PipelineError, match=r"stray '\$'"):
        card.render("costs $5", facts())


def test_committed_card_agrees_with_committed_metrics_and_files():
    text = (ROOT / reports.CARD_FILE).read_text(encoding="utf-8")
    m = json.loads((ROOT / reports.METRICS_FILE).read_text())
    assert (
        f"| baseline, {P.benchmark.seeds} seeds | {m['test_accuracy']:.4f} | {m['test_accuracy_std']:.4f} |"
        in text
    )
    assert f"reaches\n{m['reference']['test_accuracy']:.4f} test accuracy" in text
    for name in ("train", "test"):
        for path in (config.pickle_path(name), config.npz_path(name), config.parquet_path(name)):
            assert hashlib.sha256((ROOT / path).read_bytes()).hexdigest() in text, path
    assert hashlib.sha256((ROOT / config.CROISSANT_FILE).read_bytes()).hexdigest() in text


@pytest.mark.parametrize(
    "path", [reports.CARD_FILE, reports.METRICS_FILE, *reports.PLOT_FILES.values()]
)
def test_tracked_outputs_hold_no_times_dates_paths_or_versions(path):
    text = (ROOT / path).read_text(encoding="utf-8")
    # dates, clock times
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}:\d{2}:\d{2}\b", text)
    assert str(ROOT) not in text and not re.search(r"(?<![\w.])/(home|tmp|Users|root)/", text)
    # no measured durations
    assert not re.search(r"\b\d+\.\d+ ?(s|sec|seconds)\b|\b\d+ ?ms\b", text)
    import sklearn

    assert sklearn.__version__ not in text


def time_row(gflop: str, mflops: str) -> tuple[str, str, str]:
    return (
        "<10 sec training on CPU",
        f"one 20-epoch run is {gflop} GFLOP, so 10 s needs {mflops} MFLOP/s; the wall time depends "
        "on the machine, so the benchmark stage prints it and writes it to "
        "`reports/local/benchmark.json`",
        "see the console (not fixed in this file)",
    )


def test_each_claim_row_word_for_word_when_it_holds_and_when_it_does_not():
    assert card.claims(facts()) == [
        ("~80% test accuracy on MLPs", "0.8000 mean over 10 seeds (0.7400 to 0.8500)", "holds"),
        (
            "<20% with 150 samples",
            "0.2900 mean with 15 per digit (150 images), same baseline and epochs",
            "does not hold: 150 images give more than 20%",
        ),
        ("Perfect 100 samples per digit", "train: 100 per digit", "holds"),
        (
            "Model improves visibly across epochs",
            "mean test accuracy 0.1500 after epoch 1, 0.8000 after epoch 20",
            "holds",
        ),
        time_row("0.28", "28"),
        ("~310 KB total", "317,299 bytes (309.9 KiB) for the two pickles", "holds"),
    ]
    low = {"mean": 0.6, "std": 0.0, "min": 0.6, "max": 0.6}
    bad = facts(
        base=low,
        files={Path("train.pkl"): b"x" * 500_000},
        curve=np.full(20, 0.5),
        train_labels=np.repeat(np.arange(10), 50),
        # 20% is not under 20%
        sweep={15: {"mean": 0.2, "std": 0.0, "min": 0.2, "max": 0.2}},
    )
    assert card.claims(bad) == [
        (
            "~80% test accuracy on MLPs",
            "0.6000 mean over 10 seeds (0.6000 to 0.6000)",
            "does not hold: more than 0.05 from 0.80",
        ),
        (
            "<20% with 150 samples",
            "0.2000 mean with 15 per digit (150 images), same baseline and epochs",
            "does not hold: 150 images give more than 20%",
        ),
        ("Perfect 100 samples per digit", "train: 50 per digit", "does not hold"),
        (
            "Model improves visibly across epochs",
            "mean test accuracy 0.5000 after epoch 1, 0.5000 after epoch 20",
            "does not hold: rises by less than 0.10",
        ),
        time_row("0.14", "14"),
        (
            "~310 KB total",
            "500,000 bytes (488.3 KiB) for the two pickles",
            "does not hold: more than 5% from 310 KiB",
        ),
    ]
    assert card.claims(facts(sweep={}))[1] == (
        "<20% with 150 samples",
        "not measured: add 15 to benchmark.sweep_per_class",
        "not checked",
    )


def test_no_image_of_one_digit_is_not_100_per_digit():
    # train_counts: {9: 0}
    nine_digits = facts(train_labels=np.repeat(np.arange(9), 100))
    assert claim(nine_digits, "Perfect 100") == (
        "Perfect 100 samples per digit",
        "train: 0 to 100 per digit",
        "does not hold",
    )


def filled(f: card.Facts, names: str) -> str:
    """The card's values for ``names``, one ``name=value`` per line, through card.render."""
    return card.render("\n".join(f"{n}=${n}" for n in names.split()), f)


def test_the_cards_values_word_for_word():
    assert filled(
        facts(),
        "kind train_images test_images n_train n_test pkl_bytes pkl_kib baseline_pct seeds "
        "last_seed hidden learning_rate batch_size epochs run_mflop baseline_mean baseline_std "
        "baseline_min baseline_max curve_table per_class_table hardest reference_hidden "
        "reference_epochs reference_note reference_accuracy sweep_test_images sweep_test_phrase "
        "published_note seed take_train take_test test_step",
    ) == "\n".join(
        [
            "kind=a small, balanced set",
            "train_images=1,000",
            "test_images=200",
            "n_train=1000",
            "n_test=200",
            "pkl_bytes=317,299",
            "pkl_kib=309.9",
            "baseline_pct=80",
            "seeds=10",
            "last_seed=9",
            "hidden=32",
            "learning_rate=0.01",
            "batch_size=32",
            "epochs=20",
            "run_mflop=284",
            "baseline_mean=0.8000",
            "baseline_std=0.0300",
            "baseline_min=0.7400",
            "baseline_max=0.8500",
            "curve_table=| epoch | 1 | 2 | 4 | 6 | 8 | 10 | 12 | 14 | 16 | 18 | 20 |",
            "| --- |" + " ---: |" * 11,
            "| accuracy | 0.150 | 0.184 | 0.253 | 0.321 | 0.389 | 0.458 | 0.526 | 0.595 | 0.663 "
            "| 0.732 | 0.800 |",
            "per_class_table=| digit | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |",
            "| --- |" + " ---: |" * 10,
            "| accuracy | 0.500 | 0.550 | 0.600 | 0.650 | 0.700 | 0.750 | 0.800 | 0.850 | 0.900 "
            "| 0.950 |",
            "hardest=digit 0 (0.500) and digit 1 (0.550)",
            "reference_hidden=64",
            "reference_epochs=351",
            "reference_note=",
            "reference_accuracy=0.9750",
            "sweep_test_images=200",
            "sweep_test_phrase=the 20 per digit",
            "published_note=At 100 per digit the split is exactly the published one, so that row "
            "equals the baseline above.",
            "seed=42",
            "take_train=100",
            "take_test=20",
            "test_step=0.005",
        ]
    )


def test_the_cards_values_for_an_imbalanced_variant_word_for_word():
    train, test = (100,) * 8 + (50, 100), (20,) * 3 + (15,) + (20,) * 6
    p = replace(
        P,
        seed=7,
        sample=replace(P.sample, train_counts=train, test_counts=test),
        benchmark=replace(P.benchmark, seeds=3),
    )
    variant = facts(
        p=p,
        train_labels=np.repeat(np.arange(10), train),
        test_labels=np.repeat(np.arange(10), test),
        # two digits tie for hardest: the lower digit first, whatever the order they come in
        per_class={d: (0.5 if d in (3, 7) else 0.9) for d in reversed(range(10))},
        ref={"test_accuracy": 0.9, "epochs": 5, "converged": False},
    )
    assert filled(
        variant,
        "kind n_train n_test seeds last_seed hardest reference_note published_note take_train "
        "take_test test_step sweep_test_images sweep_test_phrase",
    ) == "\n".join(
        [
            "kind=a small set (per-digit counts as below)",
            "n_train=950",
            "n_test=195",
            "seeds=3",
            "last_seed=2",
            "hardest=digit 3 (0.500) and digit 7 (0.500)",
            "reference_note=, stopped by benchmark.reference_max_epochs before converging; on the "
            "split drawn with 100 train images per digit, the v1 size, as for the gate",
            "published_note=",
            "take_train=50 to 100",
            "take_test=15 to 20",
            "test_step=0.00513",
            "sweep_test_images=195",
            "sweep_test_phrase=the per-digit counts [20, 20, 20, 15, 20, 20, 20, 20, 20, 20]",
        ]
    )


def test_the_model_improves_when_the_last_epoch_is_10_points_above_the_first():
    def improves(curve) -> str:
        return claim(facts(curve=np.array(curve)), "Model improves")[2]

    # the last epoch counts, not the one before
    assert improves([0.5] * 19 + [0.7]) == "holds"
    # and the first, not the second
    assert improves([0.1] + [0.6] * 19) == "holds"
    # by at least 10 points: exactly 10 is enough
    assert improves([0.0] * 19 + [0.1]) == "holds"
    assert improves([0.0] * 19 + [0.09]) == "does not hold: rises by less than 0.10"


def test_the_claims_table_is_one_row_per_claim():
    rows = "\n".join(f"| {c} | {m} | {v} |" for c, m, v in card.claims(facts()))
    assert filled(facts(), "claims_table") == f"claims_table={rows}"
    assert rows.count("\n") == 5 and rows.startswith("| ~80% test accuracy on MLPs | 0.8000 mean")
