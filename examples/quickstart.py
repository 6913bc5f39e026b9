"""Solve one question with the bundled models and print the collaboration.

    python examples/quickstart.py "Tom has 3 apples and buys 5 more. How many now?"

Swap the model specs for "ollama:qwen2.5:0.5b", "openai:gpt-4o-mini", or any chat model.
"""

from __future__ import annotations

import sys
from typing import Any

from adaswitch_graph import Budget, SelfVerifyPolicy, create_adaswitch_graph

QUESTION = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether in April and May?"
)


def main(question: str) -> None:
    graph = create_adaswitch_graph(
        "embedded:qwen2.5-coder-0.5b",
        "embedded:qwen2.5-coder-1.5b",
        policy=SelfVerifyPolicy(),
        budget=Budget(max_cloud_calls=4),
        max_steps=8,
    ).compile()
    result: dict[str, Any] = {}
    stream: Any = graph.stream({"messages": [("user", question)]}, stream_mode=["custom", "values"])
    for mode, chunk in stream:
        if mode == "custom" and chunk["event"] == "merged":
            print(
                f"[{chunk['author']:5}] p_err={chunk['error_probability']:.2f} "
                f"Step {chunk['index']}: {chunk['text']}"
            )
        elif mode == "values":
            result = chunk
    print("answer:", result["final_answer"])
    for role, counts in result["usage"].items():
        print(f"{role}: {counts['calls']} calls, {counts['output_tokens']} output tokens")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else QUESTION)
