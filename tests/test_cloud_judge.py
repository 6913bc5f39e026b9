"""benchmarks/cloud_judge.py on kept verdicts: what it reports, and what it refuses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.test_calibrate import read_run, run_script, write_jsonl, write_run


def cloud_judge(*args: str) -> subprocess.CompletedProcess[str]:
    # The real-model test asks the 1.5B for ten verdicts.
    return run_script("cloud_judge.py", *args, timeout=900)


def verdicts(tmp_path: Path, right: float, wrong: float) -> Path:
    """Kept verdicts on every step of `write_run`'s run: `right` for the steps that
    reach the reference, `wrong` for those that miss it (the second step of even items),
    0.5 for the first steps, which compute nothing."""
    lines = []
    for record in read_run(tmp_path / "train.jsonl"):
        first, second = (step["text"] for step in record["trajectory"])
        n = int(record["item"].removeprefix("train-"))
        lines.append({"key": f"train-{n}/0", "step": first, "p_correct": 0.5})
        p = wrong if n % 2 == 0 else right
        lines.append({"key": f"train-{n}/1", "step": second, "p_correct": p})
    path = tmp_path / "verdicts.jsonl"
    write_jsonl(path, lines)
    return path


@pytest.mark.parametrize(
    ("right", "wrong", "auroc", "row"),
    [
        # the 8 most confident are right steps; nothing is left below 0.3
        (0.9, 0.2, "1.000", "| 20% | 0.90 | 0% | 0% | - |"),
        # the 8 most confident are 8 of the 10 wrong steps
        (0.2, 0.9, "0.000", "| 20% | 0.90 | 100% | 80% | - |"),
    ],
)
def test_the_verdicts_rank_the_flagged_steps(
    tmp_path: Path, right: float, wrong: float, auroc: str, row: str
) -> None:
    data, run = write_run(tmp_path)
    kept = verdicts(tmp_path, right=right, wrong=wrong)
    # A threshold that flags every step, so that right steps are flagged too.
    done = cloud_judge(
        str(run), "--data-dir", str(data), "--verdicts", str(kept), "--threshold", "0.3"
    )
    assert done.returncode == 0, done.stderr
    assert "40 of 40 steps flagged at 0.3; 40 judged, 20 of them labelled, 50% wrong" in done.stdout
    assert f"cloud's P(no): {auroc}" in done.stdout
    assert row in done.stdout
    assert "verdicts:" not in done.stdout  # every verdict was kept: no model was asked


def test_a_threshold_that_flags_nothing_says_so(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    done = cloud_judge(str(run), "--data-dir", str(data), "--threshold", "0.999")
    assert done.returncode != 0
    assert "the verifier flags none of the 40 steps at 0.999" in done.stderr


def test_verdicts_kept_from_another_run_are_refused(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    kept = verdicts(tmp_path, right=0.9, wrong=0.2)
    lines = read_run(kept)
    lines[1]["step"] = "a step of another run"  # train-0/1, which the verifier flags
    write_jsonl(kept, lines)
    done = cloud_judge(str(run), "--data-dir", str(data), "--verdicts", str(kept))
    assert done.returncode != 0
    assert "holds a verdict on another step at train-0/1" in done.stderr
