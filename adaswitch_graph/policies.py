"""Switching policies: given a verified draft step, accept it, send it to the cloud, or
let the local model retry it once.

A policy is any object with a `decide(view) -> Decision` method. The budget is applied
after the policy by the graph, so no policy can exceed it. A policy may also have a
`takes_over(steps) -> bool` method: when it returns True the cloud writes the next step
without a local draft to decide on (none would change the decision). A policy with a
`handover_at(view)` method and a `k` (`TokenLevel`) switches inside a step instead.
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any, Protocol, runtime_checkable

from adaswitch_graph.londi import LondiPolicy
from adaswitch_graph.state import Decision, Step, TokenScore


@dataclass(frozen=True)
class StepView:
    """What a policy sees when it decides about one draft step."""

    question: str
    step: Step
    """The draft, with its `signals` and `error_probability` filled in."""
    steps: Sequence[Step]
    """The steps accepted before it."""
    cloud_calls: int
    """Cloud calls made so far in this run."""
    tokens: Sequence[TokenScore] = ()
    """The tokens the local model has just written of the step, with their
    log-probabilities (empty when its backend returned none)."""


@runtime_checkable
class Policy(Protocol):
    """Decides what happens to a draft step."""

    def decide(self, view: StepView) -> Decision: ...


DEFAULT_THRESHOLD = 0.44
"""Set with the shipped verifier on GSM8K train steps of the bundled 0.5B model (it flags
38% of them); for another local model, `adaswitch calibrate` fits both."""


@dataclass(frozen=True)
class SelfVerifyPolicy:
    """AdaSwitch's policy: send the step to the cloud when the local agent's own error
    probability for it reaches `threshold`.

    With `retry=True` a flagged step is first rewritten once by the local model (with
    the critique), and goes to the cloud only if the rewrite is flagged too. With
    `handover=True` the cloud, once it has written a step, writes every step after it:
    the local model does not take the solution back, nor drafts those steps.

    With `max_question_chars`, a question longer than that gets no cloud call: every
    step is accepted as drafted. Long questions are the ones a cloud model fails too;
    with the bundled pair the question's length told them apart better than any
    confidence of either model, yet on held-out items the gate saved no more than a
    higher threshold does (docs/benchmarks.md, sessions 16-17). Tune it per pair.
    """

    threshold: float = DEFAULT_THRESHOLD
    retry: bool = False
    handover: bool = False
    max_question_chars: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.retry and self.handover:
            raise ValueError("retry and handover exclude each other: choose one")
        if self.max_question_chars is not None and self.max_question_chars < 1:
            raise ValueError(
                f"max_question_chars must be a positive number of characters or None, "
                f"got {self.max_question_chars}"
            )

    def takes_over(self, steps: Sequence[Step]) -> bool:
        return self.handover and any(s["author"] == "cloud" for s in steps)

    def _too_long(self, question: str) -> bool:
        return self.max_question_chars is not None and len(question) > self.max_question_chars

    def decide(self, view: StepView) -> Decision:
        if self.takes_over(view.steps):
            return "cloud"
        p_error = view.step["error_probability"]
        if p_error is None or p_error < self.threshold or self._too_long(view.question):
            return "accept"
        if self.retry and not view.step["retried"]:
            return "retry"
        return "cloud"


class _SwitchesInsideAStep(ABC):
    """What the token-level policies share: a step with a token to hand over goes to
    the cloud, which continues it from that token."""

    @abstractmethod
    def handover_at(self, view: StepView) -> int | None: ...

    def decide(self, view: StepView) -> Decision:
        return "accept" if self.handover_at(view) is None else "cloud"


@dataclass(frozen=True)
class TokenPolicy(_SwitchesInsideAStep):
    """The reward-based token hybrid (MS et al., arXiv 2409.13757): switch models inside
    a step. At the first token the local model writes with a reward below `tau`, its
    text is cut before that token, the cloud continues the step for `k` tokens, and the
    local model goes on from there. The reward of a token is its probability under the
    local model (no reward model is bundled).

    At most `max_switches` cloud continuations a step; after them the local model's
    text stands. Needs backends that continue the assistant's own message (llama.cpp,
    vLLM, Ollama) and local log-probabilities.

    With `confirm=True` the cloud's first token is read as it comes: when it is the
    doubted token itself, the cloud is stopped there (one output token) and the local
    model goes on, so a doubt the cloud shares costs one token instead of `k`, and
    leaves the local model's text as it would have been.

    `TokenPolicy(tau=0.9, k=4, max_switches=24, confirm=True)` (spec
    `token-confirm:0.9:4:24`) is the setting that met the project's target on held-out
    GSM8K items with the bundled pair (docs/benchmarks.md, session 28); it asks the
    cloud some 30 times a question, each call sending the solution so far.
    """

    tau: float = 0.7
    """Chosen on GSM8K train items with the bundled 0.5B as the one nearest 40% of cloud
    alone's output tokens (docs/benchmarks.md, session 19)."""
    k: int = 8
    max_switches: int = 8
    confirm: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.tau <= 1.0:
            raise ValueError(f"tau must be a probability in [0, 1], got {self.tau}")
        if self.k < 1 or self.max_switches < 1:
            raise ValueError(
                f"k and max_switches must be at least 1, got k={self.k}, "
                f"max_switches={self.max_switches}"
            )

    def handover_at(self, view: StepView) -> int | None:
        """Index in `view.tokens` of the first token the cloud should write instead, or
        None to accept them all."""
        if switches(view) >= self.max_switches or self.tau <= 0:
            return None
        floor = math.log(self.tau)
        return next((n for n, t in enumerate(view.tokens) if t["logprob"] < floor), None)


@dataclass(frozen=True)
class RandomTokenPolicy(_SwitchesInsideAStep):
    """Baseline of `TokenPolicy`: hand each local token to the cloud with probability
    `rate`, ignoring its reward; the cloud then continues for `k` tokens.

    The draw depends only on `seed`, the question, the step and the token's place in
    it, so a run is reproducible, and a token drawn while the local model writes is
    drawn the same when its step is verified.
    """

    rate: float
    k: int = TokenPolicy.k
    max_switches: int = TokenPolicy.max_switches
    seed: int = 0
    confirm: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {self.rate}")

    def handover_at(self, view: StepView) -> int | None:
        if switches(view) >= self.max_switches:
            return None
        at = sum(len(s["text"]) for s in view.step.get("spans", [])[:-1])
        for n, token in enumerate(view.tokens):
            if _draw(self.seed, view.question, view.step["index"], at) < self.rate:
                return n
            at += len(token["token"])
        return None


def switches(view: StepView) -> int:
    """The times the cloud has continued the step under view."""
    return sum(s["author"] == "cloud" for s in view.step.get("spans", []))


@dataclass(frozen=True)
class AlwaysLocal:
    """Baseline: the local model alone."""

    def decide(self, view: StepView) -> Decision:
        return "accept"


@dataclass(frozen=True)
class AlwaysCloud:
    """Baseline: the cloud writes every step (the local model drafts none)."""

    def takes_over(self, steps: Sequence[Step]) -> bool:
        return True

    def decide(self, view: StepView) -> Decision:
        return "cloud"


@dataclass(frozen=True)
class RandomPolicy:
    """Baseline: send each step to the cloud with probability `rate`, ignoring the signals.

    The draw depends only on `seed`, the question and the step index, so a run is
    reproducible and two systems compared on the same items see the same coin flips.
    """

    rate: float
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {self.rate}")

    def decide(self, view: StepView) -> Decision:
        draw = _draw(self.seed, view.question, view.step["index"])
        return "cloud" if draw < self.rate else "accept"


def _draw(seed: int, question: str, *place: int) -> float:
    """A uniform number in [0, 1) fixed by its arguments."""
    key = "\x00".join(map(str, (seed, question, *place))).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64


@runtime_checkable
class TokenLevel(Protocol):
    """A policy that switches models inside a step (`TokenPolicy`, or one's own):
    `handover_at` names the first token of the local model's the cloud should write
    instead, and the cloud then continues the step for `k` tokens (with a `confirm`
    attribute that is True, only when its first token is not the doubted one). A step
    goes to the cloud exactly when `handover_at` names a token: its `decide`, if it has
    one, is not asked."""

    @property
    def k(self) -> int: ...

    def handover_at(self, view: StepView) -> int | None: ...


def takes_over(policy: Policy | TokenLevel, steps: Sequence[Step]) -> bool:
    """Whether `policy` sends the next step to the cloud whatever the local model would
    write (False for a policy without a `takes_over` method)."""
    method = getattr(policy, "takes_over", None)
    return bool(method(steps)) if callable(method) else False


KNOWN_POLICIES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        SelfVerifyPolicy,
        TokenPolicy,
        AlwaysLocal,
        AlwaysCloud,
        RandomPolicy,
        RandomTokenPolicy,
        LondiPolicy,
    )
}


def describe_policy(policy: Policy | TokenLevel) -> dict[str, Any]:
    """The policy's class and settings, as a trace records them."""
    settings: dict[str, Any] = {}
    if is_dataclass(policy) and not isinstance(policy, type):
        settings = asdict(policy)
    return {"type": type(policy).__name__, **settings}


def policy_from_description(description: dict[str, Any]) -> Policy | None:
    """The policy a trace describes, when it is one of ours (None for a user's own)."""
    settings: dict[str, Any] = dict(description)
    cls = KNOWN_POLICIES.get(settings.pop("type", ""))
    return cls(**settings) if cls is not None else None


_SELF_VERIFY_OPTIONS: dict[str, dict[str, bool]] = {
    "selfverify": {},
    "self-verify": {},
    "adaswitch": {},
    "selfverify-retry": {"retry": True},
    "retry": {"retry": True},
    "selfverify-handover": {"handover": True},
    "handover": {"handover": True},
}
"""Spec names of `SelfVerifyPolicy`, and the options each one sets."""


def parse_policy(spec: str) -> Policy:
    """Build a policy from a short spec: `selfverify[:THRESHOLD[:MAX_QUESTION_CHARS]]`,
    `selfverify-retry[:T[:C]]`, `selfverify-handover[:T[:C]]`,
    `token[:TAU[:K[:MAX_SWITCHES]]]`, `token-confirm[:TAU[:K[:MAX_SWITCHES]]]`, `local`,
    `cloud`, `random:RATE`, `londi[:POLICY_JSON]` (the shipped one without a file)."""
    name, _, arg = spec.strip().lower().partition(":")
    if name == "londi":
        path = spec.strip().partition(":")[2]
        return LondiPolicy.load(path) if path else LondiPolicy.default()
    try:
        if (options := _SELF_VERIFY_OPTIONS.get(name)) is not None:
            threshold, _, chars = arg.partition(":")
            return SelfVerifyPolicy(
                float(threshold) if threshold else DEFAULT_THRESHOLD,
                max_question_chars=int(chars) if chars else None,
                **options,
            )
        if name in ("local", "alwayslocal") and not arg:
            return AlwaysLocal()
        if name in ("cloud", "alwayscloud") and not arg:
            return AlwaysCloud()
        if name == "random" and arg:
            return RandomPolicy(float(arg))
        if name in ("token", "token-confirm"):
            tau, _, rest = arg.partition(":")
            k, _, most = rest.partition(":")
            return TokenPolicy(
                float(tau) if tau else TokenPolicy.tau,
                int(k) if k else TokenPolicy.k,
                int(most) if most else TokenPolicy.max_switches,
                confirm=name == "token-confirm",
            )
    except ValueError as exc:
        raise ValueError(f"bad policy spec {spec!r}: {exc}") from None
    raise ValueError(
        f"unknown policy spec {spec!r}; use one of: selfverify[:THRESHOLD[:MAX_QUESTION_CHARS]], "
        "selfverify-retry[:THRESHOLD[:...]], selfverify-handover[:THRESHOLD[:...]], "
        "token[:TAU[:K[:MAX_SWITCHES]]], token-confirm[:TAU[:K[:MAX_SWITCHES]]], local, cloud, "
        "random:RATE, londi[:POLICY_JSON]"
    )
