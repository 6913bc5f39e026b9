"""`custom` stream events, one per stage of a step, so `stream_mode="custom"` shows the
collaboration live."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.config import get_stream_writer

EventName = Literal["drafted", "verified", "flagged", "assisted", "merged", "final"]


def emit(event: EventName, **data: Any) -> None:
    get_stream_writer()({"event": event, **data})
