"""pipeline.benchmark.stage: the gate on the baseline's accuracy at the v1 size.

Unit tests use tiny params; one end-to-end test runs `dvc repro` with the gate raised, to see it
fail the pipeline after writing its reports.
"""

import json

import pytest
import yaml

from pipeline.benchmark import reports
from pipeline.benchmark import stage as benchmark
from pipeline.core import config, params
from pipeline.core.errors import PipelineError
from tests.helpers import ROOT, copy_build, run, tiny, update_params

DEFAULTS = params.load(ROOT / config.PARAMS_FILE).benchmark


# ---- the gate ----------------------------------------------------------------------------


def test_gate_passes_at_or_above_the_threshold():
    benchmark.gate(0.80, tiny(min_accuracy=0.75))
    benchmark.gate(0.75, tiny(min_accuracy=0.75))


def test_gate_fails_below_the_threshold_naming_the_key_and_the_measure():
    with pytest.raises(
        PipelineError,
        match=r"benchmark\.min_accuracy is 0\.99 but the baseline trained on 100 "
        r"images per digit \(the TinyDigits v1 size\) reaches a mean test "
        r"accuracy of 0\.7985 over 3 seeds; .*lower benchmark\.min_accuracy",
    ):
        benchmark.gate(0.7985, tiny(min_accuracy=0.99))


# ---- end to end --------------------------------------------------------------------------


@pytest.mark.e2e
def test_gate_fails_dvc_repro_after_writing_its_reports(cold_build, tmp_path):
    repo = copy_build(cold_build, tmp_path / "repo")
    update_params(
        repo,
        benchmark={
            "min_accuracy": 0.99,
            "seeds": 2,
            "sweep_per_class": [5, 100],
            "reference_max_epochs": 20,
        },
    )
    result = run(["dvc", "repro"], repo, check=False)
    assert result.returncode != 0
    assert (
        "benchmark: error: benchmark.min_accuracy is 0.99 but the baseline trained on 100 images per digit "
        "(the TinyDigits v1 size) reaches a mean test accuracy of"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    metrics = json.loads((repo / reports.METRICS_FILE).read_text())
    # written before failing
    assert sorted(metrics["test_accuracy_per_seed"]) == [
        "seed_0",
        "seed_1",
    ]
    assert metrics["test_accuracy"] < 0.99
    locked = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["benchmark"]["params"][
        "params.yaml"
    ]
    # no lock for the failed run
    assert locked["benchmark"]["min_accuracy"] == DEFAULTS.min_accuracy
    assert "benchmark" in run(["dvc", "status", "benchmark"], repo).stdout
