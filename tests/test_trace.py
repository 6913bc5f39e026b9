"""Trace files: written by the callback, read back, and replayed without models."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from adaswitch_graph import AlwaysLocal, Budget, RandomPolicy, SelfVerifyPolicy
from adaswitch_graph.policies import DEFAULT_THRESHOLD
from adaswitch_graph.trace import TRACE_FORMAT, TraceWriter, read_trace, replay
from tests.conftest import ask
from tests.fakes import SHAKY_EVENTS, SHAKY_RUN, scripted_cloud, scripted_local


def test_a_trace_round_trips_and_replays_the_same_decisions(build: Any, tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    graph = build(scripted_local(SHAKY_RUN), scripted_cloud())
    result = graph.invoke(ask(), {"callbacks": [TraceWriter(path)]})
    (run,) = read_trace(path)
    assert [e["event"] for e in run.events] == SHAKY_EVENTS
    assert run.question == result["question"]
    assert run.final_answer == result["final_answer"]
    assert run.started["policy"] == {
        "type": "SelfVerifyPolicy",
        "threshold": DEFAULT_THRESHOLD,
        "retry": False,
        "handover": False,
        "max_question_chars": None,
    }
    assert run.started["verifier"]["coefficients"] == {"min_logprob": -1.0}
    # Exactly what went to the cloud, and what it cost.
    assisted = run.of("assisted")
    assert [e["index"] for e in assisted] == [2, 3]
    assert assisted[0]["sent"][-1]["role"] == "human"
    assert assisted[0]["sent"][-1]["content"].endswith("Write Step 2.")
    assert (
        sum(e["usage"]["cloud"]["input_chars"] for e in assisted)
        == (result["usage"]["cloud"]["input_chars"])
    )
    assert all(e["latency_s"] >= 0 for e in run.of("drafted", "assisted"))
    times = [e["t"] for e in run.events]
    assert times == sorted(times)
    # The decisions come back from the recorded signals alone.
    replayed = replay(run)
    assert [r.decision for r in replayed] == [s["decision"] for s in result["steps"]]
    assert [r.error_probability for r in replayed] == [
        s["error_probability"] for s in result["steps"]
    ]


def test_replay_answers_what_another_policy_would_have_done(build: Any, tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    build(scripted_local(SHAKY_RUN), scripted_cloud()).invoke(
        ask(), {"callbacks": [TraceWriter(path)]}
    )
    (run,) = read_trace(path)
    assert {r.decision for r in replay(run, policy=AlwaysLocal())} == {"accept"}
    strict = replay(run, policy=SelfVerifyPolicy(0.05))
    assert [r.decision for r in strict] == ["cloud"] * 4


def test_replay_applies_the_recorded_budget(build: Any, tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    graph = build(scripted_local(SHAKY_RUN), scripted_cloud(), budget=Budget(max_cloud_calls=1))
    result = graph.invoke(ask(), {"callbacks": [TraceWriter(path)]})
    (run,) = read_trace(path)
    replayed = replay(run)
    assert [r.decision for r in replayed] == [s["decision"] for s in result["steps"]]
    assert [r.policy_decision for r in replayed][1:3] == ["cloud", "cloud"]
    assert [r.decision for r in replayed][1:3] == ["cloud", "accept"]


async def test_traces_from_async_runs_and_streams(build: Any) -> None:
    stream = io.StringIO()
    graph = build(scripted_local(SHAKY_RUN), scripted_cloud(), policy=RandomPolicy(0.5))
    await graph.ainvoke(ask(), {"callbacks": [TraceWriter(stream)]})
    [e async for e in graph.astream(ask(), {"callbacks": [TraceWriter(stream)]})]
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["event"] for e in events].count("started") == 2


def test_one_file_holds_many_runs_and_a_torn_line_is_skipped(build: Any, tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    writer = TraceWriter(path)
    graph = build(scripted_local(SHAKY_RUN), scripted_cloud())
    graph.invoke(ask(), {"callbacks": [writer]})
    graph.invoke(ask("How many clips in June?"), {"callbacks": [writer]})
    with path.open("a") as file:
        file.write('{"run": 3, "event": "star')
    runs = read_trace(path)
    assert [r.question for r in runs][1] == "How many clips in June?"
    assert len(runs) == 2


def test_a_file_that_is_no_trace_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"question": "?"}\n')
    with pytest.raises(ValueError, match="is not a trace"):
        read_trace(path)


def test_a_trace_records_its_format_and_a_newer_one_is_refused(build: Any, tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    build(scripted_local(SHAKY_RUN), scripted_cloud()).invoke(
        ask(), {"callbacks": [TraceWriter(path)]}
    )
    (run,) = read_trace(path)
    assert run.started["format"] == TRACE_FORMAT
    newer = path.read_text().replace(f'"format": {TRACE_FORMAT}', f'"format": {TRACE_FORMAT + 1}')
    path.write_text(newer)
    with pytest.raises(ValueError, match="newer than this version"):
        read_trace(path)


def test_replay_needs_the_policy_of_a_users_own_class(build: Any, tmp_path: Path) -> None:
    class Mine:
        def decide(self, view: Any) -> str:
            return "accept"

    path = tmp_path / "run.jsonl"
    build(scripted_local(SHAKY_RUN), scripted_cloud(), policy=Mine()).invoke(
        ask(), {"callbacks": [TraceWriter(path)]}
    )
    (run,) = read_trace(path)
    with pytest.raises(ValueError, match="pass the policy"):
        replay(run)
    assert {r.decision for r in replay(run, policy=Mine())} == {"accept"}  # type: ignore[arg-type]
