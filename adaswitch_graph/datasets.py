"""Benchmark items: GSM8K, SVAMP, StrategyQA files, and reasoning-gym tasks.

Files are found under a data directory given explicitly, or in `$ADASWITCH_DATA`; the
package assumes no directory of its own. Each JSONL line is read in whichever of the
supported formats it is in, so `--data PATH` takes any file in those formats.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from adaswitch_graph.errors import AdaSwitchError
from adaswitch_graph.signals import evaluate_arithmetic

Kind = Literal["number", "yesno", "gym"]

DATA_ENV = "ADASWITCH_DATA"
DATASET_FILES = {
    "gsm8k": "gsm8k/test.jsonl",
    "gsm8k-train": "gsm8k/train.jsonl",
    "svamp": "svamp/test.jsonl",
    "strategyqa": "strategyqa/test.jsonl",
}
GYM_PREFIX = "gym:"


class DatasetError(AdaSwitchError, ValueError):
    """A dataset cannot be found or read."""


@dataclass(frozen=True)
class Item:
    """One benchmark question with its reference answer."""

    id: str
    question: str
    answer: str
    kind: Kind
    """How an answer is scored: a number, yes/no, or the gym task's own scorer."""
    entry: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The gym entry a gym scorer needs."""
    solution: str = field(default="", compare=False, repr=False)
    """The reference's worked solution, where the dataset has one: GSM8K's, or SVAMP's
    equation worked one operation a line."""


def load_items(
    dataset: str,
    *,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    offset: int = 0,
    seed: int = 0,
) -> list[Item]:
    """Items of a named dataset (`gsm8k`, `gsm8k-train`, `svamp`, `strategyqa`,
    `gym:<task>`) or of a JSONL file path, from `offset` on, at most `limit` of them.

    Gym items are generated from `seed`, so the same arguments give the same items.
    """
    if limit is not None and limit < 1:
        raise DatasetError(f"limit must be at least 1, got {limit}")
    if offset < 0:
        raise DatasetError(f"offset must be 0 or more, got {offset}")
    if dataset.startswith(GYM_PREFIX):
        return _gym_items(dataset[len(GYM_PREFIX) :], limit or 100, offset, seed)
    path = _dataset_path(dataset, data_dir)
    end = None if limit is None else offset + limit
    items: list[Item] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if end is not None and number >= end:
                break
            if number < offset or not line.strip():
                continue
            try:
                items.append(parse_item(json.loads(line), f"{path.stem}-{number}"))
            except (json.JSONDecodeError, DatasetError) as exc:
                raise DatasetError(f"{path}, line {number + 1}: {exc}") from None
    if not items:
        raise DatasetError(f"{path} has no items from line {offset + 1} on")
    return items


def _dataset_path(dataset: str, data_dir: str | Path | None) -> Path:
    as_path = Path(dataset).expanduser()
    if dataset not in DATASET_FILES:
        if as_path.suffix == ".jsonl" or as_path.exists():
            if not as_path.is_file():
                raise DatasetError(f"data file {as_path} does not exist")
            return as_path
        raise DatasetError(
            f"unknown dataset {dataset!r}; use one of {sorted(DATASET_FILES)}, "
            "gym:<task> (reasoning-gym) or the path of a JSONL file"
        )
    root = data_dir or os.environ.get(DATA_ENV)
    if not root:
        raise DatasetError(
            f"where is {dataset!r}? pass --data-dir DIR (the folder holding "
            f"{DATASET_FILES[dataset]}), set ${DATA_ENV}, or pass --data FILE.jsonl"
        )
    path = Path(root).expanduser() / DATASET_FILES[dataset]
    if not path.is_file():
        raise DatasetError(f"{dataset!r} expected at {path}, which does not exist")
    return path


def parse_item(row: Mapping[str, Any], default_id: str) -> Item:
    """One item from a JSONL row in the GSM8K, SVAMP, StrategyQA or plain
    `{"question", "answer"}` format."""
    if "target_scores" in row and "input" in row:  # StrategyQA (BIG-bench)
        scores = {str(k).lower(): v for k, v in row["target_scores"].items()}
        answer = "yes" if scores.get("yes") else "no"
        return Item(str(row.get("id", default_id)), str(row["input"]), answer, "yesno")
    if "Body" in row and "Question" in row:  # SVAMP
        question = f"{str(row['Body']).strip()} {str(row['Question']).strip()}"
        answer = _number_text(row["Answer"])
        solution = worked_equation(str(row.get("Equation", "")))
        return Item(str(row.get("ID", default_id)), question, answer, "number", solution=solution)
    if "question" in row and "answer" in row:  # GSM8K, or plain
        answer, solution = str(row["answer"]), ""
        if "####" in answer:
            solution, answer = answer.rsplit("####", 1)
            solution = solution.strip()
        answer = answer.strip().replace(",", "")
        kind: Kind = "yesno" if answer.lower() in ("yes", "no") else "number"
        if kind == "yesno":
            answer = answer.lower()
        question = str(row["question"])
        return Item(str(row.get("id", default_id)), question, answer, kind, solution=solution)
    raise DatasetError(
        f"a row with keys {sorted(row)} is in none of the known formats: "
        '{"question", "answer"} (GSM8K), {"Body", "Question", "Answer"} (SVAMP), '
        '{"input", "target_scores"} (StrategyQA)'
    )


def worked_equation(equation: str) -> str:
    """An equation worked one operation a line, innermost first: `( 4.0 - 3.0 ) * 2.0`
    gives `4 - 3 = 1` and `1 * 2 = 2`. "" where it is not `+ - * /` arithmetic."""
    lines: list[str] = []

    def value(node: ast.expr) -> float:
        if isinstance(node, ast.BinOp):
            node = ast.BinOp(_constant(value(node.left)), node.op, _constant(value(node.right)))
        result = evaluate_arithmetic(ast.unparse(node))
        if result is None:
            raise ValueError("not arithmetic")
        if isinstance(node, ast.BinOp):
            lines.append(f"{ast.unparse(node)} = {_number_text(result)}")
        return result

    try:
        value(ast.parse(equation, mode="eval").body)
    except (SyntaxError, ValueError):
        return ""
    return "\n".join(lines)


def _constant(number: float) -> ast.Constant:
    return ast.Constant(int(number) if number.is_integer() else number)


def _number_text(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def _gym_items(task: str, limit: int, offset: int, seed: int) -> list[Item]:
    try:
        import reasoning_gym
    except ImportError:
        raise DatasetError(
            "gym:<task> needs reasoning-gym: pip install 'adaswitch-graph[bench]'"
        ) from None
    try:
        data = reasoning_gym.create_dataset(task, size=offset + limit, seed=seed)
    except (KeyError, ValueError) as exc:
        raise DatasetError(f"reasoning-gym has no task {task!r}: {exc}") from None
    return [
        Item(f"{task}-{seed}-{i}", str(data[i]["question"]), str(data[i]["answer"]), "gym", data[i])
        for i in range(offset, offset + limit)
    ]


def gym_score(item: Item, answer: str) -> float:
    """reasoning-gym's own score of an answer to one of its items."""
    import reasoning_gym

    task = item.entry["metadata"]["source_dataset"]
    scorer = reasoning_gym.get_score_answer_fn(task)
    return float(scorer(answer, item.entry))
