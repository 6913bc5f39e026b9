"""`AdaSwitchChatModel` inside LCEL chains, with scripted fake models."""

from __future__ import annotations

import io
import json
from typing import Any

from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from adaswitch_graph import AdaSwitchChatModel, TokenPolicy, TraceWriter
from tests.conftest import QUESTION, TEST_VERIFIER
from tests.fakes import SHAKY_RUN, ContinuingChatModel, scripted_cloud, scripted_local
from tests.test_token_switch import RIGHT, WRONG

PROMPT = ChatPromptTemplate.from_messages([("system", "Be careful."), ("human", "{question}")])


def model() -> AdaSwitchChatModel:
    return AdaSwitchChatModel(
        local_model=scripted_local(SHAKY_RUN),
        cloud_model=scripted_cloud(),
        graph_kwargs={"verifier": TEST_VERIFIER},
    )


def test_a_chain_gets_the_final_answer() -> None:
    chain = PROMPT | model() | StrOutputParser()
    assert chain.invoke({"question": QUESTION}) == "72"


def test_the_message_carries_steps_and_split_usage() -> None:
    message = (PROMPT | model()).invoke({"question": QUESTION})
    steps = message.response_metadata["steps"]
    assert [s["author"] for s in steps] == ["local", "cloud", "cloud", "local"]
    usage = message.response_metadata["usage"]
    meta = message.usage_metadata
    assert meta is not None
    assert meta["input_token_details"] == {
        "local": usage["local"]["input_tokens"],
        "cloud": usage["cloud"]["input_tokens"],
        "cache_read": 0,  # the scripted fakes report no prompt cache
    }
    assert (
        meta["output_tokens"] == usage["local"]["output_tokens"] + usage["cloud"]["output_tokens"]
    )
    assert meta["total_tokens"] == meta["input_tokens"] + meta["output_tokens"]


def test_cache_reads_of_both_sides_are_langchains_cache_read() -> None:
    local = ContinuingChatModel(texts=[WRONG, RIGHT], unsure={"6"})
    graph_kwargs = {"policy": TokenPolicy(tau=0.5, k=2), "prefill": True, "cloud_prefill": True}
    wrapper = AdaSwitchChatModel(
        local_model=local,
        cloud_model=ContinuingChatModel(texts=[RIGHT, WRONG]),
        graph_kwargs=graph_kwargs,
    )
    counter = UsageMetadataCallbackHandler()
    message = (PROMPT | wrapper).invoke({"question": QUESTION}, {"callbacks": [counter]})
    usage = message.response_metadata["usage"]
    cached = [usage[side]["cached_input_tokens"] for side in ("local", "cloud")]
    assert all(cached) and message.usage_metadata is not None
    assert message.usage_metadata["input_token_details"]["cache_read"] == sum(cached)
    assert counter.usage_metadata["adaswitch"]["input_token_details"]["cache_read"] == sum(cached)


async def test_usage_callbacks_count_each_token_once() -> None:
    counter = UsageMetadataCallbackHandler()
    message = await (PROMPT | model()).ainvoke({"question": QUESTION}, {"callbacks": [counter]})
    assert list(counter.usage_metadata) == ["adaswitch"]  # not the inner calls again
    assert message.usage_metadata is not None
    assert (
        counter.usage_metadata["adaswitch"]["total_tokens"]
        == message.usage_metadata["total_tokens"]
    )


def test_a_trace_writer_in_the_chain_sees_the_graph() -> None:
    stream = io.StringIO()
    (PROMPT | model()).invoke({"question": QUESTION}, {"callbacks": [TraceWriter(stream)]})
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert events[0] == "started" and events[-1] == "final" and events.count("assisted") == 2


def test_batch_and_stream_work_like_any_chat_model() -> None:
    chat = model()
    first, second = chat.batch([QUESTION, QUESTION])
    assert first.content == second.content == "72"
    chunks = list(chat.stream(QUESTION))
    assert "".join(str(c.content) for c in chunks) == "72"


def test_propagated_callbacks_see_the_inner_calls() -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Starts(BaseCallbackHandler):
        def __init__(self) -> None:
            self.models: list[str] = []

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            self.models.append(kwargs.get("name") or serialized.get("name", "?"))

    quiet, loud = Starts(), Starts()
    model().invoke(QUESTION, {"callbacks": [quiet]})
    chatty = model().model_copy(update={"propagate_callbacks": True})
    chatty.invoke(QUESTION, {"callbacks": [loud]})
    assert len(quiet.models) == 1  # the wrapper only
    assert len(loud.models) == 1 + 4 + 2  # the wrapper, 4 local steps, 2 cloud steps


async def test_context_bound_usage_counters_count_once() -> None:
    from langchain_core.callbacks import get_usage_metadata_callback

    from tests.fakes import reply

    def named(text: str) -> Any:
        message = reply(text)
        message.response_metadata["model_name"] = "inner"
        return message

    chat = AdaSwitchChatModel(
        local_model=scripted_local([named("Step 1: 2 + 2 = 4.\nAnswer: 4")]),
        cloud_model=scripted_cloud(),
        graph_kwargs={"verifier": TEST_VERIFIER},
    )
    with get_usage_metadata_callback() as usage:
        chat.invoke("What is 2 + 2?")
        await chat.ainvoke("What is 2 + 2?")
    assert list(usage.usage_metadata) == ["adaswitch"]
