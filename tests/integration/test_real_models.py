"""The graph, the CLI and the Ollama path with the real bundled models."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ollama
import pytest
from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.prompts import ChatPromptTemplate

from adaswitch_graph import (
    AdaSwitchChatModel,
    AlwaysCloud,
    AlwaysLocal,
    SelfVerifyPolicy,
    create_adaswitch_agent,
)
from adaswitch_graph.bench import BenchSetup, System, parse_sweep, run_bench
from adaswitch_graph.calls import SAMPLE_TEMPERATURE
from adaswitch_graph.datasets import parse_item
from adaswitch_graph.embedded import embedded_chat_model, embedded_server
from adaswitch_graph.models import resolve_model, supports_prefill
from adaswitch_graph.signals import SAMPLE_FEATURE
from adaswitch_graph.steps import extract_answer
from tests.servers import CountingProxy, OllamaShim

SIMPLE = "Tom has 3 apples and buys 5 more. How many apples does he have now?"
LOCAL = "qwen2.5-coder-0.5b"
TINY = "smollm2-135m"


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`adaswitch ARGS` in a fresh process, with `env` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "adaswitch_graph", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "160", **env},
    )


def test_cli_ask_shows_steps_answer_and_usage() -> None:
    done = cli("ask", SIMPLE, "--max-steps", "6")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Step 1:" in out
    assert "Answer:" in out and "8" in out.split("Answer:")[-1]
    assert "usage" in out and "local" in out and "cloud" in out
    assert "of the output tokens" in out


def test_cli_json_result() -> None:
    done = cli("ask", SIMPLE, "--json", "--policy", "cloud", "--max-cloud-calls", "1")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "8" in result["final_answer"]
    assert result["usage"]["cloud"]["calls"] == 1
    assert result["steps"][0]["author"] == "cloud"
    assert 0 < result["cloud_output_share"] < 1


def test_logprobs_reach_self_verify() -> None:
    local = resolve_model(f"embedded:{LOCAL}")
    assert supports_prefill(local)
    agent = create_adaswitch_agent(local, local, policy=AlwaysLocal(), max_steps=3)
    result = agent.invoke({"messages": [("user", SIMPLE)]})
    assert result["steps"]
    for step in result["steps"]:
        assert step["signals"]["min_logprob"] < 0
        assert step["signals"]["min_logprob"] <= step["signals"]["mean_logprob"] <= 0
        assert step["signals"]["digits_logprob"] <= step["signals"]["min_digit_logprob"] <= 0
        assert 0 < step["error_probability"] < 1
        assert not step["text"].startswith("Step")  # the prefill was not kept twice
    assert result["usage"]["local"]["output_tokens"] > 0


def test_streaming_tokens_keeps_the_signals() -> None:
    # stream_mode="messages" makes LangChain stream each call: the chunks must still
    # carry the log-probabilities and the usage, or the verifier would fall back to
    # asking the model's verdict.
    local = resolve_model(f"embedded:{LOCAL}")
    agent = create_adaswitch_agent(local, local, policy=AlwaysLocal(), max_steps=2)
    streamed: list[str] = []
    final: dict[str, Any] = {}
    parts: Iterator[Any] = agent.stream(
        {"messages": [("user", SIMPLE)]}, stream_mode=["messages", "values"]
    )
    for mode, chunk in parts:
        if mode == "messages":
            streamed.append(chunk[1]["langgraph_node"])
        else:
            final = chunk
    assert "local_reason" in streamed and len(streamed) > len(final["steps"])
    for step in final["steps"]:
        assert step["signals"]["min_logprob"] < 0 and "p_correct_judge" not in step["signals"]
    assert final["usage"]["local"]["output_tokens"] > 0


def test_judge_reads_the_real_models_verdict() -> None:
    local = resolve_model(f"embedded:{LOCAL}")
    agent = create_adaswitch_agent(local, local, policy=AlwaysLocal(), max_steps=2, judge=True)
    result = agent.invoke({"messages": [("user", SIMPLE)]})
    for step in result["steps"]:
        assert 0.0 <= step["signals"]["p_correct_judge"] <= 1.0


@pytest.mark.parametrize(("policy", "per_step"), [(AlwaysLocal(), 0), (AlwaysCloud(), 1)])
def test_cloud_requests_counted_at_the_server(policy: Any, per_step: int) -> None:
    # SmolLM2-135M is enough for plumbing: the test counts requests, not quality.
    server = embedded_server(TINY)
    with CountingProxy(server.url) as proxy:
        cloud = embedded_chat_model(TINY, base_url=f"{proxy.url}/v1", max_tokens=48)
        local = embedded_chat_model(TINY, max_tokens=48)
        agent = create_adaswitch_agent(local, cloud, policy=policy, max_steps=3)
        result = agent.invoke({"messages": [("user", SIMPLE)]})
    assert result["steps"]
    assert sum(proxy.requests.values()) == per_step * len(result["steps"])
    assert result["usage"].get("cloud", {}).get("calls", 0) == per_step * len(result["steps"])


def with_counted_cloud(question: str, **graph_kwargs: Any) -> tuple[Any, CountingProxy]:
    """Run the graph with the 0.5B as the local model and, behind a counting proxy, as
    the cloud: what the cloud is sent and how often, not the quality of its steps."""
    server = embedded_server(LOCAL)
    with CountingProxy(server.url) as proxy:
        cloud = embedded_chat_model(LOCAL, base_url=f"{proxy.url}/v1")
        local = resolve_model(f"embedded:{LOCAL}")
        agent = create_adaswitch_agent(local, cloud, **graph_kwargs)
        return agent.invoke({"messages": [("user", question)]}), proxy


def test_a_real_cloud_that_takes_over_writes_every_later_step_undrafted() -> None:
    # Threshold 0 flags step 1, so the cloud takes over from there.
    policy = SelfVerifyPolicy(threshold=0.0, handover=True)
    result, proxy = with_counted_cloud(SIMPLE, policy=policy, max_steps=4)
    steps = result["steps"]
    assert len(steps) >= 2 and all(s["author"] == "cloud" for s in steps)
    assert steps[0]["draft"] and all(s["draft"] == "" for s in steps[1:])
    assert sum(proxy.requests.values()) == result["usage"]["cloud"]["calls"] == len(steps)
    # The local model drafted step 1 only, and stated the answer if no step did.
    asked_for_answer = extract_answer(steps[-1]["text"]) is None
    assert result["usage"]["local"]["calls"] == 1 + asked_for_answer
    assert result["final_answer"]


def test_a_real_cloud_that_cannot_continue_is_asked_afresh_without_the_draft() -> None:
    # A hosted API is re-prompted (cloud_prefill=False); the 0.5B stands in for it.
    policy = SelfVerifyPolicy(threshold=0.0)  # flags every step
    result, proxy = with_counted_cloud(SIMPLE, policy=policy, max_steps=2, cloud_prefill=False)
    steps = result["steps"]
    assert len(proxy.bodies) == result["usage"]["cloud"]["calls"] == len(steps)
    for step, body in zip(steps, proxy.bodies, strict=True):
        asked = body["messages"][-1]
        assert asked["role"] == "user"
        assert asked["content"].endswith(f"Write Step {step['index']}.")
        assert step["draft"] and step["draft"] not in asked["content"]
        assert step["author"] == "cloud" and step["text"]
        assert not step["text"].startswith("Step")  # the label is not kept in the text
    sent = sum(len(m["content"]) for b in proxy.bodies for m in b["messages"])
    assert result["usage"]["cloud"]["input_chars"] == sent


def test_a_question_longer_than_the_gate_never_reaches_a_real_cloud() -> None:
    # Threshold 0 flags every step; the question is longer than the gate allows.
    policy = SelfVerifyPolicy(threshold=0.0, max_question_chars=len(SIMPLE) - 1)
    result, proxy = with_counted_cloud(SIMPLE, policy=policy, max_steps=3)
    assert proxy.bodies == [] and "cloud" not in result["usage"]
    assert result["steps"] and all(s["author"] == "local" for s in result["steps"])
    assert all(s["error_probability"] is not None for s in result["steps"])


def test_a_real_cloud_is_stopped_at_the_request_line_of_a_prompt_of_ones_own() -> None:
    request = "Now give step {index} of the solution."
    custom = ChatPromptTemplate.from_messages([("human", "{question}\n{solution}\n" + request)])
    policy = SelfVerifyPolicy(threshold=0.0)
    result, proxy = with_counted_cloud(
        SIMPLE, policy=policy, max_steps=1, cloud_prefill=False, prompts={"cloud": custom}
    )
    (body,) = proxy.bodies
    assert body["messages"][-1]["content"].endswith(request.format(index=1))
    assert body["stop"] == ["\nStep ", "\nNow give step ", "\nWrite only Step "]
    (step,) = result["steps"]
    assert step["author"] == "cloud" and step["text"]
    assert "give step" not in step["text"]


LOOPS = (
    "At 8:00, 5000 people lined up at a polling station to cast their vote on election "
    "day. By midday 2/5 of the people had voted and by 16:00 2/3 of the remaining people "
    "had voted. What's the number of those who had not voted by 16:00?"
)
"""GSM8K test item 562: the bundled 0.5B restates one step on it, greedy, until its
prompt outgrows the context (it did in a bench before runs ended on a repeat)."""


def test_a_real_model_that_restates_a_step_is_stopped() -> None:
    local = resolve_model(f"embedded:{LOCAL}")
    agent = create_adaswitch_agent(local, local, policy=AlwaysLocal())
    result = agent.invoke({"messages": [("user", LOOPS)]})
    steps = result["steps"]
    assert steps[-1]["signals"]["repeats"] == 1.0
    assert steps[-1]["text"] in [s["text"] for s in steps[:-1]]
    assert not any(s["signals"]["repeats"] for s in steps[:-1])
    assert result["final_answer"]


def test_a_real_cloud_that_restates_a_step_ends_the_run() -> None:
    # The 0.5B stands in for a cloud that loops: taking over every step of LOOPS, it is
    # asked exactly what the local model is asked there, and restates a step the same way.
    max_steps = 30
    result, proxy = with_counted_cloud(LOOPS, policy=AlwaysCloud(), max_steps=max_steps)
    steps = result["steps"]
    texts = [s["text"] for s in steps]
    assert all(s["author"] == "cloud" and s["draft"] == "" for s in steps)
    assert texts[-1] in texts[:-1] and len(set(texts[:-1])) == len(texts) - 1
    assert len(steps) < max_steps
    assert sum(proxy.requests.values()) == result["usage"]["cloud"]["calls"] == len(steps)
    assert result["final_answer"]


def test_sampled_steps_reach_the_real_server_and_the_signal() -> None:
    server = embedded_server(LOCAL)
    with CountingProxy(server.url) as proxy:
        local = embedded_chat_model(LOCAL, base_url=f"{proxy.url}/v1", max_tokens=64)
        agent = create_adaswitch_agent(local, local, policy=AlwaysLocal(), max_steps=2, samples=2)
        result = agent.invoke({"messages": [("user", SIMPLE)]})
    steps = result["steps"]
    assert steps
    drafts = [b for b in proxy.bodies if "seed" not in b]
    sampled = [b for b in proxy.bodies if "seed" in b]
    # Each step: the greedy draft and two samples at their own seeds (a closing call
    # for the answer, if any, is not sampled).
    assert len(drafts) in (len(steps), len(steps) + 1)
    assert sorted(b["seed"] for b in sampled) == sorted([0, 1] * len(steps))
    assert {b["temperature"] for b in sampled} == {SAMPLE_TEMPERATURE}
    assert {b.get("temperature") for b in drafts} == {0.0}
    for step in steps:
        assert step["signals"][SAMPLE_FEATURE] in (0.0, 0.5, 1.0)
        assert 0 < step["error_probability"] < 1
    assert result["usage"]["local"]["calls"] == len(proxy.bodies)


def test_ollama_path_end_to_end() -> None:
    name = "qwen2.5-coder:0.5b"
    with OllamaShim(name, upstream=embedded_server(LOCAL).url) as shim:
        local = resolve_model(f"ollama:{name}", base_url=shim.url)
        assert type(local).__name__ == "ChatOllama" and supports_prefill(local)
        agent = create_adaswitch_agent(local, local, policy=AlwaysLocal(), max_steps=3, judge=True)
        result = agent.invoke({"messages": [("user", SIMPLE)]})
        first = shim.chat_requests[0]
        assert first["stream"] is True and first["logprobs"] is True
        assert first["messages"][-1] == {"role": "assistant", "content": "Step 1:"}
        plain = ollama.Client(host=shim.url).chat(
            model=name,
            messages=[{"role": "user", "content": "Say hi."}],
            stream=False,
            logprobs=True,
            options={"num_predict": 5, "temperature": 0},
        )
    assert plain.logprobs and plain.logprobs[0].logprob <= 0
    assert result["steps"]
    for step in result["steps"]:
        assert step["signals"]["min_logprob"] < 0  # logprobs came through ChatOllama
        assert 0.0 <= step["signals"]["p_correct_judge"] <= 1.0
        assert step["text"] and not step["text"].startswith("Step")
    assert result["usage"]["local"]["output_tokens"] > 0


def test_ollama_samples_reach_the_server_with_their_seeds() -> None:
    name = "qwen2.5-coder:0.5b"
    with OllamaShim(name, upstream=embedded_server(LOCAL).url) as shim:
        local = resolve_model(f"ollama:{name}", base_url=shim.url)
        agent = create_adaswitch_agent(local, local, policy=AlwaysLocal(), max_steps=2, samples=2)
        result = agent.invoke({"messages": [("user", SIMPLE)]})
    steps = result["steps"]
    assert steps
    options = [r["options"] for r in shim.chat_requests]
    sampled = [o for o in options if "seed" in o]
    assert sorted(o["seed"] for o in sampled) == sorted([0, 1] * len(steps))
    assert {o["temperature"] for o in sampled} == {SAMPLE_TEMPERATURE}
    assert {o["temperature"] for o in options if "seed" not in o} == {0.0}
    for step in steps:
        assert step["signals"][SAMPLE_FEATURE] in (0.0, 0.5, 1.0)


def test_an_ollama_bench_reuses_the_calls_its_systems_share(tmp_path: Path) -> None:
    name = "qwen2.5-coder:0.5b"
    items = [parse_item({"question": SIMPLE, "answer": "#### 8"}, "simple-0")]
    systems = [System("local", "local"), *parse_sweep("selfverify:0.3,0.9")]
    with OllamaShim(name, upstream=embedded_server(LOCAL).url) as shim:
        model = resolve_model(f"ollama:{name}", base_url=shim.url)
        setup = BenchSetup(local=model, cloud=model, max_steps=3, reuse=True)
        records = [r for r in run_bench(items, systems, tmp_path / "r.jsonl", setup) if "item" in r]
        made = len(shim.chat_requests)
    assert len(records) == 3 and not any(r["error"] for r in records)
    charged = sum(r["local_calls"] + r["cloud_calls"] for r in records)
    # The three systems share the local drafts up to a doubted step: each is charged
    # for them, the server computes them once.
    assert made < charged
    assert made + sum(r["cached_calls"] for r in records) == charged


def test_a_real_chat_model_reports_what_its_servers_read_from_their_prompt_caches() -> None:
    model = AdaSwitchChatModel(
        local_model=f"embedded:{LOCAL}",
        cloud_model="embedded:qwen2.5-coder-1.5b",
        graph_kwargs={"max_steps": 3},
    )
    with get_usage_metadata_callback() as counter:
        message = model.invoke(SIMPLE)
    # Each local call after the first resends the question and the steps before it,
    # which its server kept in its prompt cache.
    usage = message.response_metadata["usage"]
    cached = sum(usage[side]["cached_input_tokens"] for side in ("local", "cloud"))
    assert 0 < cached < counter.usage_metadata["adaswitch"]["input_tokens"]
    assert counter.usage_metadata["adaswitch"]["input_token_details"]["cache_read"] == cached


def test_quickstart_example_runs() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"
    done = subprocess.run(
        [sys.executable, str(example), SIMPLE], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr
    assert "Step 1:" in done.stdout
    assert "8" in done.stdout.split("answer:")[-1].splitlines()[0]
    assert "local:" in done.stdout


@pytest.mark.parametrize("context", [256, 1024])
def test_adaswitch_ctx_sets_the_context_a_slot_holds(context: int) -> None:
    # A fresh process, since the server of a model starts once per process.
    code = (
        "from adaswitch_graph.embedded import embedded_chat_model\n"
        f"reply = embedded_chat_model({TINY!r}, max_tokens=4).invoke('apple ' * 300)\n"
        "print('tokens in:', reply.usage_metadata['input_tokens'])\n"
    )
    env = {**os.environ, "ADASWITCH_CTX": str(context), "ADASWITCH_PARALLEL": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env
    )
    if context == 256:
        assert done.returncode != 0
        assert "exceeds the available context size (256 tokens)" in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert int(done.stdout.split("tokens in:")[1]) > 256


def test_ask_says_how_to_make_room_when_the_question_does_not_fit() -> None:
    pair = ("--local", f"embedded:{TINY}", "--cloud", f"embedded:{TINY}")
    done = cli("ask", SIMPLE * 12, *pair, ADASWITCH_CTX="256", ADASWITCH_PARALLEL="1")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    text = " ".join(done.stderr.split())
    assert text.startswith("error:") and "context size (256 tokens)" in text
    assert "ADASWITCH_CTX=4096" in text


def test_ask_says_in_one_line_that_a_models_server_is_not_there() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    pair = ("--local", "openai:qwen", "--local-base-url", url, "--cloud", f"embedded:{TINY}")
    done = cli("ask", SIMPLE, *pair, OPENAI_API_KEY="sk-none")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    text = " ".join(done.stderr.split())
    assert text.startswith("error: a model call failed in local_reason:"), text
    assert "Connection error" in text and "base URL" in text
