"""Events, one per stage of a step: `custom` stream events, so `stream_mode="custom"`
shows the collaboration live, and LangChain custom events, so a callback handler (a
`TraceWriter`, LangSmith) records them from a plain `invoke`."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.callbacks.manager import dispatch_custom_event
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.config import get_stream_writer

EventName = Literal[
    "started", "drafted", "verified", "flagged", "assisted", "tool", "merged", "final"
]
CALLBACK_EVENT = "adaswitch"
"""The name of the LangChain custom event that carries every event."""


def emit(event: EventName, **data: Any) -> None:
    payload = {"event": event, **data}
    get_stream_writer()(payload)
    config = var_child_runnable_config.get()
    callbacks = config.get("callbacks") if config else None
    # Building a callback run for no handler would cost more than the whole node.
    if callbacks and getattr(callbacks, "handlers", callbacks):
        dispatch_custom_event(CALLBACK_EVENT, payload, config=config)
