"""The graph's state: the accepted trajectory, the pending draft and the usage ledger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, NotRequired, TypedDict

from langgraph.graph import MessagesState

Author = Literal["local", "cloud"]
Decision = Literal["accept", "cloud", "retry"]
Role = Literal["local", "cloud"]


class Step(TypedDict):
    """One reasoning step of the trajectory."""

    index: int
    """1-based position in the solution."""
    text: str
    """The step as accepted (the cloud's correction when the cloud assisted)."""
    author: Author
    draft: str
    """What the local model first wrote for this step."""
    signals: dict[str, float]
    """Verification signals: token confidence (`min_logprob`, `mean_logprob`, ...),
    and `p_correct_judge` when the model's own judgement was asked."""
    error_probability: float | None
    """The verifier's calibrated probability that `draft` is wrong."""
    decision: Decision | None
    """What the policy decided, before the budget was applied."""
    flagged: bool
    """The policy did not accept the draft as written."""
    assisted: bool
    """The cloud wrote `text`."""
    retried: bool
    """The local model rewrote the step once after it was flagged."""
    final: bool
    """The step states the final answer."""
    cloud_error: NotRequired[str]
    """Why the cloud's correction is missing (the call failed, or the budget was spent)."""
    tool_calls: NotRequired[list[ToolUse]]
    """Tools the step called, with their observations (graphs built with `tools`)."""
    spans: NotRequired[list[Span]]
    """Who wrote which part of the step, in order, when a token-level policy
    (`TokenPolicy`) switched models inside it; `text` is their concatenation."""
    open: NotRequired[bool]
    """A draft cut mid-step: the other model continues it (never set on merged steps)."""
    tokens: NotRequired[list[TokenScore]]
    """The newest local span's tokens and their log-probabilities, for a token-level
    policy (dropped when the step is merged)."""


class Span(TypedDict):
    author: Author
    text: str
    """Exactly as written, whitespace included, so the spans join into the step."""


class TokenScore(TypedDict):
    token: str
    logprob: float


class ToolUse(TypedDict):
    tool: str
    input: str
    output: str


class RoleUsage(TypedDict):
    """Token and call counts for one role. Characters are counted from what was
    actually sent and received, so every byte crossing to the cloud is accounted for
    even when a provider reports no token usage."""

    calls: int
    input_tokens: int
    output_tokens: int
    input_chars: int
    output_chars: int
    uncounted_input_chars: int
    """Of `input_chars`, those of calls whose input tokens the backend never reported
    (`input_tokens` leaves them out): a stream closed early on a backend that gives the
    prompt's length only in its final usage report (Ollama, OpenAI's API), a failed
    call, a backend that reports no usage. `estimated_input_tokens` counts them."""
    cached_input_tokens: int
    """Of `input_tokens`, those the backend read from its cache of an earlier prompt's
    beginning instead of processing them again, as it reported them (`cache_read` in
    LangChain's `input_token_details`: OpenAI, vLLM, Anthropic; llama.cpp's `cache_n`).
    A provider that discounts cached input bills them at its cached price."""


Usage = dict[str, RoleUsage]

USAGE_FIELDS: tuple[str, ...] = tuple(RoleUsage.__annotations__)

CHARS_PER_TOKEN = 4.0
"""The usual size of an English token in characters: what a call's uncounted characters
are taken to hold when no call of the ledger reported its input tokens."""


def empty_usage() -> RoleUsage:
    return RoleUsage(
        calls=0,
        input_tokens=0,
        output_tokens=0,
        input_chars=0,
        output_chars=0,
        uncounted_input_chars=0,
        cached_input_tokens=0,
    )


def estimated_input_tokens(counts: RoleUsage | Mapping[str, int]) -> float:
    """`input_tokens` plus the tokens of `uncounted_input_chars`, at the tokens per
    character of the calls that reported theirs (`CHARS_PER_TOKEN` when none did)."""
    uncounted = counts.get("uncounted_input_chars", 0)
    counted_chars = counts.get("input_chars", 0) - uncounted
    tokens = counts.get("input_tokens", 0)
    per_char = tokens / counted_chars if tokens and counted_chars > 0 else 1 / CHARS_PER_TOKEN
    return tokens + uncounted * per_char


def merge_usage(left: Usage | None, right: Usage | None) -> Usage:
    """Reducer: add per-role counters."""
    # `{**empty_usage(), ...}`: a ledger checkpointed before a field was added lacks it.
    merged: Usage = {role: {**empty_usage(), **counts} for role, counts in (left or {}).items()}
    for role, counts in (right or {}).items():
        total = merged.setdefault(role, empty_usage())
        for field in USAGE_FIELDS:
            total[field] += counts.get(field, 0)  # type: ignore[literal-required]
    return merged


def add_steps(left: list[Step] | None, right: list[Step] | None) -> list[Step]:
    """Reducer: append accepted steps to the trajectory."""
    return [*(left or []), *(right or [])]


class AdaSwitchState(MessagesState):
    """State of the AdaSwitch graph.

    It extends `MessagesState`, so the compiled graph drops into a larger graph as a
    subgraph: the question is read from the last user message and the final answer is
    appended as an AI message.
    """

    question: str
    steps: Annotated[list[Step], add_steps]
    draft: Step | None
    final_answer: str | None
    usage: Annotated[Usage, merge_usage]


def spent(usage: Usage, role: Role, field: Literal["calls", "output_tokens"]) -> int:
    """One counter of the ledger (0 when the role has not been called)."""
    counts = usage.get(role)
    return counts.get(field, 0) if counts else 0


def current_draft(state: AdaSwitchState) -> Step:
    """The draft step under way; the nodes after `local_reason` need one."""
    draft = state.get("draft")
    if draft is None:
        raise RuntimeError("no draft step in the state: this node must follow local_reason")
    return draft
