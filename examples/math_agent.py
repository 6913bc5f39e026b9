"""A math agent on GSM8K-style questions: the local model reasons, the cloud fixes the
steps it doubts, and each answer is checked against the reference.

    python examples/math_agent.py

Models: $ADASWITCH_LOCAL and $ADASWITCH_CLOUD (default: the bundled pair).
"""

from __future__ import annotations

import asyncio
import os

from adaswitch_graph import create_adaswitch_agent
from adaswitch_graph.scoring import numbers_match

PROBLEMS = [
    ("A robe takes 2 bolts of blue fiber and half that much white fiber. "
     "How many bolts in total does it take?", "3"),
    ("James writes a 3-page letter to 2 different friends twice a week. "
     "How many pages does he write a year?", "624"),
    ("Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of "
     "babysitting. How much did she earn?", "10"),
]  # fmt: skip


async def main() -> None:
    agent = create_adaswitch_agent(
        os.environ.get("ADASWITCH_LOCAL", "embedded:qwen2.5-coder-0.5b"),
        os.environ.get("ADASWITCH_CLOUD", "embedded:qwen2.5-coder-1.5b"),
        max_steps=8,
    )
    inputs = [{"messages": [("user", question)]} for question, _ in PROBLEMS]
    # The problems run concurrently: the embedded server batches them.
    results = await agent.abatch(inputs)
    right = 0
    for (question, gold), result in zip(PROBLEMS, results, strict=True):
        ok = numbers_match(result["final_answer"], gold)
        right += ok
        cloud = sum(s["author"] == "cloud" for s in result["steps"])
        print(
            f"{'right' if ok else 'wrong'}: {result['final_answer']!r} (gold {gold}); "
            f"{len(result['steps'])} steps, {cloud} by the cloud  <- {question[:50]}..."
        )
    print(f"{right}/{len(PROBLEMS)} right")


if __name__ == "__main__":
    asyncio.run(main())
