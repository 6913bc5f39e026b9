"""benchmarks/batching.py times real generation on a bundled model, with and without
log-probabilities (SmolLM2-135M: only the plumbing is under test, not the speed)."""

from __future__ import annotations

import re

import pytest

from tests.test_calibrate import run_script


@pytest.mark.parametrize("flags", [(), ("--no-logprobs",)])
def test_one_stream_then_two_at_once_each_write_their_tokens(flags: tuple[str, ...]) -> None:
    args = ("--model", "smollm2-135m", "--concurrent", "2", "--tokens", "8", *flags)
    done = run_script("batching.py", *args, timeout=600)
    assert done.returncode == 0, done.stderr
    # Every request writes its 8-token limit (a count to 500 is longer), and its usage is
    # counted: 8 tokens alone, 16 for two at once.
    assert re.search(r"^1 concurrent: 8 tokens, \d+\.\d tok/s$", done.stdout, re.M), done.stdout
    assert re.search(r"^2 concurrent: 16 tokens, \d+\.\d tok/s$", done.stdout, re.M), done.stdout
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"smollm2-135m, \d+ slots, \d+ threads?(, no logprobs)?: x\d+\.\d\d", last)
    assert ("no logprobs" in last) == bool(flags)
