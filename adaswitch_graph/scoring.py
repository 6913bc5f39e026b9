"""Reading and scoring numeric answers (the math datasets)."""

from __future__ import annotations

import math
import re

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_FRACTION = re.compile(r"\\frac\{(-?\d+)\}\{(\d*[1-9]\d*)\}")


def parse_number(text: str) -> float | None:
    """The last number in a text (commas, `$`, units and LaTeX around it are ignored)."""
    cleaned = _FRACTION.sub(lambda m: str(int(m[1]) / int(m[2])), text)
    matches = _NUMBER.findall(cleaned)
    return float(matches[-1].replace(",", "")) if matches else None


def numbers_match(predicted: str | None, gold: float | str) -> bool:
    value = parse_number(predicted or "")
    target = gold if isinstance(gold, float | int) else parse_number(str(gold))
    return value is not None and target is not None and math.isclose(value, target, abs_tol=1e-6)
