"""One model call made by a node, with its usage ledger entry, in sync and async form.

Nodes describe the call they need (`ModelRequest`) and what to do with the reply; the
helpers here run it the same way under `invoke` and `ainvoke`, so the logic of a node
is written once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import LanguageModelLike
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph._internal._runnable import RunnableCallable
from langgraph.errors import GraphBubbleUp

from adaswitch_graph.state import AdaSwitchState, Role, RoleUsage, Usage


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


@dataclass(frozen=True)
class ModelReply:
    request: ModelRequest
    message: AIMessage | None
    error: Exception | None
    usage: Usage
    latency_s: float


Prepare = Callable[[AdaSwitchState], ModelRequest | None]
Finish = Callable[[AdaSwitchState, ModelReply | None], dict[str, Any]]


def model_node(name: str, prepare: Prepare, finish: Finish) -> RunnableCallable:
    """A graph node that makes at most one model call: `prepare` says which (or None for
    no call), `finish` turns the reply into the state update."""

    def node(state: AdaSwitchState, config: RunnableConfig) -> dict[str, Any]:
        request = prepare(state)
        if request is None:
            return finish(state, None)
        start = time.perf_counter()
        try:
            message = request.model.invoke(
                request.messages, config, stop=request.stop, **request.kwargs
            )
            error = None
        except Exception as exc:
            message, error = None, _tolerated(request, exc)
        return finish(state, _reply(request, message, error, start))

    async def anode(state: AdaSwitchState, config: RunnableConfig) -> dict[str, Any]:
        request = prepare(state)
        if request is None:
            return finish(state, None)
        start = time.perf_counter()
        try:
            message = await request.model.ainvoke(
                request.messages, config, stop=request.stop, **request.kwargs
            )
            error = None
        except Exception as exc:
            message, error = None, _tolerated(request, exc)
        return finish(state, _reply(request, message, error, start))

    # LangGraph already runs each node as a traced task; like langgraph's prebuilt
    # agents we wrap the functions in its RunnableCallable, which adds no second run
    # and inspects the signatures once instead of at every call.
    return RunnableCallable(node, anode, name=name, trace=False)


def _tolerated(request: ModelRequest, exc: Exception) -> Exception:
    # Interrupts and other control flow of LangGraph must reach the runtime.
    if not request.tolerate_errors or isinstance(exc, GraphBubbleUp):
        raise exc
    return exc


def _reply(
    request: ModelRequest, message: Any, error: Exception | None, start: float
) -> ModelReply:
    latency = time.perf_counter() - start
    if message is not None and not isinstance(message, AIMessage):
        # A LanguageModelLike may be a plain LLM returning a string.
        message = AIMessage(content=str(getattr(message, "content", message)))
    return ModelReply(request, message, error, usage_of(request, message), latency)


def usage_of(request: ModelRequest, message: AIMessage | None) -> Usage:
    """The ledger entry of one call: characters from what was sent and received,
    tokens as the provider reported them (0 when it reported none)."""
    sent = sum(len(m.text) for m in request.messages)
    received = message.text if message is not None else ""
    if request.prefill and received.startswith(request.prefill):
        received = received[len(request.prefill) :]
    reported: Mapping[str, Any] = (message.usage_metadata if message is not None else None) or {}
    return {
        request.role: RoleUsage(
            calls=1,
            input_tokens=int(reported.get("input_tokens", 0)),
            output_tokens=int(reported.get("output_tokens", 0)),
            input_chars=sent,
            output_chars=len(received),
        )
    }
