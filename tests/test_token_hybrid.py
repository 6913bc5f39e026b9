"""benchmarks/token_hybrid.py: the per-token switch, with scripted fake models."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage

from tests.fakes import ScriptedChatModel
from tests.test_calibrate import ROOT


@pytest.fixture
def hybrid(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import token_hybrid

    return token_hybrid


def continuing(pieces: Sequence[tuple[str, float]], finish: str = "stop") -> ScriptedChatModel:
    """A fake that, like llama.cpp, returns the assistant message it was sent followed
    by `pieces` (tokens with their log-probabilities)."""

    def respond(messages: list[BaseMessage], _: int) -> AIMessage:
        prefix = messages[-1].text
        tokens = [{"token": t, "logprob": lp} for t, lp in pieces]
        return AIMessage(
            content=prefix + "".join(t for t, _ in pieces),
            response_metadata={"finish_reason": finish, "logprobs": {"content": tokens}},
            usage_metadata={"input_tokens": 9, "output_tokens": len(pieces), "total_tokens": 9},
        )

    return ScriptedChatModel(respond=respond)


WRONG = [
    (" 2", -0.1),
    (" +", -0.1),
    (" 2", -0.1),
    (" =", -0.1),
    (" 5", -3.0),
    ("\nAnswer: 5", -0.1),
]


def test_the_cloud_writes_from_the_first_doubted_token_and_the_rest_is_kept(hybrid: Any) -> None:
    local = continuing(WRONG)
    cloud = continuing([(" 4", -0.1), ("\nAnswer: 4", -0.1)])
    found = asyncio.run(hybrid.solve(local, cloud, "2 + 2?", hybrid.Hybrid("t", 0.3, k=8)))
    assert found["solution"] == "Step 1: 2 + 2 = 4\nAnswer: 4"
    # The cloud continued the local text up to the doubt, and ended the solution.
    assert cloud.calls[0]["messages"][-1].text == "Step 1: 2 + 2 ="
    assert (found["switches"], found["cloud_calls"], found["cloud_output_tokens"]) == (1, 1, 2)
    assert found["local_output_tokens"] == 6  # the discarded tokens were written too
    assert found["cloud_input_chars"] > len("Step 1: 2 + 2 =")


def test_alone_or_below_no_threshold_nothing_is_switched(hybrid: Any) -> None:
    cloud = continuing([(" 4", -0.1)])
    alone = asyncio.run(hybrid.solve(continuing(WRONG), cloud, "2 + 2?", hybrid.Hybrid("l", 0.0)))
    assert alone["solution"] == "Step 1: 2 + 2 = 5\nAnswer: 5" and not cloud.calls
    # Only digit tokens doubted: a doubted word is not switched.
    words = [(" two", -3.0), (" =", -0.1), (" 4", -0.1)]
    digits = hybrid.Hybrid("d", 0.3, digits=True)
    found = asyncio.run(hybrid.solve(continuing(words), cloud, "2 + 2?", digits))
    assert found["switches"] == 0 and not cloud.calls


def test_the_summary_puts_each_system_between_local_and_cloud(hybrid: Any) -> None:
    def record(system: str, n: int, correct: bool, cloud_tokens: int) -> dict[str, Any]:
        return {"system": system, "item": f"q-{n}", "correct": correct} | {
            "cloud_output_tokens": cloud_tokens
        }

    records = [
        *(record("local", n, n < 2, 0) for n in range(10)),
        *(record("cloud", n, n < 8, 100) for n in range(10)),
        *(record("token:0.3:8", n, n < 5, 20) for n in range(10)),
    ]
    for r in records:
        r |= {"cloud_calls": 1, "switches": 1, "local_output_tokens": 10}
    table = "\n".join(hybrid.summary(records))
    assert "| token:0.3:8 | 10 | 50.0% (23.7% to 76.3%) | 50% | 20% |" in table
    # A system stopped after four items: every row is over those four.
    partial = [r | {"system": "token:0.9:16"} for r in records[:4]]
    rows = hybrid.summary([*records, *partial])
    assert "| local | 4 | 50.0%" in "\n".join(rows) and len(rows) == 2 + 4


def test_runs_resume_from_the_results_file(hybrid: Any, tmp_path: Path) -> None:
    from adaswitch_graph.datasets import Item

    items = [Item("q-0", "2 + 2?", "4", "number"), Item("q-1", "2 + 2?", "4", "number")]
    out = tmp_path / "r.jsonl"
    local, cloud = continuing(WRONG), continuing([(" 4", -0.1), ("\nAnswer: 4", -0.1)])
    systems = [hybrid.Hybrid("local", 0.0), hybrid.Hybrid("token", 0.3)]
    first = asyncio.run(hybrid.run(items[:1], systems, local, cloud, out, 2))
    assert [r["correct"] for r in first] == [False, True]
    calls = len(local.calls)
    again = asyncio.run(hybrid.run(items, systems, local, cloud, out, 2))
    assert len(again) == 4 and len(local.calls) == calls + 2  # only q-1 was run
