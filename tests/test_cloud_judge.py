"""benchmarks/cloud_judge.py on kept verdicts: what it reports, and what it refuses."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tests.fakes import ScriptedChatModel, reply
from tests.test_calibrate import ROOT, read_run, run_script, write_jsonl, write_run


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


def number_verdicts(tmp_path: Path, check: str = "number") -> Path:
    """Kept number-check verdicts: the cloud writes the local number on the right second
    steps and on two of the ten wrong ones (train-0 and train-2)."""
    lines = []
    for record in read_run(tmp_path / "train.jsonl"):
        second = record["trajectory"][1]["text"]
        n = int(record["item"].removeprefix("train-"))
        agrees = n % 2 == 1 or n in (0, 2)
        lines.append({"key": f"train-{n}/0", "step": record["trajectory"][0]["text"]})
        lines[-1] |= {"check": check, "p_correct": None, "out_tokens": 0}
        lines.append({"key": f"train-{n}/1", "step": second, "check": check})
        lines[-1] |= {"p_correct": float(agrees), "out_tokens": 3}
    path = tmp_path / "numbers.jsonl"
    write_jsonl(path, lines)
    return path


def test_the_number_check_keeps_the_steps_whose_number_the_cloud_wrote_too(
    tmp_path: Path,
) -> None:
    data, run = write_run(tmp_path)
    kept = number_verdicts(tmp_path)
    args = ("--data-dir", str(data), "--verdicts", str(kept), "--threshold", "0.3")
    done = cloud_judge(str(run), *args, "--check", "number")
    assert done.returncode == 0, done.stderr
    # First steps compute no number: they get no verdict.
    assert "40 of 40 steps flagged at 0.3; 20 judged, 20 of them labelled, 50% wrong" in done.stdout
    # It agrees on all 10 right steps and 2 of the 10 wrong ones.
    assert "cloud's other number: 0.900" in done.stdout
    assert "the check cost 3.0 cloud output tokens a step" in done.stdout
    assert "| 60% | 1.00 | 17% | 20% | - |" in done.stdout
    assert "verdicts:" not in done.stdout


def test_verdicts_of_the_other_check_are_refused(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    kept = number_verdicts(tmp_path, check="judge")
    done = cloud_judge(
        str(run), "--data-dir", str(data), "--verdicts", str(kept), "--check", "number"
    )
    assert done.returncode != 0
    assert "holds verdicts of --check judge, not number" in done.stderr


def test_the_number_check_continues_the_step_up_to_its_first_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from cloud_judge import NUMBER_TOKENS, Flagged, verdict

    # Like llama.cpp, the fake returns the prefill with its continuation.
    cloud = ScriptedChatModel(respond=lambda m, _: reply(f"{m[-1].text}1,200 cookies"))
    before = [{"index": 1, "text": "There are 3 boxes."}]
    step = Flagged("train-0/1", None, "How many cookies?", before, 2, "3 * 400 = 1200 cookies")  # type: ignore[arg-type]
    found = asyncio.run(verdict(cloud, step, "number"))
    assert found["p_correct"] == 1.0
    assert found["cloud"] == "1,200 cookies"
    sent = cloud.calls[0]
    assert sent["messages"][-1].text == "Step 1: There are 3 boxes.\nStep 2: 3 * 400 = "
    assert sent["messages"][1].text == "How many cookies?"
    assert sent["max_tokens"] == NUMBER_TOKENS and sent["stop"] == ["\n"]

    other = replace(step, text="3 * 400 = 1000 cookies")
    assert asyncio.run(verdict(cloud, other, "number"))["p_correct"] == 0.0
    # A step that computes nothing has no number to check, and costs no call.
    nothing = replace(step, text="Add the boxes up.")
    assert asyncio.run(verdict(cloud, nothing, "number"))["p_correct"] is None
    assert len(cloud.calls) == 2
