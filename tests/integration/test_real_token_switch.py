"""Switching models inside a step (`TokenPolicy`) with the real bundled models, on the
embedded server and through the Ollama API."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

from adaswitch_graph import TokenPolicy, TraceWriter, create_adaswitch_agent, read_trace
from adaswitch_graph.embedded import embedded_server
from adaswitch_graph.models import resolve_model
from adaswitch_graph.state import estimated_input_tokens
from tests.servers import OllamaShim

QUESTION = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether in April and May?"
)
LOCAL = "qwen2.5-coder-0.5b"


def check_switches(result: dict[str, Any], trace: Any, policy: TokenPolicy) -> None:
    """What a token-level run must show whatever the models write."""
    steps = result["steps"]
    parts = [s for step in steps for s in step.get("spans", [])]
    cloud_parts = [s for s in parts if s["author"] == "cloud"]
    assert cloud_parts and any(s["author"] == "local" and s["text"] for s in parts)
    for step in steps:
        assert step["text"] == "".join(s["text"] for s in step["spans"])
        assert step["author"] == ("cloud" if step["assisted"] else "local")
    # One cloud call a part, each at most k tokens, all counted.
    cloud = result["usage"]["cloud"]
    assert cloud["calls"] == len(cloud_parts)
    assert 0 < cloud["output_tokens"] <= policy.k * cloud["calls"]
    # The cloud took over exactly at the first local token under tau, and the local
    # model was stopped right after writing it.
    floor = math.log(policy.tau)
    drafts = trace.of("drafted")
    handovers = [(n, e) for n, e in enumerate(trace.of("verified")) if "handover_at" in e]
    assert handovers
    for n, verified in handovers:
        tokens = drafts[n]["tokens"]
        at = verified["handover_at"]
        assert tokens[at]["logprob"] < floor
        assert all(t["logprob"] >= floor for t in tokens[:at])
        assert len(tokens) == at + 1


def test_the_real_cloud_continues_the_real_local_models_doubted_tokens(tmp_path: Path) -> None:
    # Through the CLI, on its defaults: the bundled 0.5B local and 1.5B cloud.
    path = tmp_path / "run.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "adaswitch_graph", "ask", QUESTION, "--policy", "token:0.8:8",
         "--max-steps", "4", "--json", "--trace", str(path)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    (trace,) = read_trace(path)
    check_switches(result, trace, TokenPolicy(tau=0.8, k=8))
    # Every local call counts its prompt, those stopped at a doubted token included.
    assert all(e["usage"]["local"]["input_tokens"] > 0 for e in trace.of("drafted"))
    assert result["usage"]["local"]["uncounted_input_chars"] == 0
    # Each local call resends the solution so far, whose beginning the server has kept
    # in its prompt cache from the call before; the ledger counts what it read there.
    local = result["usage"]["local"]
    assert 0 < local["cached_input_tokens"] < local["input_tokens"]


def test_token_switching_through_the_ollama_api(tmp_path: Path) -> None:
    policy = TokenPolicy(tau=0.8, k=4)
    name = "qwen2.5-coder:0.5b"
    with OllamaShim(name, upstream=embedded_server(LOCAL).url) as shim:
        model = resolve_model(f"ollama:{name}", base_url=shim.url)
        agent = create_adaswitch_agent(model, model, policy=policy, max_steps=2)
        path = tmp_path / "run.jsonl"
        result = agent.invoke(
            {"messages": [("user", QUESTION)]}, {"callbacks": [TraceWriter(path)]}
        )
        limits = [r["options"].get("num_predict") for r in shim.chat_requests]
    (trace,) = read_trace(path)
    check_switches(result, trace, policy)
    assert limits.count(policy.k) == result["usage"]["cloud"]["calls"]
    # Ollama gives a prompt's length only in its final report: the local streams closed
    # at a doubted token have their input tokens estimated from their characters.
    local = result["usage"]["local"]
    assert 0 < local["uncounted_input_chars"] < local["input_chars"]
    assert estimated_input_tokens(local) > local["input_tokens"] > 0


def test_with_confirm_the_real_cloud_stops_at_a_doubted_token_it_writes_too(
    tmp_path: Path,
) -> None:
    # The 0.5B as its own cloud writes its doubted tokens too, most of the time: the
    # cloud parts that confirm one stop there, the others run up to k tokens.
    policy = TokenPolicy(tau=0.9, k=8, confirm=True)
    model = resolve_model(f"embedded:{LOCAL}")
    agent = create_adaswitch_agent(model, model, policy=policy, max_steps=2)
    path = tmp_path / "run.jsonl"
    result = agent.invoke({"messages": [("user", QUESTION)]}, {"callbacks": [TraceWriter(path)]})
    (trace,) = read_trace(path)
    check_switches(result, trace, policy)
    drafts, verified = trace.of("drafted"), trace.of("verified")
    doubts = [drafts[n]["tokens"][e["handover_at"]]["token"] for n, e in enumerate(verified)
              if "handover_at" in e]  # fmt: skip
    parts = trace.of("assisted")
    assert len(parts) == len(doubts)
    confirmed = [p for p in parts if p["confirmed"]]
    assert confirmed
    for part, doubt in zip(parts, doubts, strict=True):
        assert part["confirmed"] == (part["text"] == doubt)
        if part["confirmed"]:
            # Mostly one token; two where the cloud spells the doubted one in two.
            assert 1 <= part["usage"]["cloud"]["output_tokens"] < policy.k
    cloud = result["usage"]["cloud"]
    assert cloud["output_tokens"] < policy.k * cloud["calls"]
