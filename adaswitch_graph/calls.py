"""One model call made by a node, with its usage ledger entry, in sync and async form.

Nodes describe the call they need (`ModelRequest`) and what to do with the reply; the
helpers here run it the same way under `invoke` and `ainvoke`, so the logic of a node
is written once.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from contextlib import aclosing, closing
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelLike
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    UsageMetadata,
    message_chunk_to_message,
)
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import get_executor_for_config
from langgraph._internal._runnable import RunnableCallable
from langgraph.errors import GraphBubbleUp

from adaswitch_graph.errors import ContextTooSmallError
from adaswitch_graph.models import with_settings
from adaswitch_graph.signals import token_logprobs
from adaswitch_graph.state import AdaSwitchState, Role, RoleUsage, Usage, merge_usage

SAMPLE_TEMPERATURE = 0.8


@dataclass(frozen=True)
class ModelRequest:
    role: Role
    model: LanguageModelLike
    messages: list[BaseMessage]
    stop: list[str] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    prefill: str = ""
    """The assistant message the model is asked to continue ("" when none); backends
    that echo it back do not get it counted as output."""
    tolerate_errors: bool = False
    """Return a failed call as `ModelReply.error` instead of raising."""
    samples: int = 0
    """Also draw this many sampled replies (temperature `SAMPLE_TEMPERATURE`, seeds 0,
    1, ...), concurrently with the call itself."""
    until: Callable[[AIMessage], bool] | None = None
    """Stream the reply, and stop reading it as soon as `until(reply so far)` holds
    (closing the stream stops the server writing). Such a reply has the finish reason
    `STOPPED_EARLY`, counts the tokens it received as its output tokens (a token a
    chunk from a backend that sends no log-probabilities), and as input
    tokens the `PROMPT_TOKENS` its chunks carried (none when the backend sends it only
    in its usage report, as Ollama and OpenAI's API: its characters are then
    `uncounted_input_chars`)."""


@dataclass(frozen=True)
class ModelReply:
    request: ModelRequest
    message: AIMessage | None
    error: Exception | None
    usage: Usage
    """Of the call and its samples."""
    latency_s: float
    samples: list[AIMessage] = field(default_factory=list)
    """The sampled replies that came back."""
    sample_errors: list[Exception] = field(default_factory=list)
    """Why the others did not (a failed sample leaves the signal fewer samples)."""


Prepare = Callable[[AdaSwitchState], ModelRequest | None]
Finish = Callable[[AdaSwitchState, ModelReply | None], dict[str, Any]]


def model_node(name: str, prepare: Prepare, finish: Finish) -> RunnableCallable:
    """A graph node that makes at most one model call (and the samples it asks for):
    `prepare` says which (or None for no call), `finish` turns the reply into the state
    update."""

    def node(state: AdaSwitchState, config: RunnableConfig) -> dict[str, Any]:
        request = prepare(state)
        if request is None:
            return finish(state, None)
        start = time.perf_counter()
        (message, error), samples = _draw(request, config)
        return finish(state, _reply(request, message, error, start, samples))

    async def anode(state: AdaSwitchState, config: RunnableConfig) -> dict[str, Any]:
        request = prepare(state)
        if request is None:
            return finish(state, None)
        start = time.perf_counter()
        (message, error), *samples = await asyncio.gather(
            _ainvoke(request.model, request, config, request.tolerate_errors),
            *(_ainvoke(sampler, request, config, True) for sampler in _samplers(request)),
        )
        return finish(state, _reply(request, message, error, start, samples))

    # LangGraph already runs each node as a traced task; like langgraph's prebuilt
    # agents we wrap the functions in its RunnableCallable, which adds no second run
    # and inspects the signatures once instead of at every call.
    return RunnableCallable(node, anode, name=name, trace=False)


Outcome = tuple[Any, Exception | None]


def _draw(request: ModelRequest, config: RunnableConfig) -> tuple[Outcome, list[Outcome]]:
    """The call, and its samples on the config's executor meanwhile."""
    if not request.samples:
        return _invoke(request.model, request, config, request.tolerate_errors), []
    with get_executor_for_config(config) as executor:
        drawn = [
            executor.submit(_invoke, sampler, request, config, True)
            for sampler in _samplers(request)
        ]
        outcome = _invoke(request.model, request, config, request.tolerate_errors)
        return outcome, [future.result() for future in drawn]


def _invoke(
    model: LanguageModelLike, request: ModelRequest, config: RunnableConfig, tolerate: bool
) -> Outcome:
    args = (request.messages, config)
    try:
        if request.until is None or model is not request.model:
            return model.invoke(*args, stop=request.stop, **request.kwargs), None
        reply: Any = None
        chunks: Any = model.stream(*args, stop=request.stop, **request.kwargs)
        with closing(chunks):
            for read, chunk in enumerate(chunks, 1):
                reply = chunk if reply is None else reply + chunk
                if request.until(_as_message(reply)):  # type: ignore[arg-type]
                    return _stopped(reply, read), None
        return _as_message(reply), None
    except Exception as exc:
        return None, _tolerated(exc, tolerate)


async def _ainvoke(
    model: LanguageModelLike, request: ModelRequest, config: RunnableConfig, tolerate: bool
) -> Outcome:
    args = (request.messages, config)
    try:
        if request.until is None or model is not request.model:
            return await model.ainvoke(*args, stop=request.stop, **request.kwargs), None
        reply: Any = None
        read = 0
        chunks: Any = model.astream(*args, stop=request.stop, **request.kwargs)
        async with aclosing(chunks):
            async for chunk in chunks:
                read += 1
                reply = chunk if reply is None else reply + chunk
                if request.until(_as_message(reply)):  # type: ignore[arg-type]
                    return _stopped(reply, read), None
        return _as_message(reply), None
    except Exception as exc:
        return None, _tolerated(exc, tolerate)


STOPPED_EARLY = "stopped_early"
"""The finish reason of a streamed reply that `ModelRequest.until` stopped reading."""


def stopped_early(message: AIMessage | None) -> bool:
    """Whether `message` is a streamed reply that `ModelRequest.until` stopped reading."""
    return message is not None and message.response_metadata.get("finish_reason") == STOPPED_EARLY


PROMPT_TOKENS = "prompt_tokens"
"""A `response_metadata` key a backend may set on the chunks of a streamed reply: the
prompt's token count, which a reply stopped early reports as its input tokens."""

CACHED_PROMPT_TOKENS = "cached_prompt_tokens"
"""Beside `PROMPT_TOKENS`: how many of them the backend read from its prompt cache."""


def _stopped(chunk: Any, chunks: int) -> AIMessage:
    message = _as_message(chunk)
    assert message is not None
    # A stream closed early never gets the server's usage report. Its tokens are
    # counted by their log-probabilities, or, from a backend that sends none, as one a
    # chunk (servers stream a token a chunk).
    sent = int(message.response_metadata.get(PROMPT_TOKENS, 0))
    cached = int(message.response_metadata.get(CACHED_PROMPT_TOKENS, 0))
    received = len(token_logprobs(message) or ()) or chunks
    usage = message.usage_metadata or UsageMetadata(
        input_tokens=sent,
        output_tokens=received,
        total_tokens=sent + received,
        input_token_details={"cache_read": cached},
    )
    metadata = {**message.response_metadata, "finish_reason": STOPPED_EARLY}
    return message.model_copy(update={"response_metadata": metadata, "usage_metadata": usage})


def _samplers(request: ModelRequest) -> list[Runnable[Any, Any]]:
    # A seed per sample, so the samples differ and a benchmark's call cache keys them
    # apart.
    return [sampling(request.model, seed) for seed in range(request.samples)]


def sampling(model: LanguageModelLike, seed: int) -> Runnable[Any, Any]:
    """`model` sampling at `SAMPLE_TEMPERATURE` with `seed`. A chat model that has
    `temperature` and `seed` settings gets them set; ChatOllama, for one, takes them
    only that way (as call arguments its client refuses them). Any other runnable gets
    them as call arguments, which the backend must accept."""
    settings = {"temperature": SAMPLE_TEMPERATURE, "seed": seed}
    if isinstance(model, BaseChatModel) and settings.keys() <= type(model).model_fields.keys():
        return with_settings(model, **settings)
    return model.bind(**settings)


def _tolerated(exc: Exception, tolerate: bool) -> Exception:
    # Interrupts and other control flow of LangGraph must reach the runtime. A sample
    # that fails is tolerated: it only leaves the signal fewer samples.
    if isinstance(exc, GraphBubbleUp):
        raise exc
    exc = explained(exc)
    if not tolerate:
        raise exc
    return exc


_CONTEXT_FULL = re.compile(r"exceeds the available context size|maximum context length")
"""How llama.cpp's server, and OpenAI's API and vLLM, refuse a request too long."""


def explained(exc: Exception) -> Exception:
    """`exc`, or for a server's refusal of a request longer than its context, a
    `ContextTooSmallError` that says what to change (caused by `exc`)."""
    if not _CONTEXT_FULL.search(str(exc)):
        return exc
    # Imported here: embedded.py reads this module's PROMPT_TOKENS.
    from adaswitch_graph.embedded import CTX_ENV, CTX_PER_SLOT

    error = ContextTooSmallError(
        f"{exc}. The question, the solution so far and the prompt do not fit the model's "
        f"context: a bundled model's server slots hold ${CTX_ENV} tokens (default "
        f"{CTX_PER_SLOT}; more costs memory), so set e.g. {CTX_ENV}={2 * CTX_PER_SLOT}; "
        "a server of your own has its own setting (vLLM's --max-model-len, llama.cpp's -c)"
    )
    error.__cause__ = exc
    return error


def _reply(
    request: ModelRequest,
    message: Any,
    error: Exception | None,
    start: float,
    samples: list[Outcome],
) -> ModelReply:
    latency = time.perf_counter() - start
    reply = _as_message(message)
    drawn = [m for m in (_as_message(m) for m, _ in samples) if m is not None]
    usage = usage_of(request, reply)
    for sample in drawn:
        usage = merge_usage(usage, usage_of(request, sample))
    failed = [e for _, e in samples if e is not None]
    return ModelReply(request, reply, error, usage, latency, drawn, failed)


def _as_message(message: Any) -> AIMessage | None:
    if isinstance(message, AIMessageChunk):
        return message_chunk_to_message(message)  # type: ignore[return-value]
    if message is None or isinstance(message, AIMessage):
        return message
    # A LanguageModelLike may be a plain LLM returning a string.
    return AIMessage(content=str(getattr(message, "content", message)))


def usage_of(request: ModelRequest, message: AIMessage | None) -> Usage:
    """The ledger entry of one call: characters from what was sent and received,
    tokens as the provider reported them (0 when it reported none; its characters sent
    are then `uncounted_input_chars` too)."""
    sent = sum(len(m.text) for m in request.messages)
    received = message.text if message is not None else ""
    if request.prefill and received.startswith(request.prefill):
        received = received[len(request.prefill) :]
    reported: Mapping[str, Any] = (message.usage_metadata if message is not None else None) or {}
    input_tokens = int(reported.get("input_tokens", 0))
    details: Mapping[str, Any] = reported.get("input_token_details") or {}
    return {
        request.role: RoleUsage(
            calls=1,
            input_tokens=input_tokens,
            output_tokens=int(reported.get("output_tokens", 0)),
            input_chars=sent,
            output_chars=len(received),
            uncounted_input_chars=0 if input_tokens else sent,
            cached_input_tokens=int(details.get("cache_read") or 0),
        )
    }
