"""A tool-using agent: a step may call a calculator, and its result joins the
trajectory before the next step.

    python examples/tool_agent.py

Models: $ADASWITCH_LOCAL and $ADASWITCH_CLOUD (default: the bundled pair).
"""

from __future__ import annotations

import os

from langchain_core.tools import tool

from adaswitch_graph import create_adaswitch_agent
from adaswitch_graph.signals import evaluate_arithmetic

QUESTION = (
    "A bakery sells 127 loaves a day at $3.25 each. How many dollars does it take in over 28 days?"
)


@tool
def calculator(expression: str) -> str:
    """Evaluates arithmetic with + - * / and parentheses, e.g. 127 * 3.25."""
    value = evaluate_arithmetic(expression)
    if value is None:
        raise ValueError(f"not arithmetic: {expression!r}")
    return f"{value:g}"


def main() -> None:
    agent = create_adaswitch_agent(
        os.environ.get("ADASWITCH_LOCAL", "embedded:qwen2.5-coder-0.5b"),
        os.environ.get("ADASWITCH_CLOUD", "embedded:qwen2.5-coder-1.5b"),
        tools=[calculator],
        max_steps=8,
    )
    result = agent.invoke({"messages": [("user", QUESTION)]})
    for step in result["steps"]:
        print(f"[{step['author']}] Step {step['index']}: {step['text']}")
        for use in step.get("tool_calls", []):
            print(f"        {use['tool']}[{use['input']}] -> {use['output']}")
    print("answer:", result["final_answer"], "(exact: 11557)")


if __name__ == "__main__":
    main()
