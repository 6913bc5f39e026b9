"""`finalize`: state the final answer, asking the local model for it only when the
trajectory ended without one (an empty step, or `max_steps` reached)."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph._internal._runnable import RunnableCallable

from adaswitch_graph.calls import ModelReply, ModelRequest, model_node
from adaswitch_graph.context import GraphContext
from adaswitch_graph.events import emit
from adaswitch_graph.state import AdaSwitchState
from adaswitch_graph.steps import extract_answer, render_steps, solution_so_far

FINALIZE = "finalize"
ANSWER_PREFILL = "\nAnswer:"


def stated_answer(state: AdaSwitchState) -> str | None:
    steps = state["steps"]
    return extract_answer(steps[-1]["text"]) if steps else None


def build_finalize(ctx: GraphContext) -> RunnableCallable:
    def prepare(state: AdaSwitchState) -> ModelRequest | None:
        if stated_answer(state) is not None:
            return None
        if ctx.prefill:
            messages = ctx.prompts.local.format_messages(question=state["question"])
            prefill = render_steps(state["steps"]) + ANSWER_PREFILL
            messages.append(AIMessage(content=prefill))
            return ModelRequest("local", ctx.local, messages, stop=["\n"], prefill=prefill)
        messages = ctx.prompts.answer.format_messages(
            question=state["question"],
            solution=solution_so_far(state["steps"]),
            index=len(state["steps"]) + 1,
        )
        return ModelRequest("local", ctx.local, messages)

    def finish(state: AdaSwitchState, reply: ModelReply | None) -> dict[str, Any]:
        answer = stated_answer(state)
        update: dict[str, Any] = {}
        if reply is not None and reply.message is not None:
            text = str(reply.message.text)
            if text.startswith(reply.request.prefill):
                text = text[len(reply.request.prefill) :]
            answer = extract_answer(text) or text.strip()
            update["usage"] = reply.usage
        answer = answer or ""
        emit("final", answer=answer, steps=len(state["steps"]))
        return {**update, "final_answer": answer, "messages": [AIMessage(content=answer)]}

    return model_node(FINALIZE, prepare, finish)
