"""`merge`: append the accepted (or corrected) step to the trajectory."""

from __future__ import annotations

from typing import Any

from adaswitch_graph.events import emit
from adaswitch_graph.spans import closed
from adaswitch_graph.state import AdaSwitchState, current_draft

MERGE = "merge"


def merge(state: AdaSwitchState) -> dict[str, Any]:
    step = closed(current_draft(state))
    emit(
        "merged",
        index=step["index"],
        text=step["text"],
        author=step["author"],
        flagged=step["flagged"],
        error_probability=step["error_probability"],
        final=step["final"],
        tool_calls=step.get("tool_calls", []),
        **({"spans": step["spans"]} if "spans" in step else {}),
    )
    return {"steps": [step], "draft": None}
