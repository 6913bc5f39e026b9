"""Tools in the loop: a step calls a tool, the observation joins the trajectory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langchain_core.tools import tool

from adaswitch_graph import AlwaysLocal, create_adaswitch_graph
from adaswitch_graph.signals import evaluate_arithmetic
from adaswitch_graph.trace import TraceWriter, read_trace
from adaswitch_graph.viewer import trace_html, trace_mermaid
from tests.conftest import TEST_VERIFIER, ask
from tests.fakes import UNSURE, ScriptedChatModel, reply, scripted_cloud


@tool
def calculator(expression: str) -> str:
    """Evaluates arithmetic such as 48 / 2."""
    value = evaluate_arithmetic(expression)
    if value is None:
        raise ValueError(f"cannot evaluate {expression!r}")
    return f"{value:g}"


def tool_user(steps: list[Any]) -> ScriptedChatModel:
    """A local model that continues its own solution (prefill) with `steps[i]`."""

    def respond(messages: list[BaseMessage], n: int) -> Any:
        prefix = messages[-1].text
        return reply(prefix + steps[n - 1]) if n <= len(steps) else reply(prefix)

    return ScriptedChatModel(respond=respond)


def build(local: Any, cloud: Any = None, **kwargs: Any) -> Any:
    kwargs.setdefault("verifier", TEST_VERIFIER)
    kwargs.setdefault("tools", [calculator])
    graph = create_adaswitch_graph(local, cloud or scripted_cloud(), prefill=True, **kwargs)
    return graph.compile()


def test_the_observation_joins_the_trajectory() -> None:
    local = tool_user(
        [" In May she sold half of 48. Action: calculator[48 / 2]", " 48 + 24 = 72.\nAnswer: 72"]
    )
    result = build(local).invoke(ask())
    first, second = result["steps"]
    assert first["tool_calls"] == [{"tool": "calculator", "input": "48 / 2", "output": "24"}]
    assert not first["final"] and second["final"]
    # The model reads the observation when it writes the next step...
    assert local.calls[1]["messages"][-1].text.endswith(
        "Action: calculator[48 / 2]\nObservation: 24\nStep 2:"
    )
    # ...was told about the tool, and stops where the observation is due.
    assert "calculator: Evaluates arithmetic" in local.calls[0]["messages"][0].text
    assert local.calls[0]["stop"] == [
        "\nStep ",
        "\nWrite Step ",
        "\nWrite only Step ",
        "\nObservation:",
    ]
    assert result["final_answer"] == "72"


def test_an_invented_observation_is_replaced_by_the_tools() -> None:
    local = tool_user([" Action: calculator[2 + 2]\nObservation: 5", " Answer: 4"])
    result = build(local).invoke(ask())
    assert result["steps"][0]["text"] == "Action: calculator[2 + 2]"
    assert result["steps"][0]["tool_calls"][0]["output"] == "4"


def test_tool_errors_and_unknown_tools_become_observations() -> None:
    local = tool_user([" Action: calculator[two plus two]", " Action: search[clips]", " Answer: 4"])
    steps = build(local).invoke(ask())["steps"]
    assert steps[0]["tool_calls"][0]["output"] == (
        "error: ValueError: cannot evaluate 'two plus two'"
    )
    assert steps[1]["tool_calls"][0]["output"] == (
        "error: there is no tool 'search'; the tools are ['calculator']"
    )


def test_a_cloud_step_may_call_a_tool_too() -> None:
    drafts = [" Half of 48 is 20.", " 48 + 24 = 72.\nAnswer: 72"]
    local = ScriptedChatModel(
        respond=lambda m, n: reply(
            m[-1].text + drafts[n - 1], min_logprob=UNSURE if n == 1 else -0.01
        )
    )
    cloud = ScriptedChatModel(
        respond=lambda m, n: reply(m[-1].text + " Half of 48: Action: calculator[48/2]")
    )
    result = build(local, cloud, cloud_prefill=True).invoke(ask())
    assert result["steps"][0]["author"] == "cloud"
    assert result["steps"][0]["tool_calls"][0]["output"] == "24"
    assert result["final_answer"] == "72"


async def test_tools_run_async_and_are_traced(tmp_path: Path) -> None:
    local = tool_user([" Action: calculator[48 / 2]", " Answer: 72"])
    path = tmp_path / "t.jsonl"
    graph = build(local, policy=AlwaysLocal())
    await graph.ainvoke(ask(), {"callbacks": [TraceWriter(path)]})
    (run,) = read_trace(path)
    (event,) = run.of("tool")
    assert (event["tool"], event["input"], event["output"]) == ("calculator", "48 / 2", "24")
    assert "calculator[48 / 2] = 24" in trace_mermaid(run)
    assert "calculator[48 / 2] → 24" in trace_html([run])


def test_plain_functions_are_tools_and_names_are_unique() -> None:
    def double(x: str) -> str:
        """Doubles a number."""
        return str(2 * float(x))

    graph = build(tool_user([" Action: double[21]", " Answer: 42"]), tools=[double])
    assert graph.invoke(ask())["steps"][0]["tool_calls"][0]["output"] == "42.0"
    assert "tools" in graph.get_graph().nodes
    with pytest.raises(ValueError, match="share a name"):
        build(tool_user([]), tools=[calculator, calculator])


def test_without_tools_there_is_no_tools_node() -> None:
    graph = create_adaswitch_graph(tool_user([]), scripted_cloud()).compile()
    assert "tools" not in graph.get_graph().nodes


def test_graph_shape_with_tools(snapshot: Any) -> None:
    graph = create_adaswitch_graph(tool_user([]), scripted_cloud(), tools=[calculator]).compile()
    assert graph.get_graph().draw_mermaid() == snapshot
