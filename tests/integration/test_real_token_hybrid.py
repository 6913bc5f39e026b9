"""benchmarks/token_hybrid.py on the real bundled models: the cloud writes at the
local model's doubted tokens, a few tokens a switch."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_calibrate import run_script

ITEM = {
    "question": "A box holds 6 eggs. How many eggs are in 4 boxes and 2 more eggs?",
    "answer": "6 * 4 = <<6*4=24>>24 eggs\n24 + 2 = <<24+2=26>>26 eggs\n#### 26",
}


def test_the_token_switch_hands_the_cloud_a_few_tokens_at_a_time(tmp_path: Path) -> None:
    data = tmp_path / "items.jsonl"
    data.write_text(json.dumps(ITEM) + "\n")
    out = tmp_path / "token.jsonl"
    # The greedy token's probability is below 0.9 a few times in any solution.
    args = ("--dataset", str(data), "--limit", "1", "--tau", "0.9", "--k", "4")
    args += ("--cloud", "embedded:smollm2-135m", "--out", str(out))
    done = run_script("token_hybrid.py", *args, timeout=900)
    assert done.returncode == 0, done.stderr
    records = {r["system"]: r for r in map(json.loads, out.read_text().splitlines())}
    local, token = records["local"], records["token:0.9:4"]
    assert local["cloud_calls"] == 0 and local["solution"].startswith("Step 1:")
    assert token["switches"] >= 1 and token["cloud_calls"] == token["switches"]
    assert 0 < token["cloud_output_tokens"] <= 4 * token["switches"]
    assert "| token:0.9:4 | 1 |" in done.stdout
