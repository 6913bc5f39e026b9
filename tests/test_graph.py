"""The step graph's logic, pinned with scripted fake chat models (no network)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import START, MessagesState, StateGraph

from adaswitch_graph import (
    AlwaysCloud,
    AlwaysLocal,
    Budget,
    SelfVerifyPolicy,
    create_adaswitch_agent,
    create_adaswitch_graph,
)
from adaswitch_graph.errors import ContextTooSmallError, InvalidQuestionError
from adaswitch_graph.verifier import Verifier
from tests.conftest import JUDGED_VERIFIER, QUESTION, TEST_VERIFIER, ask
from tests.fakes import (
    GOOD_RUN,
    SHAKY_EVENTS,
    SHAKY_RUN,
    ScriptedChatModel,
    asked_step,
    reply,
    scripted_cloud,
    scripted_local,
)


def test_confident_run_never_calls_the_cloud(build: Any) -> None:
    cloud = scripted_cloud()
    result = build(scripted_local(GOOD_RUN), cloud).invoke(ask())
    assert cloud.calls == []
    assert result["final_answer"] == "72"
    assert result["messages"][-1].type == "ai"
    assert result["messages"][-1].content == "72"
    assert [s["author"] for s in result["steps"]] == ["local", "local"]
    assert [s["text"] for s in result["steps"]] == [
        "In May she sold 48 / 2 = 24 clips.",
        "Altogether 48 + 24 = 72 clips.\nAnswer: 72",
    ]
    assert all(s["error_probability"] is not None for s in result["steps"])


def test_flagged_steps_get_exactly_one_cloud_call_each(build: Any) -> None:
    flagged_drafts = {2: "Altogether 48 + 24 = 62 clips.", 3: "So she sold 96 clips."}

    def correct(index: int, draft: str) -> Any:
        # The cloud must only ever be asked for the steps the local model was unsure of.
        if index not in flagged_drafts:
            raise AssertionError(f"cloud called for an unflagged step {index}")
        return reply(f"Step {index}: fixed {index}", min_logprob=None)

    cloud = scripted_cloud(correct)
    result = build(scripted_local(SHAKY_RUN), cloud).invoke(ask())
    assert len(cloud.calls) == 2
    steps = result["steps"]
    assert [s["author"] for s in steps] == ["local", "cloud", "cloud", "local"]
    assert [s["flagged"] for s in steps] == [False, True, True, False]
    assert all("cloud_error" not in s for s in steps)
    assert steps[1]["text"] == "fixed 2"
    assert steps[1]["draft"] == flagged_drafts[2]
    assert steps[1]["error_probability"] > 0.5 > steps[0]["error_probability"]
    assert result["usage"]["cloud"]["calls"] == 2


def test_cloud_sees_question_and_trajectory_but_not_the_draft(build: Any) -> None:
    cloud = scripted_cloud()
    build(scripted_local(SHAKY_RUN), cloud).invoke(ask())
    first = cloud.calls[0]["messages"][-1].text
    assert "Natalia sold 48 clips" in first
    assert "Step 1: In May she sold 48 / 2 = 24 clips." in first
    assert "Write Step 2." in first
    # Shown the flagged draft, a model tends to copy it.
    assert "48 + 24 = 62" not in first
    second = cloud.calls[1]["messages"][-1].text
    assert "Step 2: fixed 2" in second  # the corrected step is what the cloud builds on


def test_a_cloud_that_echoes_the_request_for_the_next_step_is_cut_there(build: Any) -> None:
    # The bundled 1.5B, asked afresh, sometimes repeats "Write Step N+1." and writes on.
    cloud = scripted_cloud(
        lambda index, _: reply(f"Step {index}: 48 + 24 = 72\n\nWrite Step {index + 1}. More")
    )
    result = build(scripted_local(SHAKY_RUN), cloud).invoke(ask())
    assert result["steps"][1]["text"] == "48 + 24 = 72"
    assert all("\nWrite Step " in call["stop"] for call in cloud.calls)


def test_a_local_model_that_echoes_the_request_for_the_next_step_is_cut_there(build: Any) -> None:
    # A local backend that cannot continue is asked "Write only Step N, as ..." afresh.
    echoing = [
        reply("Step 1: 48 / 2 = 24.\nWrite only Step 2, as 'Step 2: ...'.\n48 + 24 = 72"),
        reply("Step 2: 48 + 24 = 72.\nAnswer: 72"),
    ]
    local = scripted_local(echoing)
    result = build(local, scripted_cloud()).invoke(ask())
    assert result["steps"][0]["text"] == "48 / 2 = 24."
    assert all("\nWrite only Step " in call["stop"] for call in local.calls)


def test_budget_caps_cloud_calls(build: Any) -> None:
    cloud = scripted_cloud()
    result = build(scripted_local(SHAKY_RUN), cloud, budget=Budget(max_cloud_calls=1)).invoke(ask())
    assert len(cloud.calls) == 1
    unassisted = result["steps"][2]
    assert unassisted["flagged"] and not unassisted["assisted"]
    assert unassisted["author"] == "local"
    assert "budget spent" in unassisted["cloud_error"]
    assert result["final_answer"] == "72"


def test_budget_caps_cloud_output_tokens(build: Any) -> None:
    cloud = scripted_cloud(
        lambda i, d: reply(f"Step {i}: fixed", min_logprob=None, output_tokens=30)
    )
    graph = build(scripted_local(SHAKY_RUN), cloud, budget=Budget(max_cloud_tokens=40))
    result = graph.invoke(ask())
    # The second call may only write what is left of the 40 tokens.
    assert [c["max_tokens"] for c in cloud.calls] == [40, 10]
    assert result["usage"]["cloud"]["output_tokens"] == 40
    zero = build(scripted_local(SHAKY_RUN), scripted_cloud(), budget=Budget(max_cloud_calls=0))
    assert zero.invoke(ask())["usage"].get("cloud", {}).get("calls", 0) == 0


def test_usage_adds_up(build: Any) -> None:
    cloud = scripted_cloud()
    result = build(scripted_local(SHAKY_RUN), cloud).invoke(ask())
    local, remote = result["usage"]["local"], result["usage"]["cloud"]
    assert local["calls"] == 4
    assert local["input_tokens"] == 40
    assert local["output_tokens"] == sum(len(m.text.split()) for m in SHAKY_RUN)
    assert remote["calls"] == 2
    sent = sum(len(m.text) for call in cloud.calls for m in call["messages"])
    assert remote["input_chars"] == sent
    assert remote["output_chars"] == len("Step 2: fixed 2") + len("Step 3: fixed 3")


async def test_async_and_sync_agree(build: Any) -> None:
    sync = build(scripted_local(SHAKY_RUN), scripted_cloud()).invoke(ask())
    graph = build(scripted_local(SHAKY_RUN), scripted_cloud())
    async_ = await graph.ainvoke(ask())
    for key in ("final_answer", "steps", "usage"):
        assert sync[key] == async_[key]
    events = [e async for _, e in graph.astream(ask(), stream_mode=["custom"])]
    assert [e["event"] for e in events][:4] == ["started", "drafted", "verified", "merged"]


def test_stream_emits_each_stage(build: Any) -> None:
    graph = build(scripted_local(SHAKY_RUN), scripted_cloud())
    chunks = list(graph.stream(ask(), stream_mode=["updates", "custom"]))
    events = [c["event"] for mode, c in chunks if mode == "custom"]
    assert events == SHAKY_EVENTS
    updates = [next(iter(c)) for mode, c in chunks if mode == "updates"]
    assert updates[0] == "prepare" and updates[-1] == "finalize"
    assert updates.count("cloud_assist") == 2


CONTEXT_FULL = (
    "Error code: 400 - request (2053 tokens) exceeds the available context size "
    "(2048 tokens), try increasing it"
)
"""llama.cpp's server refusing a request longer than a slot holds."""


def test_a_request_longer_than_the_context_says_how_to_make_room(build: Any) -> None:
    def full(messages: list[BaseMessage], _: int) -> AIMessage:
        raise RuntimeError(CONTEXT_FULL)

    with pytest.raises(ContextTooSmallError, match=r"set e\.g\. ADASWITCH_CTX=4096") as caught:
        build(ScriptedChatModel(respond=full), scripted_cloud()).invoke(ask())
    assert "request (2053 tokens)" in str(caught.value)
    assert isinstance(caught.value.__cause__, RuntimeError)

    # A cloud call that does not fit is one the local model stands in for, explained.
    def cloud_full(index: int, draft: str) -> Any:
        raise RuntimeError(CONTEXT_FULL)

    result = build(scripted_local(SHAKY_RUN), scripted_cloud(cloud_full)).invoke(ask())
    failed = result["steps"][1]
    assert failed["cloud_error"].startswith("ContextTooSmallError: Error code: 400")
    assert "ADASWITCH_CTX" in failed["cloud_error"] and failed["author"] == "local"


def test_cloud_failure_degrades_to_the_local_step(build: Any) -> None:
    def down(index: int, draft: str) -> Any:
        raise ConnectionError("cloud unreachable")

    result = build(scripted_local(SHAKY_RUN), scripted_cloud(down)).invoke(ask())
    failed = result["steps"][1]
    assert failed["author"] == "local" and failed["flagged"] and not failed["assisted"]
    assert failed["text"] == "Altogether 48 + 24 = 62 clips."
    assert failed["cloud_error"] == "ConnectionError: cloud unreachable"
    assert result["final_answer"] == "72"
    # A failed call is still accounted for: what was sent crossed the wire.
    assert result["usage"]["cloud"]["calls"] == 2
    assert result["usage"]["cloud"]["input_chars"] > 0


def test_a_step_the_cloud_fails_to_write_alone_is_drafted_locally(build: Any) -> None:
    asked: list[int] = []

    def once_down(index: int, draft: str) -> Any:
        asked.append(index)
        if asked == [1, 2]:
            raise ConnectionError("cloud unreachable")
        return f"Step {index}: fixed {index}" + "\nAnswer: 72" * (index == 2)

    local, cloud = scripted_local(GOOD_RUN), scripted_cloud(once_down)
    result = build(local, cloud, policy=AlwaysCloud()).invoke(ask())
    # The local model drafts step 2, and the cloud, asked again, rewrites it.
    assert [asked_step(c["messages"]) for c in local.calls] == [2]
    assert [s["author"] for s in result["steps"]] == ["cloud", "cloud"]
    assert result["steps"][1]["draft"] == "Altogether 48 + 24 = 72 clips.\nAnswer: 72"
    assert result["usage"]["cloud"]["calls"] == 3 and result["final_answer"] == "72"


def test_checkpointed_run_resumes_after_a_crash(build: Any) -> None:
    crashed = {"done": False}
    steps = list(SHAKY_RUN)

    def respond(messages: Any, n: int) -> Any:
        index = asked_step(messages)
        if index == 3 and not crashed["done"]:
            crashed["done"] = True
            raise RuntimeError("local server crashed")
        return steps[index - 1]

    local = ScriptedChatModel(respond=respond)
    cloud = scripted_cloud()
    graph = build(local, cloud, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}}
    with pytest.raises(RuntimeError, match="local server crashed"):
        graph.invoke(ask(), config)
    saved = graph.get_state(config).values
    assert len(saved["steps"]) == 2 and len(cloud.calls) == 1
    result = graph.invoke(None, config)
    assert result["final_answer"] == "72"
    assert len(result["steps"]) == 4
    assert len(cloud.calls) == 2  # step 2 was not sent again
    assert result["usage"]["local"]["calls"] == 4  # the crashed call made no usage


def test_interrupt_before_cloud_and_resume(build: Any) -> None:
    local, cloud = scripted_local(SHAKY_RUN), scripted_cloud()
    graph = create_adaswitch_graph(local, cloud, verifier=TEST_VERIFIER).compile(
        checkpointer=InMemorySaver(), interrupt_before=["cloud_assist"]
    )
    config: RunnableConfig = {"configurable": {"thread_id": "t2"}}
    graph.invoke(ask(), config)
    assert graph.get_state(config).next == ("cloud_assist",)
    assert cloud.calls == []
    graph.invoke(None, config)
    graph.invoke(None, config)
    result = graph.invoke(None, config)
    assert result["final_answer"] == "72" and len(cloud.calls) == 2


def test_new_question_on_a_thread_starts_a_fresh_trajectory(build: Any) -> None:
    graph = build(scripted_local(GOOD_RUN), scripted_cloud(), checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t3"}}
    graph.invoke(ask(), config)
    result = graph.invoke(ask("And in June?"), config)
    assert len(result["steps"]) == 2
    assert result["usage"]["local"]["calls"] == 2
    assert result["question"] == "And in June?"


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"messages": []}, "no user message"),
        ({"messages": [("user", "   ")]}, "empty"),
        (
            {
                "messages": [
                    HumanMessage(content=[{"type": "image_url", "image_url": {"url": "data:,"}}])
                ]
            },
            "must be text",
        ),
    ],
)
def test_bad_question_is_rejected_before_any_model_call(
    build: Any, payload: dict[str, Any], match: str
) -> None:
    local, cloud = scripted_local(GOOD_RUN), scripted_cloud()
    with pytest.raises(InvalidQuestionError, match=match):
        build(local, cloud).invoke(payload)
    assert local.calls == [] and cloud.calls == []


def test_prefill_continues_the_models_own_solution(build: Any) -> None:
    seen: list[str] = []

    def echo(messages: Any, n: int) -> Any:
        prefix = messages[-1].text
        seen.append(prefix)
        # llama.cpp returns the prefix followed by the continuation
        return reply(prefix + [" 48 / 2 = 24.\n", " 48 + 24 = 72.\nAnswer: 72"][n - 1])

    local = ScriptedChatModel(respond=echo)
    result = build(local, scripted_cloud(), prefill=True).invoke(ask())
    assert seen == ["Step 1:", "Step 1: 48 / 2 = 24.\nStep 2:"]
    assert all(c["messages"][-1].type == "ai" for c in local.calls)
    assert all(c["stop"] == ["\nStep ", "\nWrite Step ", "\nWrite only Step "] for c in local.calls)
    assert [s["text"] for s in result["steps"]] == ["48 / 2 = 24.", "48 + 24 = 72.\nAnswer: 72"]
    assert result["usage"]["local"]["output_chars"] == len(" 48 / 2 = 24.\n") + len(
        " 48 + 24 = 72.\nAnswer: 72"
    )


def test_prefill_is_detected_on_self_hosted_openai_compatible_servers() -> None:
    from langchain_openai import ChatOpenAI

    from adaswitch_graph.embedded import EmbeddedChatOpenAI
    from adaswitch_graph.models import supports_prefill

    server: dict[str, Any] = {"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key": "-"}
    assert supports_prefill(EmbeddedChatOpenAI(**server))  # a subclass, as the embedded one
    assert supports_prefill(ChatOpenAI(**server).bind(stop=["x"]))
    hosted = {**server, "base_url": "https://api.openai.com/v1"}
    assert not supports_prefill(ChatOpenAI(**hosted))


def test_reprompt_mode_asks_for_only_the_next_step(build: Any) -> None:
    local = scripted_local(GOOD_RUN)
    build(local, scripted_cloud()).invoke(ask())
    assert "Write only Step 2" in local.calls[1]["messages"][-1].text
    assert "Step 1: In May she sold" in local.calls[1]["messages"][-1].text


def test_retry_lets_the_local_model_rewrite_once(build: Any) -> None:
    attempts: list[int] = []

    def respond(messages: Any, n: int) -> Any:
        prompt = messages[-1].text
        if "judged likely wrong" in prompt:
            attempts.append(n)
            return reply("Step 2: 48 + 24 = 72.\nAnswer: 72")
        return SHAKY_RUN[0] if "Write only Step 1" in prompt else SHAKY_RUN[1]

    cloud = scripted_cloud()
    policy = SelfVerifyPolicy(threshold=0.5, retry=True)
    result = build(ScriptedChatModel(respond=respond), cloud, policy=policy).invoke(ask())
    assert cloud.calls == [] and len(attempts) == 1
    step = result["steps"][1]
    assert step["retried"] and step["author"] == "local" and step["decision"] == "accept"
    assert step["draft"] == "Altogether 48 + 24 = 62 clips."
    assert result["final_answer"] == "72"


def test_a_retry_still_doubted_goes_to_the_cloud(build: Any) -> None:
    cloud = scripted_cloud()
    policy = SelfVerifyPolicy(threshold=0.5, retry=True)
    local = scripted_local([SHAKY_RUN[0], SHAKY_RUN[1], reply("Step 3: done\nAnswer: 72")])
    result = build(local, cloud, policy=policy).invoke(ask())
    assert len(cloud.calls) == 1
    assert result["steps"][1]["retried"] and result["steps"][1]["author"] == "cloud"


def finishing_cloud(last: int) -> ScriptedChatModel:
    """A cloud that writes `Step N: fixed N`, and the answer with step `last`."""
    return scripted_cloud(lambda n, _: f"Step {n}: fixed {n}" + ("\nAnswer: 72" * (n == last)))


def test_handover_keeps_the_cloud_writing_after_its_first_step(build: Any) -> None:
    local, cloud = scripted_local(SHAKY_RUN), finishing_cloud(4)
    policy = SelfVerifyPolicy(threshold=0.5, handover=True)
    result = build(local, cloud, policy=policy).invoke(ask())
    steps = result["steps"]
    assert [s["author"] for s in steps] == ["local", "cloud", "cloud", "cloud"]
    assert [s["flagged"] for s in steps] == [False, True, True, True]
    # Step 2 handed over: no local draft after it, since none could keep its step.
    assert [asked_step(c["messages"]) for c in local.calls] == [1, 2]
    assert [s["draft"] for s in steps[2:]] == ["", ""]
    assert [s["error_probability"] for s in steps[2:]] == [None, None]
    assert len(cloud.calls) == 3 and result["final_answer"] == "72"


def test_handover_is_still_capped_by_the_budget(build: Any) -> None:
    cloud = scripted_cloud()
    policy = SelfVerifyPolicy(threshold=0.5, handover=True)
    graph = build(scripted_local(SHAKY_RUN), cloud, policy=policy, budget=Budget(max_cloud_calls=1))
    steps = graph.invoke(ask())["steps"]
    assert [s["author"] for s in steps] == ["local", "cloud", "local", "local"]
    assert len(cloud.calls) == 1


def test_without_logprobs_the_models_verdict_decides(build: Any) -> None:
    plain = [
        reply("Step 1: 48 / 2 = 24.", min_logprob=None),
        reply("Step 2: 48 + 24 = 62.", min_logprob=None),
        reply("Step 3: Answer: 72", min_logprob=None),
    ]
    local = scripted_local(plain, judge=lambda p: "No." if "= 62" in p else "Yes, correct.")
    cloud = scripted_cloud()
    result = build(local, cloud).invoke(ask())
    assert len(cloud.calls) == 1
    probabilities = [s["error_probability"] for s in result["steps"]]
    assert probabilities == [0.05, 0.95, 0.05]
    assert result["steps"][1]["signals"] == {
        "arith_errors": 1.0,
        "repeats": 0.0,
        "first_step": 0.0,
        "p_correct_judge": 0.0,
    }


def test_judge_reads_p_yes_from_token_logprobs(build: Any) -> None:
    import math

    def judge(prompt: str) -> Any:
        verdict = reply("yes", min_logprob=math.log(0.3))
        tops = [
            {"token": "yes", "logprob": math.log(0.3)},
            {"token": "No", "logprob": math.log(0.6)},
        ]
        verdict.response_metadata["logprobs"]["content"][0]["top_logprobs"] = tops
        return verdict

    local = scripted_local(GOOD_RUN, judge=judge)
    result = build(local, scripted_cloud(), judge=True, verifier=JUDGED_VERIFIER).invoke(ask())
    assert result["steps"][0]["signals"]["p_correct_judge"] == pytest.approx(1 / 3)
    assert "min_logprob" in result["steps"][0]["signals"]
    assert result["usage"]["local"]["calls"] == 4  # two steps, two verdicts


@pytest.mark.parametrize(
    ("verdict", "authors"), [("no", ["local", "cloud"]), ("yes", ["local", "local"])]
)
def test_the_verdict_decides_a_step_its_tokens_are_sure_of(
    build: Any, verdict: str, authors: list[str]
) -> None:
    local = scripted_local(GOOD_RUN, judge=lambda p: verdict if "Step 2:" in p else "yes")
    cloud = scripted_cloud()
    result = build(local, cloud, judge=True, verifier=JUDGED_VERIFIER).invoke(ask())
    assert [s["author"] for s in result["steps"]] == authors


OPTIONS = [({"judge": True}, "p_correct_judge"), ({"samples": 2}, "sample_disagreement")]


@pytest.mark.parametrize(("option", "feature"), OPTIONS)
def test_a_verifier_that_would_ignore_a_paid_for_signal_is_refused(
    option: dict[str, Any], feature: str
) -> None:
    with pytest.raises(ValueError, match=rf"records '{feature}'.*not weigh it.*min_logprob"):
        create_adaswitch_graph("no-such:model", "no-such:model", verifier=TEST_VERIFIER, **option)


@pytest.mark.parametrize(("option", "feature"), OPTIONS)
def test_a_verifier_that_weighs_a_signal_the_graph_does_not_record_is_refused(
    option: dict[str, Any], feature: str
) -> None:
    # Unsampled steps lack `sample_disagreement`, so the sampled verifier would give them
    # no error probability, and the policy would accept every one.
    verifier = Verifier(coefficients={"min_logprob": -1.0, feature: 1.0}, intercept=0.0)
    with pytest.raises(ValueError, match=rf"weighs '{feature}', which only a graph built with"):
        create_adaswitch_graph("no-such:model", "no-such:model", verifier=verifier)
    create_adaswitch_graph(scripted_local(GOOD_RUN), scripted_cloud(), verifier=verifier, **option)


def test_max_steps_forces_an_answer(build: Any) -> None:
    endless = [reply(f"Step {i}: thinking.") for i in range(1, 10)]
    local = scripted_local(endless)
    result = build(local, scripted_cloud(), max_steps=3).invoke(ask())
    assert len(result["steps"]) == 3
    assert result["final_answer"] == "0"
    assert "Give only the final answer" in local.calls[-1]["messages"][-1].text


def test_empty_step_ends_the_run(build: Any) -> None:
    local = scripted_local([reply("Step 1: 48 / 2 = 24.")])
    result = build(local, scripted_cloud()).invoke(ask())
    assert len(result["steps"]) == 1 and result["final_answer"] == "0"


def test_always_cloud_and_always_local(build: Any) -> None:
    local, cloud = scripted_local(GOOD_RUN), finishing_cloud(2)
    result = build(local, cloud, policy=AlwaysCloud()).invoke(ask())
    assert len(cloud.calls) == 2 and local.calls == []
    assert [s["author"] for s in result["steps"]] == ["cloud", "cloud"]
    cloud = scripted_cloud()
    build(scripted_local(SHAKY_RUN), cloud, policy=AlwaysLocal()).invoke(ask())
    assert cloud.calls == []


def test_custom_policy_object(build: Any) -> None:
    class SecondStepOnly:
        def decide(self, view: Any) -> str:
            return "cloud" if view.step["index"] == 2 else "accept"

    cloud = scripted_cloud()
    build(scripted_local(SHAKY_RUN), cloud, policy=SecondStepOnly()).invoke(ask())
    assert len(cloud.calls) == 1


def test_policy_returning_nonsense_is_a_clear_error(build: Any) -> None:
    class Broken:
        def decide(self, view: Any) -> str:
            return "maybe"

    with pytest.raises(ValueError, match=r"Broken\.decide returned 'maybe'"):
        build(scripted_local(GOOD_RUN), scripted_cloud(), policy=Broken()).invoke(ask())


def test_factory_rejects_bad_arguments() -> None:
    local, cloud = scripted_local(GOOD_RUN), scripted_cloud()
    with pytest.raises(TypeError, match="decide"):
        create_adaswitch_graph(local, cloud, policy=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_steps"):
        create_adaswitch_graph(local, cloud, max_steps=0)
    with pytest.raises(ValueError, match="unknown prompt"):
        create_adaswitch_graph(local, cloud, prompts={"nope": None})
    with pytest.raises(TypeError, match="extends AdaSwitchState"):
        create_adaswitch_graph(local, cloud, state_schema=MessagesState)


def test_prompt_override_is_used(build: Any) -> None:
    from langchain_core.prompts import ChatPromptTemplate

    cloud = scripted_cloud()
    custom = ChatPromptTemplate.from_messages(
        [("human", "PLEASE FIX (it may be wrong):\n{draft}\n\nWrite Step {index}.")]
    )
    build(scripted_local(SHAKY_RUN), cloud, prompts={"cloud": custom}).invoke(ask())
    assert cloud.calls[0]["messages"][0].text.startswith("PLEASE FIX")


def test_a_prompt_of_ones_own_stops_the_cloud_at_its_request_line(build: Any) -> None:
    from langchain_core.prompts import ChatPromptTemplate

    custom = ChatPromptTemplate.from_messages(
        [("human", "{question}\n{solution}\nNow give step {index} of the solution.")]
    )

    def write_on(messages: Any, n: int) -> Any:
        # A backend that ignores stop sequences repeats the request and writes on.
        index = int(messages[-1].text.rsplit("give step ", 1)[1].split()[0])
        return reply(
            f"Step {index}: fixed {index}\nNow give step {index + 1} of the solution.\n"
            f"Step {index + 1}: more",
            min_logprob=None,
        )

    cloud = ScriptedChatModel(respond=write_on)
    result = build(scripted_local(SHAKY_RUN), cloud, prompts={"cloud": custom}).invoke(ask())
    assert [c["stop"] for c in cloud.calls] == [
        ["\nStep ", "\nNow give step ", "\nWrite only Step "]
    ] * 2
    assert [s["text"] for s in result["steps"] if s["author"] == "cloud"] == ["fixed 2", "fixed 3"]


def test_agent_is_compiled_and_named() -> None:
    agent = create_adaswitch_agent(
        scripted_local(GOOD_RUN), scripted_cloud(), verifier=TEST_VERIFIER, name="math"
    )
    assert agent.name == "math"
    assert agent.invoke(ask())["final_answer"] == "72"


def test_custom_state_schema_and_subgraph_use() -> None:
    from adaswitch_graph import AdaSwitchState

    class MyState(AdaSwitchState):
        topic: str

    inner = create_adaswitch_graph(
        scripted_local(GOOD_RUN), scripted_cloud(), verifier=TEST_VERIFIER, state_schema=MyState
    ).compile()
    outer = StateGraph(MessagesState)
    outer.add_node("solver", inner)
    outer.add_edge(START, "solver")
    result = outer.compile().invoke(MessagesState(messages=[HumanMessage(QUESTION)]))
    assert result["messages"][-1].content == "72"


def test_graph_shape(snapshot: Any) -> None:
    graph = create_adaswitch_graph(scripted_local([]), scripted_cloud()).compile()
    assert graph.get_graph().draw_mermaid() == snapshot


def test_compiled_graph_allows_max_steps(build: Any) -> None:
    endless = [reply(f"Step {i}: thinking.") for i in range(1, 40)]
    result = build(scripted_local(endless), scripted_cloud(), max_steps=20).invoke(ask())
    assert len(result["steps"]) == 20  # 60+ supersteps: past LangGraph's default of 25


async def test_batch_keeps_the_graphs_recursion_limit(build: Any) -> None:
    # Runnable.batch fills each config with LangChain's default limit of 25.
    endless = [reply(f"Step {i}: thinking.") for i in range(1, 40)]
    graph = build(scripted_local(endless), scripted_cloud(), max_steps=20)
    results = graph.batch([ask(), ask()])
    assert [len(r["steps"]) for r in results] == [20, 20]
    results = await graph.abatch([ask()], {"max_concurrency": 1})
    assert len(results[0]["steps"]) == 20
    with pytest.raises(GraphRecursionError):
        graph.batch([ask()], {"recursion_limit": 10})


def test_a_cloud_that_continues_is_not_shown_the_draft(build: Any) -> None:
    def continues(messages: Any, n: int) -> Any:
        return reply(messages[-1].text + " 48 + 24 = 72 clips.\nAnswer: 72")

    cloud = ScriptedChatModel(respond=continues)
    result = build(scripted_local(SHAKY_RUN), cloud, cloud_prefill=True).invoke(ask())
    sent = cloud.calls[0]["messages"]
    assert sent[-1].type == "ai"
    assert sent[-1].text == "Step 1: In May she sold 48 / 2 = 24 clips.\nStep 2:"
    assert "62" not in "\n".join(m.text for m in sent)  # the doubted draft stays local
    assert result["steps"][1]["author"] == "cloud"
    assert result["steps"][1]["text"] == "48 + 24 = 72 clips.\nAnswer: 72"
    assert result["final_answer"] == "72"


LOOPING_RUN = [
    GOOD_RUN[0],
    *[reply(f"Step {n}: Altogether 48 + 24 = 72 clips.") for n in range(2, 10)],
]
"""From step 2 on the local model restates the same step, as small models do."""


def test_a_local_model_that_restates_a_step_is_stopped(build: Any) -> None:
    local = scripted_local(LOOPING_RUN)
    result = build(local, scripted_cloud(), policy=AlwaysLocal()).invoke(ask())
    assert [s["signals"]["repeats"] for s in result["steps"]] == [0.0, 0.0, 1.0]
    assert result["steps"][2]["error_probability"] == 1.0
    assert len(local.calls) == 4  # three steps and the closing request for the answer
    assert result["final_answer"] == "0"


def test_a_cloud_that_restates_a_step_is_stopped(build: Any) -> None:
    # As the 1.5B did on GSM8K test item 772, trying the same guesses over and over.
    cloud = scripted_cloud(lambda n, _: f"Step {n}: Try C = 120 again.")
    result = build(scripted_local(GOOD_RUN), cloud, policy=AlwaysCloud()).invoke(ask())
    assert [s["text"] for s in result["steps"]] == ["Try C = 120 again."] * 2
    assert len(cloud.calls) == 2 and result["final_answer"]


def test_a_restated_step_goes_to_the_cloud(build: Any) -> None:
    local, cloud = scripted_local(LOOPING_RUN), scripted_cloud()
    result = build(local, cloud, max_steps=4).invoke(ask())
    assert [s["author"] for s in result["steps"][:3]] == ["local", "local", "cloud"]
    assert result["steps"][2]["text"] == "fixed 3"
    assert len(result["steps"]) == 4  # the cloud broke the loop, so the run went on


def test_a_verifier_that_weighs_first_step_doubts_a_first_step_less(build: Any) -> None:
    # The same digits, as sure: sent to the cloud at step 2, not at step 1.
    run = [
        reply("Step 1: In May she sold 48 / 2 = 24 clips.", min_logprob=-0.6),
        reply("Step 2: In all 48 + 24 = 72 clips.", min_logprob=-0.6),
        reply("Step 3: Answer: 72"),
    ]
    verifier = Verifier({"digits_logprob": -1.0, "first_step": -1.0}, intercept=0.0)
    cloud = scripted_cloud()
    result = build(scripted_local(run), cloud, verifier=verifier).invoke(ask())
    first, second = result["steps"][:2]
    assert first["signals"]["digits_logprob"] == second["signals"]["digits_logprob"]
    assert (first["signals"]["first_step"], second["signals"]["first_step"]) == (1.0, 0.0)
    assert [first["flagged"], second["flagged"]] == [False, True]
    assert asked_step(cloud.calls[0]["messages"]) == 2
