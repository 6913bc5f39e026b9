"""Reading numeric answers out of model text, and labelling steps from a reference."""

from __future__ import annotations

import pytest

from adaswitch_graph.datasets import Item
from adaswitch_graph.scoring import numbers_match, parse_number, step_is_right, step_results
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


def test_step_results_are_the_numbers_after_equals_and_answer() -> None:
    text = "Total: $80,000 + $50,000 = $130,000.\n130,000 * 1.5 = 195000\nAnswer: 65,000 dollars"
    assert step_results(text) == [130000.0, 195000.0, 65000.0]
    assert step_results("Natalia sold 48 clips in April.") == []


REFERENCE = Item(
    "x",
    "Natalia sold clips to 48 friends in April, and half as many in May. How many in all?",
    "72",
    "number",
    solution="Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nIn all 48+24 = <<48+24=72>>72.",
)


@pytest.mark.parametrize(
    ("step", "right"),
    [
        ("In May she sold 48 / 2 = 24 clips.", True),
        ("In May she sold 48 / 2 = 24.0 clips.", True),
        ("Altogether 48 + 24 = 72.\nAnswer: 72", True),
        ("In May she sold 48 * 2 = 96 clips.", False),
        ("Altogether 48 + 24 = 72.\nAnswer: 96", False),
        ("She sold 48 clips in April.", None),
    ],
)
def test_steps_are_labelled_by_the_reference_numbers(step: str, right: bool | None) -> None:
    assert step_is_right(step, REFERENCE) is right


def test_no_worked_solution_no_label() -> None:
    assert step_is_right("48 / 2 = 24", Item("x", "q", "24", "number")) is None
