"""`prepare`: read and check the question, and start a fresh trajectory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph._internal._runnable import RunnableCallable
from langgraph.types import Overwrite

from adaswitch_graph.context import GraphContext
from adaswitch_graph.errors import InvalidQuestionError
from adaswitch_graph.events import emit
from adaswitch_graph.models import model_label
from adaswitch_graph.policies import describe_policy
from adaswitch_graph.state import AdaSwitchState

PREPARE = "prepare"


def question_from_messages(messages: Sequence[BaseMessage]) -> str:
    """The text of the last user message, or a clear error when there is none."""
    users = [m for m in messages if m.type == "human"]
    if not users:
        raise InvalidQuestionError(
            "no question: the input has no user message; "
            'invoke the graph with {"messages": [("user", "your question")]}'
        )
    content = users[-1].content
    blocks = [content] if isinstance(content, str) else list(content)
    if any(not isinstance(b, str) and b.get("type") != "text" for b in blocks):
        kinds = sorted({b.get("type", "?") for b in blocks if not isinstance(b, str)} - {"text"})
        raise InvalidQuestionError(
            f"the question must be text, but the last user message holds {kinds}; "
            "send the question as a plain string"
        )
    question = users[-1].text.strip()
    if not question:
        raise InvalidQuestionError(
            "the question is empty: the last user message has no text; send a non-empty question"
        )
    return question


def build_prepare(ctx: GraphContext) -> RunnableCallable:
    def prepare(state: AdaSwitchState) -> dict[str, Any]:
        question = question_from_messages(state["messages"])
        emit(
            "started",
            question=question,
            local_model=model_label(ctx.local),
            cloud_model=model_label(ctx.cloud),
            policy=describe_policy(ctx.policy),
            verifier=ctx.verifier.to_dict(),
            budget=asdict(ctx.budget),
            max_steps=ctx.max_steps,
            judge=ctx.judge,
        )
        return {
            "question": question,
            # A new question on a checkpointed thread starts a new trajectory and ledger.
            "steps": Overwrite([]),
            "usage": Overwrite({}),
            "draft": None,
            "final_answer": None,
        }

    return RunnableCallable(prepare, name=PREPARE, trace=False)
