"""A hard cap on what the cloud may spend in one run, enforced outside the policy."""

from __future__ import annotations

from dataclasses import dataclass

from adaswitch_graph.state import Usage
from adaswitch_graph.state import spent as usage_spent


@dataclass(frozen=True)
class Budget:
    """Caps on the cloud's share of one run.

    `max_cloud_calls` caps the number of cloud calls. `max_cloud_tokens` caps the
    tokens the cloud writes (output tokens, the part that is billed most and that
    dominates latency): each cloud call is made with an output limit of what is left,
    so the cap holds for models that honour `max_tokens` (OpenAI-compatible servers,
    Ollama's `num_predict`, Anthropic...). A step flagged after the budget is spent is
    accepted as the local model wrote it and recorded as flagged but unassisted.
    """

    max_cloud_calls: int | None = None
    max_cloud_tokens: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_cloud_calls", "max_cloud_tokens"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"Budget.{name} must be a non-negative int or None, got {value!r}")

    def remaining_tokens(self, usage: Usage) -> int | None:
        """Cloud output tokens still allowed, or None when tokens are not capped."""
        if self.max_cloud_tokens is None:
            return None
        spent = usage_spent(usage, "cloud", "output_tokens")
        return max(0, self.max_cloud_tokens - spent)

    def exhausted(self, usage: Usage) -> str | None:
        """Why no further cloud call is allowed, or None when one is."""
        calls = usage_spent(usage, "cloud", "calls")
        if self.max_cloud_calls is not None and calls >= self.max_cloud_calls:
            return f"budget spent: {calls} of {self.max_cloud_calls} cloud calls used"
        if self.remaining_tokens(usage) == 0:
            return f"budget spent: {self.max_cloud_tokens} cloud output tokens used"
        return None
