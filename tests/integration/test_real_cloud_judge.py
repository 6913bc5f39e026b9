"""benchmarks/cloud_judge.py asks the bundled 1.5B for its verdicts and keeps them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_calibrate import write_run
from tests.test_cloud_judge import cloud_judge


def test_verdicts_come_from_the_cloud_models_log_probabilities_and_are_kept(
    tmp_path: Path,
) -> None:
    data, run = write_run(tmp_path)
    kept = tmp_path / "verdicts.jsonl"
    # 0.5 flags the ten steps written with unsure digits.
    args = (str(run), "--data-dir", str(data), "--verdicts", str(kept), "--threshold", "0.5")
    done = cloud_judge(*args)
    assert done.returncode == 0, done.stderr
    assert "verdicts: 10/10" in done.stdout
    verdicts = [json.loads(line) for line in kept.read_text().splitlines()]
    assert sorted(v["key"] for v in verdicts) == sorted(f"train-{n}/1" for n in range(0, 20, 2))
    # Read off the first token's alternatives: strictly between a plain "yes" and "no".
    assert all(0.0 < v["p_correct"] < 1.0 for v in verdicts)
    assert "10 of 40 steps flagged at 0.5; 10 judged" in done.stdout
    again = cloud_judge(*args)
    assert again.returncode == 0, again.stderr
    assert "verdicts:" not in again.stdout
    assert kept.read_text().count("\n") == 10


def test_the_number_check_reads_the_number_the_cloud_model_writes(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    kept = tmp_path / "numbers.jsonl"
    # 0.3 flags every step; the ten right second steps add two numbers, the ten wrong
    # ones write their product plus one.
    args = (str(run), "--data-dir", str(data), "--verdicts", str(kept), "--threshold", "0.3")
    done = cloud_judge(*args, "--check", "number")
    assert done.returncode == 0, done.stderr
    verdicts = {v["key"]: v for v in map(json.loads, kept.read_text().splitlines())}
    # First steps compute nothing: no call, no verdict.
    assert all(verdicts[f"train-{n}/0"]["p_correct"] is None for n in range(20))
    right = [verdicts[f"train-{n}/1"] for n in range(1, 20, 2)]
    wrong = [verdicts[f"train-{n}/1"] for n in range(0, 20, 2)]
    # The 1.5B adds two small numbers right: it writes the right steps' sums, never
    # the wrong steps' products plus one.
    assert sum(v["p_correct"] for v in right) >= 8, right
    assert sum(v["p_correct"] for v in wrong) == 0, wrong
    assert all(0 < v["out_tokens"] <= 12 for v in right + wrong)
    assert "20 judged, 20 of them labelled, 50% wrong" in done.stdout
