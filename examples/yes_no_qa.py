"""A yes/no multi-hop QA agent (StrategyQA-style questions), with prompts of its own:
each step brings one fact, and the last states yes or no.

    python examples/yes_no_qa.py

Models: $ADASWITCH_LOCAL and $ADASWITCH_CLOUD (default: the bundled pair).
"""

from __future__ import annotations

import os

from langchain_core.prompts import ChatPromptTemplate

from adaswitch_graph import create_adaswitch_agent
from adaswitch_graph.scoring import parse_yes_no

SYSTEM = (
    "Answer the yes/no question by reasoning step by step. Write each step on its own "
    "line as 'Step N: ...', one fact or one inference per step. After the last step "
    "write 'Answer: yes' or 'Answer: no'."
)
QUESTIONS = [
    ("Could a llama birth twice during War in Vietnam (1945-46)?", "no"),
    ("Is the Sun a star?", "yes"),
]


def main() -> None:
    agent = create_adaswitch_agent(
        os.environ.get("ADASWITCH_LOCAL", "embedded:qwen2.5-coder-0.5b"),
        os.environ.get("ADASWITCH_CLOUD", "embedded:qwen2.5-coder-1.5b"),
        prompts={
            "local": ChatPromptTemplate.from_messages([("system", SYSTEM), ("human", "{question}")])
        },
        max_steps=6,
    )
    for question, gold in QUESTIONS:
        result = agent.invoke({"messages": [("user", question)]})
        verdict = parse_yes_no(result["final_answer"])
        for step in result["steps"]:
            print(f"  [{step['author']}] Step {step['index']}: {step['text']}")
        print(f"{question} -> {verdict} (reference: {gold})\n")


if __name__ == "__main__":
    main()
