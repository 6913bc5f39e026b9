"""benchmarks/cloud_judge.py on kept verdicts: what it reports, and what it refuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_calibrate import ROOT, write_run

SCRIPT = ROOT / "benchmarks" / "cloud_judge.py"


def cloud_judge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # Against hangs only: the real-model test asks the 1.5B for 40 verdicts.
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


def verdicts(tmp_path: Path, right: float, wrong: float) -> Path:
    """Kept verdicts on every step of `write_run`'s run: `right` for the steps that
    reach the reference, `wrong` for those that miss it (the second step of even items),
    0.5 for the first steps, which compute nothing."""
    lines = []
    for n in range(20):
        lines.append({"key": f"train-{n}/0", "p_correct": 0.5})
        lines.append({"key": f"train-{n}/1", "p_correct": wrong if n % 2 == 0 else right})
    path = tmp_path / "verdicts.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_verdict_that_knows_the_label_keeps_only_right_steps(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    kept = verdicts(tmp_path, right=0.9, wrong=0.2)
    # A threshold that flags every step, so that right steps are flagged too.
    done = cloud_judge(
        str(run), "--data-dir", str(data), "--verdicts", str(kept), "--threshold", "0.3"
    )
    assert done.returncode == 0, done.stderr
    assert "40 of 40 steps flagged at 0.3; 40 judged, 20 of them labelled, 50% wrong" in done.stdout
    assert "cloud's P(no): 1.000" in done.stdout
    assert "| 20% | 0.90 | 0% | 0% | - |" in done.stdout  # nothing left below 0.3
    assert "verdicts:" not in done.stdout  # every verdict was kept: no model was asked


def test_a_verdict_against_the_label_scores_below_chance(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    kept = verdicts(tmp_path, right=0.2, wrong=0.9)
    done = cloud_judge(
        str(run), "--data-dir", str(data), "--verdicts", str(kept), "--threshold", "0.3"
    )
    assert done.returncode == 0, done.stderr
    assert "cloud's P(no): 0.000" in done.stdout
    assert "| 20% | 0.90 | 100% | 80% | - |" in done.stdout  # 8 of the 10 wrong steps


def test_a_threshold_that_flags_nothing_says_so(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    done = cloud_judge(str(run), "--data-dir", str(data), "--threshold", "0.999")
    assert done.returncode != 0
    assert "the verifier flags none of the 40 steps at 0.999" in done.stderr
