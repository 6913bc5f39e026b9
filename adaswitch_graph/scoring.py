"""Reading answers out of model text and scoring them against a dataset's reference."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adaswitch_graph.datasets import Item

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_FRACTION = re.compile(r"\\frac\{(-?\d+)\}\{(\d*[1-9]\d*)\}")
_YES_NO = re.compile(r"\b(yes|no|true|false)\b", re.IGNORECASE)
_TRUE = ("yes", "true")


def parse_number(text: str) -> float | None:
    """The last number in a text (commas, `$`, units and LaTeX around it are ignored)."""
    cleaned = _FRACTION.sub(lambda m: str(int(m[1]) / int(m[2])), text)
    matches = _NUMBER.findall(cleaned)
    return float(matches[-1].replace(",", "")) if matches else None


def numbers_match(predicted: str | None, gold: float | str) -> bool:
    value = parse_number(predicted or "")
    target = gold if isinstance(gold, float | int) else parse_number(str(gold))
    return value is not None and target is not None and math.isclose(value, target, abs_tol=1e-6)


def parse_yes_no(text: str) -> str | None:
    """ "yes" or "no" from a verdict: its first yes/no/true/false word, else None."""
    match = _YES_NO.search(text or "")
    if match is None:
        return None
    return "yes" if match[1].lower() in _TRUE else "no"


def score(item: Item, answer: str | None) -> float:
    """1.0 when `answer` is right for `item`, 0.0 when not (reasoning-gym tasks may give
    partial credit, which counts as right only when it is full)."""
    if item.kind == "yesno":
        return float(parse_yes_no(answer or "") == item.answer)
    if item.kind == "gym":
        from adaswitch_graph.datasets import gym_score

        return gym_score(item, answer or "")
    return float(numbers_match(answer, item.answer))
