"""The field checks behind :mod:`pipeline.core.params`: each takes a value from ``params.yaml``
and the key it came from, and returns the value or raises :class:`ParamsError` naming the key
and what would be valid.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from pathlib import Path
from typing import Any

from pipeline.core.config import CLASS_SIZES, DIGITS
from pipeline.core.errors import ParamsError


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(value: Any, key: str, lo: int, hi: int) -> int:
    """Return ``value`` if it is an integer in ``[lo, hi]``; otherwise name the key and range."""
    if not is_int(value) or value < lo or value > hi:
        raise ParamsError(f"{key} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def number(value: Any, key: str, lo: float, hi: float, *, open_lo: bool = False) -> float:
    bracket = "(" if open_lo else "["
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value > hi or value < lo or (open_lo and value == lo):
        raise ParamsError(f"{key} must be a number in {bracket}{lo}, {hi}], got {value!r}")
    return float(value)


def mapping(block: Any, key: str, allowed: tuple[str, ...]) -> dict:
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


def as_digit(digit: Any, key: str) -> Any:
    """``digit`` as an int when it is one written as a string ('8', as ``dvc exp run -S '++...8=N'`` writes)."""
    if not isinstance(digit, str):
        return digit
    text = digit.strip()
    # str.isdigit() accepts '８', '٨', '²'; int() takes some of them
    if text.isdigit() and not text.isascii():
        names = ", ".join(
            f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in text if not c.isascii()
        )
        raise ParamsError(f"{key} has digit {digit!r} ({names}); write digits as 0..9 in ASCII")
    return int(text) if text.isascii() and text.isdigit() else digit


def overrides(value: Any, key: str) -> dict[int, int]:
    """Per-digit counts ``{digit: count}``; digits may be written as ints or strings, each digit once."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParamsError(f"{key} must be a mapping of digit (0..9) to count, got {value!r}")
    out: dict[int, int] = {}
    spelled: dict[int, Any] = {}
    for digit, count in value.items():
        d = as_digit(digit, key)
        if not is_int(d) or d not in DIGITS:
            raise ParamsError(f"{key} has unknown digit {digit!r}; valid digits are 0..9")
        if d in spelled:
            first = spelled[d]
            raise ParamsError(
                f"{key} gives digit {d} twice, as {first!r}: {value[first]!r} and as {digit!r}: {count!r}; "
                f"edit params.yaml so that digit {d} appears once (`dvc exp run -S '++{key}.{d}=N'` "
                f"adds the key '{d}' next to an existing {d})"
            )
        spelled[d] = digit
        out[d] = integer(count, f"{key}.{d}", 0, CLASS_SIZES[d])
    return out


def check_unique_keys(node: Any, path: Path, where: str = "") -> None:
    """Refuse a key given twice in one mapping: YAML loaders silently keep the last one."""
    import yaml

    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            check_unique_keys(item, path, f"{where}[{i}]")
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
            check_unique_keys(value, path, name)
