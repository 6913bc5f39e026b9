from __future__ import annotations

from typing import Any

import pytest

from adaswitch_graph import Verifier, create_adaswitch_graph

# A verifier with fixed coefficients, so the tests do not move when the shipped ones
# are refit: P(wrong) is 0.12 for a step whose least likely token has logprob -0.05,
# 0.88 for one at -4.
TEST_VERIFIER = Verifier(coefficients={"min_logprob": -1.0}, intercept=-2.0)
JUDGED_VERIFIER = Verifier(
    coefficients={"min_logprob": -1.0, "p_correct_judge": -6.0}, intercept=1.0
)
"""For graphs with `judge=True`: sure tokens and a "yes" give a low error probability, a
"no" a high one."""

QUESTION = "Natalia sold 48 clips in April and half as many in May. How many in total?"


@pytest.fixture
def build() -> Any:
    """Compile a graph with the test verifier; keyword arguments go to the factory."""

    def _build(local: Any, cloud: Any, checkpointer: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("verifier", TEST_VERIFIER)
        return create_adaswitch_graph(local, cloud, **kwargs).compile(checkpointer=checkpointer)

    return _build


def ask(question: str = QUESTION) -> dict[str, Any]:
    return {"messages": [("user", question)]}
