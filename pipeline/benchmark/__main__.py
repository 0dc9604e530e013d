"""``python -m pipeline.benchmark``: the benchmark stage, as ``python -m pipeline benchmark`` runs it."""

from pipeline.benchmark.stage import main
from pipeline.core.runner import run

if __name__ == "__main__":
    run("benchmark", main)
