"""Run one stage, after checking the environment: ``python -m pipeline <stage>`` (what ``dvc.yaml`` runs).

    $ python -m pipeline fetch
    fetch: source .../sklearn/datasets/data/digits.csv.gz sha256 09f66e6d... ok

The check (:mod:`pipeline.core.environment`) needs only the standard library and runs before any
stage module, and so NumPy, is imported: a wrong or missing package gets one message naming
it, and nothing is written.
"""

import importlib
import sys

from pipeline.core import environment
from pipeline.core.errors import EnvironmentMismatch

STAGES = {
    "fetch": "fetch",
    "sample": "sample",
    "normalize": "normalize",
    "split": "split",
    "pickle": "pickling",
    "benchmark_sweep": "benchmark.sweep",
    "benchmark": "benchmark.stage",
}


def main(argv):
    if len(argv) != 1 or argv[0] not in STAGES:
        print("usage: python -m pipeline {%s}" % ",".join(STAGES), file=sys.stderr)
        return 2
    stage = argv[0]
    # The check first: the runner below uses syntax that the oldest Pythons it refuses cannot parse.
    try:
        environment.check()
    except EnvironmentMismatch as err:
        print("%s: error: %s" % (stage, err), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        from pipeline.core.runner import interrupted

        return interrupted(stage)
    from pipeline.core.runner import Interrupted, catch_ctrl_c, interrupted, run

    try:
        catch_ctrl_c()
        # Ctrl-C while NumPy and the stage load ends here in one line too (the runner takes over after)
        module = importlib.import_module("pipeline." + STAGES[stage])
    except (Interrupted, KeyboardInterrupt):
        return interrupted(stage)
    run(stage, module.main, checked=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
