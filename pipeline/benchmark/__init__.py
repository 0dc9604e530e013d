"""The benchmark: the baseline model and its training (``training``, ``parallel``), the two
stages that run it (``sweep``, the work that does not depend on the train counts, and
``stage``, the gate and the reports), and what they publish (``reports``, ``plots``, ``tables``,
``card`` with ``card_template.md``; the card's Hugging Face header is ``pipeline.formats.hub_header``).
``python -m pipeline benchmark`` runs the benchmark stage.

Import-light on purpose: ``benchmark_sweep`` imports ``training`` through this package and must
not pay for the reports' imports.
"""
