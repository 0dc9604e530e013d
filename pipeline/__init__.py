"""TinyDigits: a reproducible DVC pipeline for a balanced 8x8 handwritten-digits subset.

Each stage is a module, run as ``python3 -m pipeline <stage>`` (``__main__.py`` checks the
environment first). This package file stays import-light on purpose: every stage imports it first.
"""

__all__ = ["load"]


def __getattr__(name):
    # Lazy so that ``python -m pipeline fetch`` does not pay for the loader's imports.
    if name == "load":
        from pipeline.loader.reader import load

        return load
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
