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
