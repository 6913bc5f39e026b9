"""Reading answers out of model text and scoring them against a dataset's reference."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adaswitch_graph.datasets import Item

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_FRACTION = re.compile(r"\\frac\{(-?\d+)\}\{(\d*[1-9]\d*)\}")
_YES_NO = re.compile(r"\b(yes|no|true|false)\b", re.IGNORECASE)
_TRUE = ("yes", "true")


def parse_number(text: str) -> float | None:
    """The last number in a text (commas, `$`, units and LaTeX around it are ignored)."""
    numbers = _numbers(_FRACTION.sub(lambda m: str(int(m[1]) / int(m[2])), text))
    return numbers[-1] if numbers else None


def _numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in _NUMBER.findall(text)]


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


_RESULT = re.compile(r"(?:=|\bAnswer:)\s*\$?\s*(-?\d[\d,]*(?:\.\d+)?)")


def step_results(text: str) -> list[float]:
    """The numbers a step computes: each one right after an `=` or `Answer:`."""
    return [float(m[1].replace(",", "")) for m in result_matches(text)]


def result_matches(text: str) -> list[re.Match[str]]:
    """Where a step states the numbers it computes (group 1 of each match)."""
    return list(_RESULT.finditer(text))


def step_is_right(text: str, item: Item) -> bool | None:
    """A step label from the reference's worked solution: right when every number the
    step computes appears in the solution or the question, wrong when one does not.

    None when the item has no worked solution or the step computes nothing. The label is
    noisy the way such labels are: a right step on another path than the reference's
    counts as wrong, and a wrong step that lands on one of its numbers as right.
    """
    results = step_results(text)
    if not item.solution or not results:
        return None
    known = _numbers(f"{item.question} {item.solution}")
    return reaches(known, results)


def reaches(known: Sequence[float], results: Sequence[float]) -> bool:
    """Whether every one of `results` is among the `known` numbers (to rounding: 0.8333
    is 5/6)."""
    return all(any(math.isclose(r, k, rel_tol=1e-3, abs_tol=0.01) for k in known) for r in results)
