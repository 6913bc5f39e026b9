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

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langgraph._internal._runnable import RunnableCallable

from adaswitch_graph.calls import ModelReply, ModelRequest, model_node
from adaswitch_graph.context import GraphContext
from adaswitch_graph.errors import SamplingError
from adaswitch_graph.events import emit
from adaswitch_graph.signals import (
    FIRST_FEATURE,
    REPEAT_FEATURE,
    SAMPLE_FEATURE,
    sample_disagreement,
    step_signals,
    token_logprobs,
)
from adaswitch_graph.state import AdaSwitchState, Step
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
    message, which the model continues with the next step; and that prefill."""
    solution = render_steps(state["steps"])
    label = step_label(len(state["steps"]) + 1)
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
            "local", ctx.local, messages, stop=ctx.stop, prefill=prefill, samples=ctx.samples
        )

    def finish(state: AdaSwitchState, reply: ModelReply | None) -> dict[str, Any]:
        assert reply is not None and reply.message is not None
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
        draft = Step(
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
        )
        return {"draft": draft, "usage": reply.usage}

    return model_node(LOCAL_REASON, prepare, finish)


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
