"""`cloud_assist`: the cloud model writes one flagged step, in the same format.

A cloud backend that continues the assistant's own message (llama.cpp, vLLM, Ollama)
gets the same step prompt as the local model and continues the solution so far. Other
backends are asked afresh for the step (`prompts.cloud`). Neither is shown the local
draft: shown it, a model tends to copy it (prompts/cloud.py).

It is reached for steps the policy flagged and the budget allows, and, without a
draft, for steps a policy gives the cloud whatever the local model would write
(`takes_over`: `AlwaysCloud`, `SelfVerifyPolicy(handover=True)`); a backend that does
not continue is then asked for the next step as the local model would be. A cloud model
that fails (after its own retries) does not end the run: the step stays as the local
model wrote it and records `cloud_error`, or, with no draft, the local model writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage
from langgraph._internal._runnable import RunnableCallable

from adaswitch_graph.calls import ModelReply, ModelRequest, model_node, stopped_early
from adaswitch_graph.context import GraphContext
from adaswitch_graph.events import emit
from adaswitch_graph.models import with_output_limit
from adaswitch_graph.nodes.local_reason import continuation
from adaswitch_graph.spans import cut_short, doubted, open_draft, with_span
from adaswitch_graph.state import AdaSwitchState, Step
from adaswitch_graph.steps import is_final, solution_so_far

CLOUD_ASSIST = "cloud_assist"


def build_cloud_assist(ctx: GraphContext) -> RunnableCallable:
    def output_limit(state: AdaSwitchState) -> int | None:
        # What the budget leaves the cloud to write; for its part of a step cut at a
        # doubted token, at most k.
        remaining = ctx.budget.remaining_tokens(state.get("usage") or {})
        if open_draft(state) is None or ctx.token_level is None:
            return remaining
        k = ctx.token_level.k
        return k if remaining is None else min(k, remaining)

    def prepare(state: AdaSwitchState) -> ModelRequest:
        draft = state.get("draft")
        limit = output_limit(state)
        model = ctx.cloud if limit is None else with_output_limit(ctx.cloud, limit)
        if ctx.cloud_prefill:
            messages, prefill = continuation(ctx, state)
        else:
            prefill = ""
            variables = {
                "question": state["question"],
                "solution": solution_so_far(state["steps"]),
                "index": len(state["steps"]) + 1,
            }
            prompt = (
                ctx.prompts.local_next.format_messages(**variables)
                if draft is None
                else ctx.prompts.cloud.format_messages(**variables, draft=draft["text"])
            )
            messages = ctx.with_tools(prompt)
        return ModelRequest(
            "cloud",
            model,
            messages,
            stop=ctx.stop,
            prefill=prefill,
            tolerate_errors=True,
            until=until_confirmed(state, prefill),
        )

    def until_confirmed(state: AdaSwitchState, prefill: str) -> Callable[[AIMessage], bool] | None:
        # With `confirm`, a cloud whose first token is the doubted one is stopped there:
        # the local model's token stands, and so does what it goes on to write.
        partial = open_draft(state)
        if partial is None or not getattr(ctx.token_level, "confirm", False):
            return None
        token = doubted(partial)
        if token is None:
            return None
        return lambda reply: ctx.written(reply.text, prefill) == token

    def finish(state: AdaSwitchState, reply: ModelReply | None) -> dict[str, Any]:
        assert reply is not None
        partial = open_draft(state)
        if partial is not None:
            limit = output_limit(state)
            assert limit is not None  # an open draft has a token-level policy's k
            return continue_step(partial, reply, limit)
        draft = state.get("draft") or undrafted(len(state["steps"]) + 1)
        text = (
            ctx.clean(reply.message.text, reply.request.prefill)
            if reply.message is not None
            else ""
        )
        step = Step(**draft)
        if reply.error is not None:
            step["cloud_error"] = f"{type(reply.error).__name__}: {reply.error}"
        elif not text:
            step["cloud_error"] = "the cloud model returned an empty step"
        else:
            step["text"], step["author"], step["assisted"] = text, "cloud", True
            step["final"] = is_final(text)
        _emit_assisted(step, draft["text"], step["text"], step["assisted"], reply)
        if not step["text"]:  # nothing to keep: the local model writes the step
            return {"draft": None, "usage": reply.usage}
        return {"draft": step, "usage": reply.usage}

    def continue_step(partial: Step, reply: ModelReply, limit: int) -> dict[str, Any]:
        # The cloud's part of a step cut at a doubted token. It stays open for the local
        # model when the cloud stopped at its token `limit` or confirmed the doubted
        # token, not at the step's end; when the cloud failed, the local model goes on
        # without it.
        message = reply.message
        raw = ctx.written(message.text, reply.request.prefill) if message is not None else ""
        failure = None
        if reply.error is not None:
            failure = f"{type(reply.error).__name__}: {reply.error}"
        elif not raw:
            failure = "the cloud model returned nothing"
        if failure is not None:
            step = Step(**{**partial, "cloud_error": failure})
        else:
            assert message is not None  # without one, raw is empty
            step = with_span(partial, "cloud", raw, open=cut_short(message, limit))
            step["author"], step["assisted"] = "cloud", True
            step["final"] = is_final(step["text"])
        _emit_assisted(
            step,
            partial["text"],
            raw,
            failure is None,
            reply,
            continued=True,
            confirmed=stopped_early(message),
        )
        return {"draft": step, "usage": reply.usage}

    return model_node(CLOUD_ASSIST, prepare, finish)


def _emit_assisted(
    step: Step, draft: str, text: str, assisted: bool, reply: ModelReply, **extra: Any
) -> None:
    """The `assisted` event: the step's text after the call, and exactly what the
    cloud was sent."""
    emit(
        "assisted",
        index=step["index"],
        draft=draft,
        text=text,
        assisted=assisted,
        cloud_error=step.get("cloud_error"),
        sent=[{"role": m.type, "content": m.text} for m in reply.request.messages],
        stop=reply.request.stop,
        usage=reply.usage,
        latency_s=reply.latency_s,
        **extra,
    )


def undrafted(index: int) -> Step:
    """The step the cloud writes alone: no local draft, no signals; the policy sent it."""
    return Step(
        index=index,
        text="",
        author="local",
        draft="",
        signals={},
        error_probability=None,
        decision="cloud",
        flagged=True,
        assisted=False,
        retried=False,
        final=False,
    )
