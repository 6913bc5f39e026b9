"""Live streaming of a run: every stage of every step as it happens (async).

    python examples/streaming.py "How many legs do 3 spiders and 2 ants have?"

Models: $ADASWITCH_LOCAL and $ADASWITCH_CLOUD (default: the bundled pair).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from adaswitch_graph import create_adaswitch_agent

QUESTION = "Spiders have 8 legs and ants have 6. How many legs do 3 spiders and 2 ants have?"


def show(event: dict[str, Any]) -> str:
    kind = event["event"]
    if kind == "drafted":
        return f"step {event['index']} drafted locally: {event['text']}"
    if kind == "verified":
        p = event["error_probability"]
        return f"  verified: p(wrong)={p:.2f} -> {event['decision']}" if p is not None else ""
    if kind == "assisted":
        return f"  cloud wrote: {event['text']}"
    if kind == "final":
        return f"answer: {event['answer']}"
    return ""


async def main(question: str) -> None:
    agent = create_adaswitch_agent(
        os.environ.get("ADASWITCH_LOCAL", "embedded:qwen2.5-coder-0.5b"),
        os.environ.get("ADASWITCH_CLOUD", "embedded:qwen2.5-coder-1.5b"),
        max_steps=8,
    )
    async for event in agent.astream({"messages": [("user", question)]}, stream_mode="custom"):
        line = show(event)
        if line:
            print(line, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else QUESTION))
