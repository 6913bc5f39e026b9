"""Reading benchmark items in each supported format, and scoring answers to them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from adaswitch_graph.datasets import DatasetError, Item, load_items, parse_item, worked_equation
from adaswitch_graph.scoring import parse_yes_no, score, step_is_right

GSM8K = {"question": "How many?", "answer": "48/2 = <<48/2=24>>24\n#### 1,072"}
SVAMP = {"ID": "chal-2", "Body": "Dan had $ 3 left.", "Question": "How much?", "Answer": 1.0}
STRATEGY = {"input": "Is frost common?", "target_scores": {"Yes": 1, "No": 0}, "target": "Yes."}


def test_each_format_is_recognised() -> None:
    assert parse_item(GSM8K, "x") == Item("x", "How many?", "1072", "number")
    assert parse_item(GSM8K, "x").solution == "48/2 = <<48/2=24>>24"
    assert parse_item(SVAMP, "x") == Item("chal-2", "Dan had $ 3 left. How much?", "1", "number")
    assert parse_item(STRATEGY, "x") == Item("x", "Is frost common?", "yes", "yesno")
    assert parse_item({"question": "Q?", "answer": "No"}, "x").kind == "yesno"
    assert parse_item({"question": "Q?", "answer": 2.5}, "x").answer == "2.5"
    with pytest.raises(DatasetError, match="none of the known formats"):
        parse_item({"prompt": "Q?"}, "x")


def test_svamp_equations_are_worked_one_operation_a_line() -> None:
    assert worked_equation("( ( 5.0 + 3.0 ) * 2.5 )") == "5 + 3 = 8\n8 * 2.5 = 20"
    assert worked_equation("( 4.0 - -1.0 ) / 2.0") == "4 - -1 = 5\n5 / 2 = 2.5"
    for not_worked in ("8.0", "( 7.0 / 0.0 )", "x + 1", "( 4.0 -", ""):
        assert worked_equation(not_worked) == ""
    item = parse_item(
        {**SVAMP, "Body": "Ann has 5 red and 3 blue pens.", "Equation": "( 5.0 + 3.0 ) * 2.0"}, "x"
    )
    assert item.solution == "5 + 3 = 8\n8 * 2 = 16"
    # So SVAMP steps get the same labels as GSM8K's: an intermediate result counts.
    assert step_is_right("5 + 3 = 8 pens", item) is True
    assert step_is_right("5 * 3 = 15 pens", item) is False


def write(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_load_from_a_data_dir_with_offset_and_limit(tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    rows = [{"question": f"Q{i}?", "answer": f"#### {i}"} for i in range(5)]
    write(tmp_path / "gsm8k" / "test.jsonl", rows)
    items = load_items("gsm8k", data_dir=tmp_path, offset=1, limit=2)
    assert [(i.id, i.answer) for i in items] == [("test-1", "1"), ("test-2", "2")]


def test_the_data_dir_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "svamp").mkdir()
    write(tmp_path / "svamp" / "test.jsonl", [SVAMP])
    monkeypatch.setenv("ADASWITCH_DATA", str(tmp_path))
    assert load_items("svamp")[0].question.startswith("Dan had")


def test_a_file_path_is_a_dataset(tmp_path: Path) -> None:
    path = write(tmp_path / "mine.jsonl", [STRATEGY, GSM8K])
    assert [i.kind for i in load_items(str(path))] == ["yesno", "number"]


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ("gsm9k", "unknown dataset 'gsm9k'"),
        ("gsm8k", "pass --data-dir DIR"),
        ("missing.jsonl", "does not exist"),
    ],
)
def test_clear_errors(
    dataset: str, message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ADASWITCH_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError, match=message):
        load_items(dataset)


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GSM8K) + "\n{not json\n")
    with pytest.raises(DatasetError, match=r"bad\.jsonl, line 2"):
        load_items(str(path))


def test_a_missing_dataset_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"strategyqa/test\.jsonl, which does not exist"):
        load_items("strategyqa", data_dir=tmp_path)


def test_gym_items_are_seeded_and_scored_by_the_gym() -> None:
    pytest.importorskip("reasoning_gym")
    first = load_items("gym:basic_arithmetic", limit=3, seed=7)
    again = load_items("gym:basic_arithmetic", limit=3, seed=7)
    other = load_items("gym:basic_arithmetic", limit=3, seed=8)
    assert [i.question for i in first] == [i.question for i in again]
    assert [i.question for i in first] != [i.question for i in other]
    assert score(first[0], first[0].answer) == 1.0
    assert score(first[0], "not a number") == 0.0
    with pytest.raises(DatasetError, match="no task 'no_such_task'"):
        load_items("gym:no_such_task", limit=1)


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Yes.", "yes"),
        ("**No**, because...", "no"),
        ("True", "yes"),
        ("The answer is no", "no"),
        ("Yesterday it rained", None),
        ("", None),
    ],
)
def test_parse_yes_no(text: str, verdict: str | None) -> None:
    assert parse_yes_no(text) == verdict


@pytest.mark.parametrize(
    ("answer", "right"),
    [
        ("$1,072.00", True),
        ("1072 dollars", True),
        ("\\boxed{1072}", True),
        ("1,072.5", False),
        ("about 1000", False),
        (None, False),
    ],
)
def test_score_numbers(answer: str | None, right: bool) -> None:
    assert score(Item("x", "q", "1072", "number"), answer) == float(right)


def test_score_yes_no() -> None:
    item = Item("x", "q", "no", "yesno")
    assert score(item, "No, it is not.") == 1.0
    assert score(item, "yes") == 0.0
    assert score(item, "maybe") == 0.0
