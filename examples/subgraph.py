"""The compiled AdaSwitch graph as one node of a larger graph: a parent graph routes
arithmetic word problems to it and answers greetings itself.

    python examples/subgraph.py

Models: $ADASWITCH_LOCAL and $ADASWITCH_CLOUD (default: the bundled pair).
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph

from adaswitch_graph import create_adaswitch_agent

solver = create_adaswitch_agent(
    os.environ.get("ADASWITCH_LOCAL", "embedded:qwen2.5-coder-0.5b"),
    os.environ.get("ADASWITCH_CLOUD", "embedded:qwen2.5-coder-1.5b"),
    max_steps=6,
)


def route(state: MessagesState) -> str:
    text = state["messages"][-1].text.lower()
    return "solver" if any(ch.isdigit() for ch in text) else "greeter"


def greeter(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage(content="Hello! Ask me a word problem.")]}


parent = StateGraph(MessagesState)
parent.add_node("solver", solver)  # the compiled graph is the node: it shares `messages`
parent.add_node("greeter", greeter)
parent.add_conditional_edges(START, route, ["solver", "greeter"])
parent.add_edge("solver", END)
parent.add_edge("greeter", END)
app = parent.compile()


def main() -> None:
    for text in ("hi there", "Tom has 3 apples and buys 5 more. How many apples now?"):
        # A parent's recursion limit also bounds the subgraph's supersteps.
        inputs: Any = {"messages": [("user", text)]}
        result = app.invoke(inputs, {"recursion_limit": 100})
        print(f"{text} -> {result['messages'][-1].text}")


if __name__ == "__main__":
    main()
