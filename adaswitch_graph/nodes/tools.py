"""`tools`: run the tools a step called and attach their observations to it.

Present only in graphs built with `tools`. A step calls a tool by ending with
`Action: name[input]`; the observation joins the trajectory right after that step, so
the next step (local or cloud) reads it. A tool that fails gives its error as the
observation: the model can react to it, and the run goes on.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.tools import BaseTool
from langgraph._internal._runnable import RunnableCallable

from adaswitch_graph.context import GraphContext
from adaswitch_graph.events import emit
from adaswitch_graph.state import AdaSwitchState, Step, ToolUse, current_draft
from adaswitch_graph.steps import find_actions

TOOLS = "tools"


def has_actions(state: AdaSwitchState) -> bool:
    draft = state.get("draft")
    return bool(draft and find_actions(draft["text"]))


def build_tools(ctx: GraphContext) -> RunnableCallable:
    def calls(state: AdaSwitchState) -> tuple[Step, list[tuple[str, str, BaseTool | None]]]:
        step = current_draft(state)
        return step, [(name, arg, ctx.tools.get(name)) for name, arg in find_actions(step["text"])]

    def done(step: Step, uses: list[ToolUse]) -> dict[str, Any]:
        return {"draft": Step(**{**step, "tool_calls": [*step.get("tool_calls", []), *uses]})}

    def run(state: AdaSwitchState) -> dict[str, Any]:
        step, wanted = calls(state)
        uses = []
        for name, arg, tool in wanted:
            started = time.perf_counter()
            try:
                output = _missing(name, ctx) if tool is None else str(tool.invoke(arg))
            except Exception as exc:  # the model reads the error and can try again
                output = f"error: {type(exc).__name__}: {exc}"
            uses.append(_used(step, name, arg, output, started))
        return done(step, uses)

    async def arun(state: AdaSwitchState) -> dict[str, Any]:
        step, wanted = calls(state)
        uses = []
        for name, arg, tool in wanted:
            started = time.perf_counter()
            try:
                output = _missing(name, ctx) if tool is None else str(await tool.ainvoke(arg))
            except Exception as exc:
                output = f"error: {type(exc).__name__}: {exc}"
            uses.append(_used(step, name, arg, output, started))
        return done(step, uses)

    return RunnableCallable(run, arun, name=TOOLS, trace=False)


def _missing(name: str, ctx: GraphContext) -> str:
    return f"error: there is no tool {name!r}; the tools are {sorted(ctx.tools)}"


def _used(step: Step, name: str, arg: str, output: str, started: float) -> ToolUse:
    emit(
        "tool",
        index=step["index"],
        tool=name,
        input=arg,
        output=output,
        latency_s=time.perf_counter() - started,
    )
    return ToolUse(tool=name, input=arg, output=output)
