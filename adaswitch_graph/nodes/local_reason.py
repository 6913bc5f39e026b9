"""`local_reason`: the local model writes exactly one next step.

Where the backend continues the assistant's own message (llama.cpp, Ollama), the
solution so far is sent as the start of the assistant turn and generation stops at the
next step marker: small models follow "write only the next step" poorly, but continue
their own solution well. Elsewhere the model is re-prompted for the next step.

With `samples=k` the same prompt is also sampled k times, concurrently (a server with
parallel slots batches them), and the step records how many of those versions miss a
number it computes (`sample_disagreement`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langgraph._internal._runnable import RunnableCallable

from adaswitch_graph.calls import ModelReply, ModelRequest, model_node, stopped_early
from adaswitch_graph.context import GraphContext
from adaswitch_graph.errors import SamplingError
from adaswitch_graph.events import emit
from adaswitch_graph.nodes.self_verify import capped
from adaswitch_graph.policies import StepView
from adaswitch_graph.signals import (
    FIRST_FEATURE,
    REPEAT_FEATURE,
    SAMPLE_FEATURE,
    sample_disagreement,
    step_signals,
    token_logprobs,
)
from adaswitch_graph.spans import aligned, open_draft, with_span
from adaswitch_graph.state import AdaSwitchState, Step, spent
from adaswitch_graph.steps import (
    is_final,
    render_steps,
    restates,
    solution_so_far,
    step_label,
)

LOCAL_REASON = "local_reason"


def retry_target(state: AdaSwitchState) -> Step | None:
    """The draft the local model is asked to rewrite, if the policy asked for a retry."""
    draft = state.get("draft")
    if draft and draft["decision"] == "retry" and draft["index"] == len(state["steps"]) + 1:
        return draft
    return None


def continuation(ctx: GraphContext, state: AdaSwitchState) -> tuple[list[BaseMessage], str]:
    """The step prompt with the solution so far as the start of the assistant's own
    message, which the model continues with the next step (or with the rest of a step
    cut mid-way); and that prefill."""
    solution = render_steps(state["steps"])
    label = step_label(len(state["steps"]) + 1)
    partial = open_draft(state)
    if partial is not None:  # the parts as written, whitespace and all
        label += "".join(s["text"] for s in partial.get("spans", []))
    prefill = f"{solution}\n{label}" if solution else label
    messages = ctx.with_tools(ctx.prompts.local.format_messages(question=state["question"]))
    return [*messages, AIMessage(content=prefill)], prefill


def build_local_reason(ctx: GraphContext) -> RunnableCallable:
    def prepare(state: AdaSwitchState) -> ModelRequest:
        index = len(state["steps"]) + 1
        retry_of = retry_target(state)
        variables = {
            "question": state["question"],
            "solution": solution_so_far(state["steps"]),
            "index": index,
        }
        prefill = ""
        if retry_of is not None:
            messages = ctx.with_tools(
                ctx.prompts.local_retry.format_messages(**variables, draft=retry_of["text"])
            )
            if ctx.prefill:
                prefill = step_label(index)
                messages.append(AIMessage(content=prefill))
        elif ctx.prefill:
            messages, prefill = continuation(ctx, state)
        else:
            messages = ctx.with_tools(ctx.prompts.local_next.format_messages(**variables))
        return ModelRequest(
            "local",
            ctx.local,
            messages,
            stop=ctx.stop,
            prefill=prefill,
            samples=ctx.samples,
            until=watch(state, prefill),
        )

    def watch(state: AdaSwitchState, prefill: str) -> Callable[[AIMessage], bool] | None:
        # With a token-level policy the local model is stopped at the first token the
        # policy would hand to the cloud: what it would write after it is not used.
        # Not when self_verify's caps would keep the step local (budget spent, or the
        # cloud failed on this step): it must not stop where no cloud call follows.
        policy = ctx.token_level
        partial = open_draft(state)
        usage = state.get("usage") or {}
        failed = partial.get("cloud_error") if partial is not None else None
        if policy is None or capped("cloud", False, ctx.budget, usage, failed)[0] != "cloud":
            return None
        step = partial or new_step(len(state["steps"]) + 1, "", {}, None)
        cloud_calls = spent(usage, "cloud", "calls")

        def until(reply: AIMessage) -> bool:
            raw = ctx.written(reply.text, prefill)
            view = StepView(
                question=state["question"],
                step=with_span(step, "local", raw, open=False),
                steps=state["steps"],
                cloud_calls=cloud_calls,
                tokens=aligned(token_logprobs(reply), raw),
            )
            return policy.handover_at(view) is not None

        return until

    def finish(state: AdaSwitchState, reply: ModelReply | None) -> dict[str, Any]:
        assert reply is not None and reply.message is not None
        partial = open_draft(state)
        if partial is not None:
            return go_on(state, partial, reply)
        index = len(state["steps"]) + 1
        text = ctx.clean(reply.message.text, reply.request.prefill)
        logprobs = token_logprobs(reply.message)
        retry_of = retry_target(state)
        if retry_of is not None and not text:
            text = retry_of["text"]
        if reply.sample_errors and not reply.samples:
            raise SamplingError(_no_sample(index, reply.sample_errors))
        samples = [ctx.clean(m.text, reply.request.prefill) for m in reply.samples]
        signals = step_signals(text, logprobs)
        signals[REPEAT_FEATURE] = float(restates(text, state["steps"]))
        signals[FIRST_FEATURE] = float(index == 1)
        if samples:
            signals[SAMPLE_FEATURE] = sample_disagreement(text, samples)
        draft = new_step(index, text, signals, retry_of)
        if ctx.token_level is not None:
            draft = local_part(draft, reply)
        emit(
            "drafted",
            index=index,
            text=text,
            retry=draft["retried"],
            signals=draft["signals"],
            samples=samples,
            sample_errors=[f"{type(e).__name__}: {e}" for e in reply.sample_errors],
            usage=reply.usage,
            latency_s=reply.latency_s,
            **_token_fields(draft),
        )
        return {"draft": draft, "usage": reply.usage}

    def go_on(state: AdaSwitchState, partial: Step, reply: ModelReply) -> dict[str, Any]:
        # The rest of a step the cloud wrote part of: a new local part, verified anew.
        assert reply.message is not None
        draft = local_part(partial, reply)
        signals = step_signals(draft["text"], token_logprobs(reply.message))
        draft["signals"] = {**partial["signals"], **signals}
        draft["final"] = is_final(draft["text"])
        emit(
            "drafted",
            index=draft["index"],
            text=draft["text"],
            retry=False,
            signals=draft["signals"],
            usage=reply.usage,
            latency_s=reply.latency_s,
            **_token_fields(draft),
        )
        return {"draft": draft, "usage": reply.usage}

    def local_part(step: Step, reply: ModelReply) -> Step:
        # The reply as the step's newest local part, and its tokens for the policy; open
        # when the local model was stopped at a token the policy would hand over.
        assert reply.message is not None
        raw = ctx.written(reply.message.text, reply.request.prefill)
        part = with_span(step, "local", raw, open=stopped_early(reply.message))
        part["tokens"] = aligned(token_logprobs(reply.message), raw)
        return part

    return model_node(LOCAL_REASON, prepare, finish)


def new_step(index: int, text: str, signals: dict[str, float], retry_of: Step | None) -> Step:
    """A step the local model has just drafted (or rewritten, for `retry_of`)."""
    return Step(
        index=index,
        text=text,
        author="local",
        draft=retry_of["draft"] if retry_of is not None else text,
        signals=signals,
        error_probability=None,
        decision=None,
        flagged=False,
        assisted=False,
        retried=retry_of is not None,
        final=is_final(text),
    )


def _token_fields(draft: Step) -> dict[str, Any]:
    """What a trace needs to replay a token-level decision: the parts so far and the
    newest part's tokens."""
    if "tokens" not in draft:
        return {}
    return {"spans": draft["spans"], "tokens": draft["tokens"]}


def _no_sample(index: int, errors: list[Exception]) -> str:
    # Without a sample the sampled verifier has no score, and every step would be
    # accepted unseen: stopping says why instead.
    first = errors[0]
    return (
        f"all {len(errors)} sampled calls of step {index} failed, the first with "
        f"{type(first).__name__}: {first}. Sampling sends each call its own temperature "
        "and seed, which the local backend must accept (llama.cpp, vLLM, OpenAI and Ollama do); "
        "use samples=0 with a backend that does not"
    )
