"""The benchmark runner with scripted fake models: systems, records, resume, reuse."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_ollama import ChatOllama

from adaswitch_graph.bench import (
    BenchSetup,
    System,
    arun_bench,
    cascade_escalations,
    parse_sweep,
    parse_system,
    read_records,
    run_bench,
)
from adaswitch_graph.callcache import CallCache, keyed_by_settings
from adaswitch_graph.calls import sampling
from adaswitch_graph.datasets import Item
from adaswitch_graph.errors import AdaSwitchError
from adaswitch_graph.models import with_output_limit
from adaswitch_graph.policies import RandomPolicy, SelfVerifyPolicy
from adaswitch_graph.signals import token_logprobs
from tests.conftest import QUESTION, TEST_VERIFIER
from tests.fakes import (
    CONFIDENT,
    SHAKY_RUN,
    UNSURE,
    ScriptedChatModel,
    asked_step,
    reply,
    scripted_cloud,
    scripted_local,
)

ITEMS = [Item(f"q{a}", f"What is {a} plus 10?", str(a + 10), "number") for a in range(1, 7)]
"""Local gets the odd ones wrong (and is unsure of them); the cloud gets all right."""
QS = [item.id for item in ITEMS]


def quiz_model(role: str, fail_on: str | None = None) -> ScriptedChatModel:
    """A fake that answers "What is A plus 10?" in one step: the cloud always right,
    the local model off by one, with a low-confidence token, when A is odd."""

    def respond(messages: list[BaseMessage], _: int) -> AIMessage | str:
        prompt = "\n".join(m.text for m in messages)
        a = int(re.search(r"What is (\d+) plus 10", prompt)[1])  # type: ignore[index]
        if fail_on and f"What is {fail_on} plus" in prompt:
            raise RuntimeError("server went away")
        if "Give only the final answer" in prompt:
            return "Answer: 0"
        index = asked_step(messages)
        if index > 1:
            return ""
        wrong = role == "local" and a % 2 == 1
        total = a + 10 + (1 if wrong else 0)
        return reply(
            f"Step 1: {a} + 10 = {total}\nAnswer: {total}",
            min_logprob=UNSURE if wrong else CONFIDENT,
            output_tokens=10,
        )

    return ScriptedChatModel(respond=respond)


def setup(**kwargs: Any) -> BenchSetup:
    kwargs.setdefault("reuse", False)
    return BenchSetup(
        local=kwargs.pop("local", quiz_model("local")),
        cloud=kwargs.pop("cloud", quiz_model("cloud")),
        verifier=TEST_VERIFIER,
        concurrency=2,
        **kwargs,
    )


def by_system(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if not record.get("meta"):
            grouped.setdefault(record["system"], []).append(record)
    return grouped


def accuracy(records: list[dict[str, Any]]) -> float:
    return float(sum(r["correct"] for r in records) / len(records))


def test_every_system_runs_on_the_same_items(tmp_path: Path) -> None:
    systems = [
        parse_system(s) for s in ["local", "cloud", "selfverify:0.5", "random", "cascade", "oracle"]
    ]
    records = by_system(run_bench(ITEMS, systems, tmp_path / "r.jsonl", setup()))
    assert {s: len(rs) for s, rs in records.items()} == {s.name: 6 for s in systems}
    assert accuracy(records["local"]) == 0.5
    assert accuracy(records["cloud"]) == 1.0
    # Self-verification flags exactly the unsure (wrong) steps: 3 cloud calls, all fixed.
    assert accuracy(records["selfverify:0.5"]) == 1.0
    assert sum(r["cloud_calls"] for r in records["selfverify:0.5"]) == 3
    # Random switching runs at the rate self-verification used: half of the steps.
    assert {r["rate"] for r in records["random"]} == {0.5}
    # The cascade escalates the least confident questions up to the same cloud spend,
    # which here are exactly the wrong ones: it matches the oracle.
    escalated = {r["item"] for r in records["cascade"] if r["escalated"]}
    assert escalated == {"q1", "q3", "q5"}
    assert accuracy(records["cascade"]) == accuracy(records["oracle"]) == 1.0
    cloud = {r["item"]: r for r in records["cloud"]}
    for r in records["cascade"]:
        expected = cloud[r["item"]]["cloud_output_tokens"] if r["escalated"] else 0
        assert r["cloud_output_tokens"] == expected
        assert r["local_output_tokens"] > 0  # local answered every question first


def test_the_cloud_alone_is_charged_as_cloud(tmp_path: Path) -> None:
    records = by_system(
        run_bench(ITEMS[:2], [System("cloud", "cloud")], tmp_path / "r.jsonl", setup())
    )
    for r in records["cloud"]:
        assert r["local_calls"] == 0 and r["local_output_tokens"] == 0
        assert r["cloud_calls"] == 1 and r["cloud_output_tokens"] == 10


def test_reading_a_file_that_is_not_bench_results_says_which_line(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_bench(ITEMS[:1], [System("local", "local")], out, setup(local=quiz_model("local")))
    good = out.read_text()
    for stranger in ({"event": "step", "index": 1}, [1, 2], {"system": "local"}):
        out.write_text(good + json.dumps(stranger) + "\n")
        with pytest.raises(AdaSwitchError, match=r"line 3 is not a bench record"):
            read_records(out)
        # Nor does a run append its items to it.
        with pytest.raises(AdaSwitchError, match=r"line 3 is not a bench record"):
            run_bench(ITEMS, [System("local", "local")], out, setup(local=quiz_model("local")))


def test_a_rerun_resumes_and_retries_only_what_failed(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    broken = quiz_model("local", fail_on="3")
    run_bench(ITEMS, [System("local", "local")], out, setup(local=broken))
    first = by_system(read_records(out))["local"]
    failed = [r for r in first if r["error"]]
    assert [r["item"] for r in failed] == ["q3"]
    assert "server went away" in failed[0]["error"] and not failed[0]["correct"]
    # Simulate an interruption: the last record was cut mid-line.
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:4]) + "\n" + lines[4][:20])
    fixed = quiz_model("local")
    records = by_system(run_bench(ITEMS, [System("local", "local")], out, setup(local=fixed)))
    assert sorted(r["item"] for r in records["local"]) == [i.id for i in ITEMS]
    assert not any(r["error"] for r in records["local"])
    finished_before = {json.loads(line)["item"] for line in lines[:4] if "meta" not in line}
    asked = {re.search(r"What is (\d+)", c["messages"][-1].text)[1] for c in fixed.calls}  # type: ignore[index]
    assert {f"q{a}" for a in asked} == {i.id for i in ITEMS} - (finished_before - {"q3"})


def test_a_run_that_fails_midway_keeps_its_steps_and_its_cloud_calls(tmp_path: Path) -> None:
    def local(messages: list[BaseMessage], _: int) -> AIMessage | str:
        if asked_step(messages) > 1:
            raise RuntimeError("request exceeds the available context size")
        return reply("Step 1: 3 + 10 = 14", min_logprob=UNSURE, output_tokens=7)

    def cloud(messages: list[BaseMessage], _: int) -> AIMessage | str:
        return reply("Step 1: 3 + 10 = 13", min_logprob=CONFIDENT, output_tokens=9)

    models = setup(local=ScriptedChatModel(respond=local), cloud=ScriptedChatModel(respond=cloud))
    run_bench(ITEMS[2:3], [parse_system("selfverify:0.5")], tmp_path / "r.jsonl", models)
    (record,) = by_system(read_records(tmp_path / "r.jsonl"))["selfverify:0.5"]
    assert "exceeds the available context size" in record["error"] and not record["correct"]
    assert [(s["author"], s["text"]) for s in record["trajectory"]] == [("cloud", "3 + 10 = 13")]
    assert record["steps"] == 1 and record["answer"] is None
    assert (record["cloud_calls"], record["cloud_output_tokens"]) == (1, 9)
    assert (record["local_calls"], record["local_output_tokens"]) == (1, 7)


def test_a_sweep_reuses_the_calls_systems_share(tmp_path: Path) -> None:
    local, cloud = quiz_model("local"), quiz_model("cloud")
    systems = [System("local", "local"), *parse_sweep("selfverify:0.5,0.9")]
    records = by_system(
        run_bench(ITEMS, systems, tmp_path / "r.jsonl", setup(local=local, cloud=cloud, reuse=True))
    )
    # Every local draft is the same in all three systems, so it is made once...
    assert len(local.calls) == len(ITEMS)
    # ...yet every system is charged for it.
    for system in ("local", "selfverify:0.5", "selfverify:0.9"):
        assert all(r["local_calls"] == 1 for r in records[system])
    assert all(r["cached_calls"] >= 1 for r in records["selfverify:0.9"])
    assert {r["sweep"] for r in records["selfverify:0.5"]} == {"selfverify"}


class UnkeyedChatModel(ScriptedChatModel):
    """A fake that langchain-core's call cache keys by its class alone, as ChatOllama."""

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return False

    def _get_llm_string(self, stop: list[str] | None = None, **kwargs: Any) -> str:
        return BaseChatModel._get_llm_string(self, stop, **kwargs)


def test_models_that_are_not_serializable_are_cached_by_their_settings(tmp_path: Path) -> None:
    # Keyed by their class alone, cloud alone (the local model's prompts) was served
    # the local model's replies; so their calls were not cached, and a sweep on Ollama
    # made every call again.
    local, cloud = (
        UnkeyedChatModel(respond=quiz_model(role).respond) for role in ("local", "cloud")
    )
    assert local._get_llm_string() == cloud._get_llm_string()
    systems = [
        System("local", "local"),
        System("cloud", "cloud"),
        *parse_sweep("selfverify:0.5,0.9"),
    ]
    records = by_system(
        run_bench(ITEMS, systems, tmp_path / "r.jsonl", setup(local=local, cloud=cloud, reuse=True))
    )
    assert all(r["correct"] for r in records["cloud"])
    assert not any(r["cached_calls"] for r in records["cloud"])
    # The local drafts of the three systems that share them are made once.
    assert len(local.calls) == len(ITEMS)
    assert all(r["cached_calls"] >= 1 for r in records["selfverify:0.9"])


def test_an_ollama_model_is_keyed_by_its_model_and_settings() -> None:
    base = keyed_by_settings(ChatOllama(model="qwen2.5-coder:0.5b", temperature=0))
    other = keyed_by_settings(ChatOllama(model="qwen2.5-coder:1.5b", temperature=0))
    assert isinstance(base, ChatOllama) and keyed_by_settings(base) is base
    copies: list[Any] = [other, with_output_limit(base, 4), sampling(base, 0), sampling(base, 1)]
    keys = {model._get_llm_string() for model in [base, *copies]}
    assert len(keys) == 5
    same = keyed_by_settings(ChatOllama(model="qwen2.5-coder:0.5b", temperature=0))
    assert same._get_llm_string() == base._get_llm_string()
    assert base._get_llm_string(stop=["x"]) != base._get_llm_string()


def test_a_reply_holding_a_clients_own_types_is_cached_as_their_dicts() -> None:
    from langchain_core.outputs import ChatGeneration
    from pydantic import BaseModel

    class Logprob(BaseModel):  # as the Ollama client's
        token: str
        logprob: float

    logprobs = [Logprob(token="8", logprob=-0.25)]
    message = AIMessage(content="8", response_metadata={"logprobs": logprobs})
    cache = CallCache()
    cache.update("prompt", "model", [ChatGeneration(message=message)])
    (found,) = cache.lookup("prompt", "model") or []
    assert isinstance(found, ChatGeneration)
    assert token_logprobs(found.message) == [{"token": "8", "logprob": -0.25}]
    with pytest.raises(TypeError, match="a object in a reply cannot be cached"):
        cache.update("p", "m", [ChatGeneration(message=AIMessage("x", foo=object()))])


async def test_the_bench_is_async_and_honours_concurrency(tmp_path: Path) -> None:
    records = await arun_bench(ITEMS, [System("local", "local")], tmp_path / "r.jsonl", setup())
    meta = [r for r in records if r.get("meta")]
    assert meta[0]["items_run"] == 6 and meta[0]["concurrency"] == 2
    assert meta[0]["peak_rss_mb"] > 0
    assert (meta[0]["local"], meta[0]["cloud"]) == (None, None)  # model objects, unnamed


def test_each_run_records_the_names_of_its_models(tmp_path: Path) -> None:
    names = ("embedded:qwen2.5-coder-0.5b", "embedded:qwen2.5-coder-1.5b")
    out = tmp_path / "r.jsonl"
    records = run_bench(ITEMS[:2], [System("local", "local")], out, setup(model_names=names))
    assert [(r["local"], r["cloud"]) for r in records if r.get("meta")] == [names]
    assert not [r for r in records if "prices" in r]  # none given, none recorded


def test_each_run_records_the_prices_it_was_given(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    prices = {"openai:gpt-4o": (2.5, 10.0)}
    records = run_bench(ITEMS[:2], [System("local", "local")], out, setup(prices=prices))
    assert [r["prices"] for r in records if r.get("meta")] == [{"openai:gpt-4o": [2.5, 10.0]}]


def test_system_specs() -> None:
    assert parse_system("local") == System("local", "local")
    sv = parse_system("selfverify:0.3")
    assert sv.kind == "adaswitch" and sv.policy == SelfVerifyPolicy(0.3)
    assert parse_system("random:0.2").policy == RandomPolicy(0.2)
    assert [s.name for s in parse_sweep("selfverify:0.1, 0.2")] == [
        "selfverify:0.1",
        "selfverify:0.2",
    ]
    gated = parse_sweep("selfverify:0.3,0.4:300")
    assert [s.policy for s in gated] == [
        SelfVerifyPolicy(0.3, max_question_chars=300),
        SelfVerifyPolicy(0.4, max_question_chars=300),
    ]
    assert gated[0].name == "selfverify:0.3:300"
    assert {s.sweep for s in gated} == {"selfverify, questions <= 300 chars"}
    with pytest.raises(ValueError, match="POLICY:T1,T2"):
        parse_sweep("selfverify")
    with pytest.raises(ValueError, match="unknown policy spec") as unknown:
        parse_system("smart")
    assert "or a system of the bench: local, cloud, random, random-spend" in str(unknown.value)
    with pytest.raises(ValueError, match="bad policy spec") as bad:
        parse_system("selfverify:x")
    assert "system of the bench" not in str(bad.value)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "no systems"),
        (["local", "local"], "listed twice"),
        (["local", "cloud", "random"], "match the spend of an AdaSwitch system"),
        (["local", "oracle"], "list both"),
        (["selfverify:0.5", "random-spend"], "list random too"),
    ],
)
def test_bad_system_lists_are_refused(tmp_path: Path, names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_bench(ITEMS, [parse_system(n) for n in names], tmp_path / "r.jsonl", setup())


def test_match_must_name_a_system(tmp_path: Path) -> None:
    systems = [parse_system(n) for n in ("local", "selfverify:0.5", "random")]
    with pytest.raises(ValueError, match=r"--match .selfverify:0\.4. is not one"):
        run_bench(ITEMS, systems, tmp_path / "r.jsonl", setup(match="selfverify:0.4"))


def test_random_needs_finished_items_to_match(tmp_path: Path) -> None:
    broken = quiz_model("local", fail_on="1")
    systems = [parse_system(n) for n in ("selfverify:0.5", "random")]
    with pytest.raises(AdaSwitchError, match="no finished items"):
        run_bench(ITEMS[:1], systems, tmp_path / "r.jsonl", setup(local=broken))


def finished(system: str, item: str, cloud_calls: int, cloud_output_tokens: int) -> str:
    """A finished item's record, as an earlier run of the bench wrote it."""
    record = {"system": system, "item": item, "steps": 1, "error": None, "correct": True}
    record.update(cloud_calls=cloud_calls, cloud_output_tokens=cloud_output_tokens)
    return json.dumps(record)


def test_random_spend_scales_the_rate_to_the_matched_spend(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    # On q1-q4 the system sent half of its steps to the cloud and spent 30 tokens;
    # random, at that rate, spent 20 (its q5 lies outside the items, and counts not).
    spends = {"q1": 10, "q3": 20}
    rows = [finished("selfverify:0.5", i, int(i in spends), spends.get(i, 0)) for i in QS[:4]]
    rows += [finished("random", i, int(i == "q2"), 20 * (i == "q2")) for i in QS[:4]]
    rows.append(finished("random", "q5", 5, 100))
    out.write_text("\n".join(rows) + "\n")
    systems = [parse_system(n) for n in ("selfverify:0.5", "random", "random-spend")]
    records = by_system(run_bench(ITEMS[:4], systems, out, setup()))
    assert [r["rate"] for r in records["random-spend"]] == [pytest.approx(0.5 * 30 / 20)] * 4
    assert records["random-spend"][0]["policy"]["type"] == "RandomPolicy"


def test_random_spend_needs_random_to_have_spent(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    rows = [finished("selfverify:0.5", "q1", 1, 10), finished("random", "q1", 0, 0)]
    out.write_text("\n".join(rows) + "\n")
    systems = [parse_system(n) for n in ("selfverify:0.5", "random", "random-spend")]
    with pytest.raises(AdaSwitchError, match="random has none on items"):
        run_bench(ITEMS[:1], systems, out, setup())


def test_cascade_spends_nearest_the_target() -> None:
    candidates = [("a", -5.0, 100), ("b", -1.0, 100), ("c", -3.0, 100), ("d", -0.1, 100)]
    assert cascade_escalations(candidates, 0) == set()
    assert cascade_escalations(candidates, 140) == {"a"}
    assert cascade_escalations(candidates, 160) == {"a", "c"}
    assert cascade_escalations(candidates, 1000) == {"a", "b", "c", "d"}


def test_a_rerun_does_not_write_the_derived_records_again(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    systems = [parse_system(s) for s in ("local", "cloud", "selfverify:0.5", "cascade")]
    run_bench(ITEMS, systems, out, setup())
    lines = out.read_text().splitlines()
    run_bench(ITEMS, systems, out, setup())
    assert out.read_text().splitlines() == lines


def test_the_step_oracle_sends_exactly_the_steps_off_the_reference(tmp_path: Path) -> None:
    # Worked solutions, as GSM8K has them: "A + 10 = A+10".
    items = [
        Item(i.id, i.question, i.answer, i.kind, solution=f"{a} + 10 = {a + 10}")
        for a, i in enumerate(ITEMS, start=1)
    ]
    out = tmp_path / "run.jsonl"
    run_bench(items, [parse_system("local"), parse_system("oracle-steps")], out, setup())
    oracle = by_system(read_records(out))["oracle-steps"]
    # The local model is off by one on the odd questions: those steps, and only those,
    # went to the cloud, which got them right.
    assert {r["item"]: r["cloud_calls"] for r in oracle} == {
        i.id: (1 if n % 2 else 0) for n, i in enumerate(ITEMS, start=1)
    }
    assert accuracy(oracle) == 1.0


def test_the_step_oracle_needs_worked_solutions(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="oracle-steps reads the items' worked solutions"):
        run_bench(ITEMS, [parse_system("oracle-steps")], tmp_path / "r.jsonl", setup())


def test_reprompted_systems_ask_the_cloud_afresh_instead_of_continuing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As with the embedded server: both backends continue an assistant message.
    monkeypatch.setattr("adaswitch_graph.graph.supports_prefill", lambda model: True)
    spec = parse_system("reprompted-selfverify:0.5")
    assert spec.reprompted and spec.kind == "adaswitch" and spec.policy == SelfVerifyPolicy(0.5)
    assert parse_system("sampled-reprompted-selfverify:0.5").sampled
    assert not parse_system("selfverify:0.5").reprompted
    asked: dict[str, list[BaseMessage]] = {}
    for name in ("selfverify:0.5", "reprompted-selfverify:0.5"):
        cloud = scripted_cloud()
        items = [Item("q1", QUESTION, "72", "number")]
        bench = BenchSetup(
            local=scripted_local(SHAKY_RUN), cloud=cloud, verifier=TEST_VERIFIER, reuse=False
        )
        run_bench(items, [parse_system(name)], tmp_path / f"{name}.jsonl", bench)
        asked[name] = cloud.calls[0]["messages"]
    continued, reprompted = asked["selfverify:0.5"], asked["reprompted-selfverify:0.5"]
    assert continued[-1].type == "ai" and continued[-1].text.endswith("Step 2:")
    assert reprompted[-1].type == "human" and reprompted[-1].text.endswith("Write Step 2.")
