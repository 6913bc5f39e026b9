"""Every example runs end to end on real models (SmolLM2 on both sides, to keep CI
short; the examples default to the bundled Qwen pair)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPECTED = {
    "math_agent.py": "/3 right",
    "yes_no_qa.py": "-> ",
    "tool_agent.py": "answer:",
    "drop_in_chain.py": "adaswitch:",
    "streaming.py": "answer:",
    "subgraph.py": "hi there -> Hello! Ask me a word problem.",
}


def test_every_example_is_covered() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} - {"quickstart.py"} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    env = {
        **os.environ,
        "ADASWITCH_LOCAL": "embedded:smollm2-135m",
        "ADASWITCH_CLOUD": "embedded:smollm2-135m",
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr
    assert EXPECTED[name] in done.stdout
