"""Reading numeric answers out of model text."""

from __future__ import annotations

import pytest

from adaswitch_graph.scoring import numbers_match, parse_number
from adaswitch_graph.steps import extract_answer


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("72", 72.0),
        ("$1,080.50", 1080.5),
        ("The total is 18 dollars.", 18.0),
        ("-3 degrees", -3.0),
        ("\\frac{3}{4}", 0.75),
        ("from 5 to 12 bolts", 12.0),
        ("no number", None),
        (".5 liters", 0.5),
        ("\\frac{1}{0}", 0.0),
    ],
)
def test_parse_number(text: str, value: float | None) -> None:
    assert parse_number(text) == value


def test_numbers_match() -> None:
    assert numbers_match("Natalia sold \\(\\boxed{72}\\) clips", 72.0)
    assert numbers_match("$18", "18")
    assert not numbers_match("17", 18.0)
    assert not numbers_match(None, 18.0)


def test_answer_line_with_boxed_value() -> None:
    assert extract_answer("Answer: Natalia sold \\(\\boxed{72}\\) clips.") == "72"
