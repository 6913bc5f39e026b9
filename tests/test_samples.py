"""Sampled versions of each local step, and the disagreement signal read off them (fake
models: the samples are scripted by seed, not drawn from a model)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI
from pydantic import Field, SecretStr

from adaswitch_graph import AlwaysLocal, TraceWriter, Verifier, create_adaswitch_graph
from adaswitch_graph.bench import BenchSetup, parse_sweep, parse_system, run_bench
from adaswitch_graph.calls import SAMPLE_TEMPERATURE, sampling
from adaswitch_graph.datasets import Item
from adaswitch_graph.errors import SamplingError
from adaswitch_graph.models import with_output_limit
from adaswitch_graph.policies import SelfVerifyPolicy
from adaswitch_graph.signals import SAMPLE_FEATURE, sample_disagreement
from tests.conftest import QUESTION, ask
from tests.fakes import GOOD_RUN, asked_step, reply

SAMPLED = {
    # Step 1 (48 / 2 = 24): one of three samples computes another number.
    1: ["Step 1: 48 / 2 = 24 clips.", "Step 1: so May = 24.0", "Step 1: 48 * 2 = 96 clips."],
    # Step 2 (48 + 24 = 72, Answer 72): every sample reaches both numbers.
    2: ["Step 2: 48 + 24 = 72\nAnswer: 72", "Step 2: = 72.\nAnswer: 72", "Step 2: 72 = 72"],
}


class SeededLocal(GenericFakeChatModel):
    """Greedy calls write GOOD_RUN; sampled calls (a temperature and a seed) write
    SAMPLED[step][seed], or raise for the seeds in `failing`."""

    messages: Any = Field(default_factory=lambda: iter(()))
    calls: list[dict[str, Any]] = Field(default_factory=list)
    failing: tuple[int, ...] = ()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(kwargs)
        index = asked_step(messages)
        seed = kwargs.get("seed")
        if seed is None:
            message = GOOD_RUN[index - 1]
        elif seed in self.failing:
            raise ConnectionError(f"sample {seed} failed")
        else:
            message = reply(SAMPLED[index][seed], output_tokens=5)
        return ChatResult(generations=[ChatGeneration(message=message)])


def cloud() -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter(()))  # never called under AlwaysLocal


def test_disagreement_is_the_share_of_samples_missing_a_computed_number() -> None:
    assert sample_disagreement("50 / 60 = 0.8333 hours", ["= 0.833", "x = 5", "none"]) == 2 / 3
    assert sample_disagreement("3 * 4 = 12, 12 + 1 = 13", ["= 12 and = 13", "= 12"]) == 0.5
    assert sample_disagreement("$1,200 = 1200", ["= $1200.00"]) == 0.0
    # Nothing computed, or nothing sampled: nothing can differ.
    assert sample_disagreement("First find the total.", ["= 5"]) == 0.0
    assert sample_disagreement("= 5", []) == 0.0


@pytest.mark.parametrize("use_async", [False, True])
async def test_each_step_is_sampled_and_every_sample_is_paid_for(use_async: bool) -> None:
    local = SeededLocal()
    graph = create_adaswitch_graph(local, cloud(), policy=AlwaysLocal(), samples=3).compile()
    result = await graph.ainvoke(ask()) if use_async else graph.invoke(ask())
    assert [s["signals"][SAMPLE_FEATURE] for s in result["steps"]] == [1 / 3, 0.0]
    assert result["final_answer"] == "72"
    sampled = [c for c in local.calls if "seed" in c]
    assert sorted(c["seed"] for c in sampled) == [0, 0, 1, 1, 2, 2]
    assert {c["temperature"] for c in sampled} == {SAMPLE_TEMPERATURE}
    greedy = [c for c in local.calls if "seed" not in c]
    assert len(greedy) == 2
    # 2 steps x (1 draft + 3 samples); the samples' 5 output tokens each are charged.
    usage = result["usage"]["local"]
    assert usage["calls"] == 8
    drafted = sum(m.usage_metadata["output_tokens"] for m in GOOD_RUN if m.usage_metadata)
    assert usage["output_tokens"] == drafted + 6 * 5


def test_a_failed_sample_is_left_out_and_the_run_goes_on() -> None:
    local = SeededLocal(failing=(2,))
    graph = create_adaswitch_graph(local, cloud(), policy=AlwaysLocal(), samples=3).compile()
    stream = io.StringIO()
    result = graph.invoke(ask(), {"callbacks": [TraceWriter(stream)]})
    drafted = [
        e for e in map(json.loads, stream.getvalue().splitlines()) if e["event"] == "drafted"
    ]
    assert [e["sample_errors"] for e in drafted] == [["ConnectionError: sample 2 failed"]] * 2
    # Step 1 keeps its two good samples, both of which agree.
    assert [s["signals"][SAMPLE_FEATURE] for s in result["steps"]] == [0.0, 0.0]
    assert result["usage"]["local"]["calls"] == 6


def test_a_backend_that_fails_every_sample_stops_the_run_with_the_reason() -> None:
    # As a backend that refuses a per-call seed does: without any sample the sampled
    # verifier could score nothing, and every step would be accepted unseen.
    local = SeededLocal(failing=(0, 1, 2))
    graph = create_adaswitch_graph(local, cloud(), samples=3).compile()
    with pytest.raises(SamplingError, match=r"all 3 sampled calls of step 1 failed.*seed"):
        graph.invoke(ask())


def test_an_ollama_model_samples_through_its_options() -> None:
    # Ollama's client refuses `temperature` and `seed` as call arguments: bound that
    # way, every sample failed. ChatOllama sends its settings as the request's options.
    local = ChatOllama(model="qwen2.5-coder:0.5b", temperature=0, num_predict=64)
    sampled = sampling(local, 2)
    assert isinstance(sampled, ChatOllama)
    params = sampled._chat_params([])
    assert params["options"] == {"num_predict": 64, "temperature": SAMPLE_TEMPERATURE, "seed": 2}
    assert "seed" not in params and "temperature" not in params
    assert local.temperature == 0  # the draft itself stays greedy


def test_a_used_model_s_copies_are_cached_apart_from_it() -> None:
    # langchain-core fixes a model's cache key at its first call and model_copy kept
    # it: a cloud part limited to k tokens was looked up as a full step, and every
    # sampling seed as the greedy draft.
    url = "http://127.0.0.1:9/v1"
    model = ChatOpenAI(model="m", api_key=SecretStr("k"), base_url=url, max_completion_tokens=256)
    key = model._get_llm_string()
    copies: list[Any] = [with_output_limit(model, 8), sampling(model, 0), sampling(model, 1)]
    assert len({key, *(copy._get_llm_string() for copy in copies)}) == 4
    assert model._get_llm_string() == key and model.max_tokens == 256


def test_without_samples_nothing_is_sampled() -> None:
    local = SeededLocal()
    graph = create_adaswitch_graph(local, cloud(), policy=AlwaysLocal()).compile()
    result = graph.invoke(ask())
    assert all(SAMPLE_FEATURE not in s["signals"] for s in result["steps"])
    assert local.calls == [{}, {}]


def test_sampled_graphs_default_to_the_verifier_that_weighs_disagreement() -> None:
    stream = io.StringIO()
    graph = create_adaswitch_graph(SeededLocal(), cloud(), policy=AlwaysLocal(), samples=3)
    graph.compile().invoke(ask(), {"callbacks": [TraceWriter(stream)]})
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert SAMPLE_FEATURE in events[0]["verifier"]["coefficients"]
    assert events[0]["verifier"] == Verifier.default(sampled=True).to_dict()
    assert SAMPLE_FEATURE not in Verifier.default().coefficients
    drafted = next(e for e in events if e["event"] == "drafted")
    assert drafted["samples"] == ["48 / 2 = 24 clips.", "so May = 24.0", "48 * 2 = 96 clips."]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_a_bad_sample_count_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="samples must be an int >= 0"):
        create_adaswitch_graph(SeededLocal(), cloud(), samples=bad)


def test_bench_specs_of_sampled_systems() -> None:
    system = parse_system("sampled-selfverify:0.5")
    assert system.sampled and system.kind == "adaswitch"
    assert isinstance(system.policy, SelfVerifyPolicy) and system.policy.threshold == 0.5
    assert isinstance(parse_system("sampled-local").policy, AlwaysLocal)
    assert not parse_system("selfverify:0.5").sampled
    assert [s.sampled for s in parse_sweep("sampled-selfverify:0.4,0.6")] == [True, True]
    with pytest.raises(ValueError, match="unknown policy spec"):
        parse_system("sampled-nonsense")


def test_a_bench_samples_the_steps_of_its_sampled_systems_only(tmp_path: Path) -> None:
    items = [Item("q1", QUESTION, "72", "number")]
    local = SeededLocal()
    # A verifier of one's own that weighs the samples: the local baseline runs without.
    verifier = Verifier.default(sampled=True)
    setup = BenchSetup(local=local, cloud=cloud(), samples=2, reuse=False, verifier=verifier)
    systems = [parse_system("local"), parse_system("sampled-local")]
    out = tmp_path / "r.jsonl"
    records = {r["system"]: r for r in run_bench(items, systems, out, setup) if "item" in r}
    plain, sampled = records["local"], records["sampled-local"]
    assert all(SAMPLE_FEATURE not in s["signals"] for s in plain["trajectory"])
    assert [s["signals"][SAMPLE_FEATURE] for s in sampled["trajectory"]] == [0.0, 0.0]
    assert (plain["local_calls"], sampled["local_calls"]) == (2, 6)
