"""`self_verify`: the local agent's error probability for its draft, and the decision.

The probability comes from the signals recorded on the step (token confidence) and,
when asked for or when the model returned no log-probabilities, from the model's own
yes/no judgement. The policy decides; the budget and the one-retry cap are applied
after it, so no policy can exceed them.
"""

from __future__ import annotations

from typing import Any, get_args

from langgraph._internal._runnable import RunnableCallable

from adaswitch_graph.budget import Budget
from adaswitch_graph.calls import ModelReply, ModelRequest, model_node
from adaswitch_graph.context import GraphContext
from adaswitch_graph.events import emit
from adaswitch_graph.models import with_output_limit
from adaswitch_graph.policies import Policy, StepView, TokenLevel
from adaswitch_graph.signals import judge_p_correct
from adaswitch_graph.spans import cut
from adaswitch_graph.state import AdaSwitchState, Decision, Step, Usage, current_draft, spent
from adaswitch_graph.steps import solution_so_far
from adaswitch_graph.verifier import JUDGE_FEATURE

SELF_VERIFY = "self_verify"
JUDGE_MAX_TOKENS = 3


def capped(
    decision: Decision, retried: bool, budget: Budget, usage: Usage, failed: str | None = None
) -> tuple[Decision, str | None]:
    """The policy's decision under the rules no policy can break: one local retry per
    step (a retried step still doubted goes to the cloud), the budget (a step the
    budget cannot pay for is accepted; the reason is returned), and no second cloud
    call for a step whose first one `failed` (its reason)."""
    if decision == "retry" and retried:
        decision = "cloud"
    if decision == "cloud" and failed:
        return "accept", failed
    if decision == "cloud" and (reason := budget.exhausted(usage)):
        return "accept", reason
    return decision, None


def policy_says(policy: Policy | TokenLevel, view: StepView) -> tuple[Decision, int | None]:
    """The policy's decision on the step under `view`, with the token a token-level
    policy hands to the cloud (None when it hands none). A token-level policy is asked
    once, for the token: a policy of one's own need not answer the same twice."""
    if isinstance(policy, TokenLevel):
        at = policy.handover_at(view)
        return ("accept" if at is None else "cloud"), at
    decision = policy.decide(view)
    if decision not in get_args(Decision):
        raise ValueError(
            f"{type(policy).__name__}.decide returned {decision!r}; "
            f"a policy must return one of {get_args(Decision)}"
        )
    return decision, None


def build_self_verify(ctx: GraphContext) -> RunnableCallable:
    def prepare(state: AdaSwitchState) -> ModelRequest | None:
        draft = current_draft(state)
        if not ctx.judge and "min_logprob" in draft["signals"]:
            return None
        messages = ctx.prompts.judge.format_messages(
            question=state["question"],
            solution=solution_so_far(state["steps"]),
            index=draft["index"],
            step=draft["text"],
        )
        return ModelRequest("local", with_output_limit(ctx.local, JUDGE_MAX_TOKENS), messages)

    def finish(state: AdaSwitchState, reply: ModelReply | None) -> dict[str, Any]:
        draft = current_draft(state)
        signals = dict(draft["signals"])
        if reply is not None and reply.message is not None:
            p_correct = judge_p_correct(reply.message)
            if p_correct is not None:
                signals[JUDGE_FEATURE] = p_correct
        verified = Step(**{**draft, "signals": signals})
        verified["error_probability"] = ctx.verifier.error_probability(signals)
        usage = state.get("usage") or {}
        view = StepView(
            question=state["question"],
            step=verified,
            steps=state["steps"],
            cloud_calls=spent(usage, "cloud", "calls"),
            tokens=draft.get("tokens", []),
        )
        decision, at = policy_says(ctx.policy, view)
        policy_decision = decision
        # A step the cloud already wrote part of stays flagged.
        verified["flagged"] = draft["flagged"] or decision != "accept"
        decision, reason = capped(
            decision, draft["retried"], ctx.budget, usage, draft.get("cloud_error")
        )
        if reason is not None:
            verified["cloud_error"] = reason
        verified["decision"] = decision
        if decision != "cloud":
            at = None
        if at is not None:
            verified = cut(verified, view.tokens, at)
        emit(
            "verified",
            index=verified["index"],
            error_probability=verified["error_probability"],
            signals=signals,
            policy_decision=policy_decision,
            decision=decision,
            cloud_calls=view.cloud_calls,
            cloud_output_tokens=spent(usage, "cloud", "output_tokens"),
            usage=reply.usage if reply is not None else {},
            latency_s=reply.latency_s if reply is not None else 0.0,
            **({"handover_at": at} if at is not None else {}),
        )
        if policy_decision != "accept":
            emit(
                "flagged",
                index=verified["index"],
                error_probability=verified["error_probability"],
                decision=decision,
                reason=verified.get("cloud_error"),
            )
        return {"draft": verified, "usage": reply.usage if reply is not None else {}}

    return model_node(SELF_VERIFY, prepare, finish)
