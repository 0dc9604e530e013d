"""The consumer side: ``load`` reads a published split safely (``reader``), after checking the
file's digest against the record (``integrity``). Importable without DVC, pandas or pandera.
"""
