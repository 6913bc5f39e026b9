"""Trace files: one JSON event per line, for every stage of every step of a run.

`TraceWriter` is a LangChain callback handler: pass it in the config of any call of the
graph (`graph.invoke(inputs, {"callbacks": [TraceWriter("run.jsonl")]})`), or of a chain
that contains it. Each event is written and flushed as it happens, so a run that fails
midway leaves its trace up to the failure.

The events and what they carry:

- `started`: question, models, policy and its settings, verifier coefficients, budget;
- `drafted`: the local step, its signals (and its samples, with `samples=k`), usage
  and latency; with a token-level policy, one per local part of a step, with the
  step's `spans` so far and the new part's `tokens`;
- `verified`: error probability, the policy's decision and the decision after the budget
  and retry cap, the cloud spend so far (and `handover_at`, the token the cloud takes
  over at, with a token-level policy);
- `flagged`, `assisted` (with exactly the messages sent to the cloud, usage, latency;
  `continued` for the cloud's part of a step, whose `text` is that part, and
  `confirmed` when the cloud stopped at the doubted token itself), `merged`
  (with `spans` for a step both models wrote), `final`.

Every event also has `run` (a number per run in the file) and `t` (seconds since the
run started); `started` also has `format`, the version of this layout (`TRACE_FORMAT`).
`replay` recomputes every decision of a run from its trace, without models.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from adaswitch_graph.budget import Budget
from adaswitch_graph.events import CALLBACK_EVENT
from adaswitch_graph.nodes.self_verify import capped, policy_says
from adaswitch_graph.policies import Policy, StepView, TokenLevel, policy_from_description
from adaswitch_graph.state import Step, Usage, empty_usage
from adaswitch_graph.verifier import Verifier

TRACE_FORMAT = 1
"""Bumped when an event changes in a way an older reader would misread."""


class TraceWriter(BaseCallbackHandler):
    """Writes the graph's events to a JSONL file (appending: one file can hold many
    runs) or to an open text stream."""

    def __init__(self, target: str | Path | IO[str]) -> None:
        self._target = Path(target) if isinstance(target, str | Path) else target
        self._runs = 0
        self._started = time.perf_counter()

    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if name != CALLBACK_EVENT:
            return
        header: dict[str, Any] = {}
        if data.get("event") == "started":
            self._runs += 1
            self._started = time.perf_counter()
            header["format"] = TRACE_FORMAT
        t = round(time.perf_counter() - self._started, 4)
        line = {"run": self._runs, "t": t, **header, **data}
        text = json.dumps(line, default=str) + "\n"
        if isinstance(self._target, Path):
            # Opened per event, so nothing is left unflushed or open when a run dies.
            with self._target.open("a", encoding="utf-8") as file:
                file.write(text)
        else:
            self._target.write(text)
            self._target.flush()


@dataclass
class TraceRun:
    """One run of a trace file."""

    started: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def question(self) -> str:
        return str(self.started.get("question", ""))

    def of(self, *names: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] in names]

    @property
    def final_answer(self) -> str | None:
        finals = self.of("final")
        return str(finals[-1]["answer"]) if finals else None


def read_trace(path: str | Path) -> list[TraceRun]:
    """The runs of a trace file. A line cut short by a crash is skipped."""
    runs: dict[int, TraceRun] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(event, dict) or "event" not in event:
            raise ValueError(
                f"{path} is not a trace: a line holds no 'event' "
                "(write traces with TraceWriter or `adaswitch ask --trace`)"
            )
        run = event.get("run", 1)
        if event["event"] == "started":
            if event.get("format", 1) > TRACE_FORMAT:
                raise ValueError(
                    f"{path} run {run} is trace format {event['format']}, newer than this "
                    f"version of adaswitch-graph reads ({TRACE_FORMAT}); upgrade "
                    "adaswitch-graph to read it"
                )
            runs[run] = TraceRun(started=event)
        runs.setdefault(run, TraceRun(started={})).events.append(event)
    return list(runs.values())


@dataclass(frozen=True)
class Replayed:
    index: int
    error_probability: float | None
    policy_decision: str
    decision: str


def replay(
    run: TraceRun, policy: Policy | TokenLevel | None = None, verifier: Verifier | None = None
) -> list[Replayed]:
    """Every decision of the run, recomputed from the recorded signals with the run's
    own verifier and policy (or the ones given, to ask "what would this policy have
    done?"). The budget is applied from the recorded cloud spend."""
    chosen = policy or policy_from_description(run.started.get("policy", {}))
    if chosen is None:
        raise ValueError(
            f"the trace's policy {run.started.get('policy')} is not one of ours; "
            "pass the policy to replay"
        )
    checker = verifier or Verifier.from_dict(run.started["verifier"])
    budget = Budget(**run.started.get("budget", {}))
    steps: list[Step] = []
    drafts = {(e["index"], n): e for n, e in _numbered(run.of("drafted"))}
    # A step a token-level policy switched inside is verified once per local part;
    # a cloud part that failed leaves the rest of the step local.
    failures = [(e["index"], n) for n, e in _numbered(run.of("assisted")) if e.get("cloud_error")]
    checks = list(_numbered(run.of("verified")))
    last = {verified["index"]: n for n, verified in checks}
    out = []
    for n, verified in checks:
        drafted = drafts.get((verified["index"], n), {})
        signals = verified["signals"]
        p = checker.error_probability(signals)
        failed = next((f for f in failures if f[0] == verified["index"] and f[1] < n), None)
        step = Step(
            index=verified["index"],
            text=drafted.get("text", ""),
            author="local",
            draft=drafted.get("text", ""),
            signals=signals,
            error_probability=p,
            decision=None,
            flagged=False,
            assisted=False,
            retried=bool(drafted.get("retry")),
            final=False,
            spans=drafted.get("spans", []),
        )
        view = StepView(
            run.question, step, list(steps), verified["cloud_calls"], drafted.get("tokens", [])
        )
        wanted, _ = policy_says(chosen, view)
        decision, _ = capped(
            wanted, step["retried"], budget, _spent(verified), "failed" if failed else None
        )
        out.append(Replayed(step["index"], p, wanted, decision))
        merged = [m for m in run.of("merged") if m["index"] == step["index"]]
        if decision != "retry" and merged and n == last[step["index"]]:
            steps.append(Step(**{**step, "text": merged[0]["text"], "author": merged[0]["author"]}))
    return out


def _numbered(events: Sequence[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(attempt, event): a step drafted again after a retry is its attempt 1."""
    seen: dict[int, int] = {}
    for event in events:
        attempt = seen.get(event["index"], 0)
        seen[event["index"]] = attempt + 1
        yield attempt, event


def _spent(verified: dict[str, Any]) -> Usage:
    """The cloud spend recorded when the step was verified, as a usage ledger."""
    cloud = empty_usage()
    cloud["calls"] = verified["cloud_calls"]
    cloud["output_tokens"] = verified["cloud_output_tokens"]
    return {"cloud": cloud}
