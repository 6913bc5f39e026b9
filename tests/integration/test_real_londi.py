"""The shipped LONDI-B policy in the graph with the real bundled local model."""

from __future__ import annotations

from adaswitch_graph import LondiPolicy, StepView
from tests.integration.test_real_models import with_counted_cloud

QUESTION = (
    "A baker makes 3 batches of 24 cookies, sells 50 of them and gives away a third of "
    "the rest. How many cookies does he have left?"
)


def test_the_shipped_londi_policy_decides_each_real_step_from_its_state() -> None:
    policy = LondiPolicy.default()
    result, proxy = with_counted_cloud(QUESTION, policy=policy, max_steps=6)
    steps = result["steps"]
    assert steps and all(s["error_probability"] is not None for s in steps)
    calls = 0
    for n, step in enumerate(steps):
        # The decision the graph recorded is the one the policy makes from the state
        # the step was drafted in: its error probability, place, and the calls so far.
        seen = StepView(QUESTION, step, steps[:n], calls)
        assert step["decision"] == policy.decide(seen)
        assert (step["author"] == "cloud") == (step["decision"] == "cloud")
        calls += step["author"] == "cloud"
    assert calls <= policy.max_calls
    assert sum(proxy.requests.values()) == result["usage"].get("cloud", {}).get("calls", 0)
