"""benchmarks/cloud_spend.py: where a system's cloud tokens went, and when it first
asked the cloud on the gap questions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.test_calibrate import ROOT, write_jsonl

SCRIPT = ROOT / "benchmarks" / "cloud_spend.py"


def steps(*specs: tuple[str, int]) -> list[dict[str, Any]]:
    """Steps by (author, result): each computes `2 + 3 = result` (5 is the reference's)."""
    return [
        {"index": n, "author": author, "text": f"2 + 3 = {result}"}
        for n, (author, result) in enumerate(specs, 1)
    ]


def record(system: str, n: int, correct: bool, tokens: int = 0, **extra: Any) -> dict[str, Any]:
    return {"system": system, "item": f"test-{n}", "correct": correct, "error": None} | {
        "cloud_output_tokens": tokens,
        **extra,
    }


def write_bench(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    (data / "gsm8k").mkdir(parents=True)
    reference = {"question": "2 and 3?", "answer": "2+3 = <<2+3=5>>5\n#### 5"}
    write_jsonl(data / "gsm8k" / "test.jsonl", [reference] * 7)
    right, wrong = [("local", 5), ("local", 5)], [("local", 7), ("local", 5)]
    ours = "selfverify:0.5"
    rows = []
    # item: local right?, cloud right?, ours right?, our cloud tokens, local's and our steps
    for n, (local_ok, cloud_ok, ours_ok, tokens, local_steps, our_steps) in enumerate(
        [
            (True, True, True, 12, right, [("local", 5), ("cloud", 5)]),
            (False, True, True, 24, wrong, [("cloud", 5), ("local", 5)]),  # at it
            (False, True, False, 24, [("local", 5), ("local", 7)], [("cloud", 5)] * 2),  # before
            (False, True, False, 24, wrong, [("local", 7), ("cloud", 5)]),  # too late
            (False, True, False, 0, wrong, wrong),  # never sent
            (False, True, True, 24, None, [("cloud", 5), ("local", 5)]),  # none marked
            (False, False, True, 36, wrong, [("cloud", 5), ("cloud", 5)]),
        ]
    ):
        # A failed run's record from before the bench kept its steps has none.
        kept: dict[str, Any] = {} if local_steps is None else {"trajectory": steps(*local_steps)}
        rows.append(record("local", n, local_ok, **kept))
        rows.append(record("cloud", n, cloud_ok, 40))
        rows.append(record(ours, n, ours_ok, tokens, trajectory=steps(*our_steps)))
    results = tmp_path / "bench.jsonl"
    write_jsonl(results, [{"meta": True, "system": ours}, *rows])
    return data, results


def spend(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


def test_groups_the_spend_and_times_the_gap_questions(tmp_path: Path) -> None:
    data, results = write_bench(tmp_path)
    done = spend(str(results), "--system", "selfverify:0.5", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "selfverify:0.5 on 7 items" in out
    # Cloud alone wrote 7 x 40 = 280 tokens; ours 12 + 96 + 36.
    assert "| local right | 1 | 1 | 4% | 14% |" in out
    assert "| gap: only cloud right | 5 | 2 | 34% | 71% |" in out
    assert "| neither right | 1 | 1 | 13% | 14% |" in out
    assert "| no step sent | 1 | 0 |" in out
    assert "| first sent before the first wrong step | 1 | 0 |" in out
    assert "| first sent at the first wrong step | 1 | 1 |" in out
    assert "| first sent after the first wrong step | 1 | 0 |" in out
    assert "| first sent, no step marked wrong | 1 | 1 |" in out
    # Four gap solutions of two 9-character steps (the fifth has none kept); one wrong
    # step each, the first after 0, 9, 0 and 0 characters.
    assert out.rstrip().endswith(
        "local alone's solutions to 4 of them: 18 characters a question, 50% of them in "
        "steps the reference marks wrong; 4 have such a step, the first after 2 characters "
        "on average"
    )


def test_a_system_without_records_on_the_shared_items_is_an_error(tmp_path: Path) -> None:
    data, results = write_bench(tmp_path)
    done = spend(str(results), "--system", "selfverify:0.9", "--data-dir", str(data))
    assert done.returncode != 0
    assert "no item has records of local, cloud and 'selfverify:0.9'" in done.stderr


def test_a_system_without_trajectories_gets_no_timing(tmp_path: Path) -> None:
    data, results = write_bench(tmp_path)
    with results.open("a") as sink:
        sink.writelines(
            json.dumps(record("cascade", n, n == 0, 40 if n else 0)) + "\n" for n in range(7)
        )
    done = spend(str(results), "--system", "cascade", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "| gap: only cloud right | 5 | 0 | 71% | 71% |" in done.stdout
    assert "(its records keep no trajectory: no step timing)" in done.stdout


def test_caps_bracket_what_a_per_question_budget_could_recover(tmp_path: Path) -> None:
    data, results = write_bench(tmp_path)
    done = spend(
        str(results), "--system", "selfverify:0.5", "--data-dir", str(data), "--caps", "30,20"
    )
    assert done.returncode == 0, done.stderr
    # Local gets 1 right, cloud 6, ours 4 (items 0, 1, 5, 6): a gap of 5, 60% recovered.
    # Cap 30: item 6 (36 tokens, right) is over it: 12 + 4 x 24 + 30 = 138 of 280.
    assert "| 30 | 1 | 49% | 60% | 40% |" in done.stdout
    # Cap 20: items 1, 2, 3, 5, 6 are over it (three of them right): 12 + 5 x 20 = 112.
    assert "| 20 | 5 | 40% | 60% | 0% |" in done.stdout


def test_gap_questions_without_a_worked_solution_get_no_timing(tmp_path: Path) -> None:
    data, results = write_bench(tmp_path)
    # A reasoning-gym item: no reference solution to mark the local model's steps by.
    gym = {"item": "gym:gsm_symbolic-0"}
    with results.open("a") as sink:
        for row in (
            record("local", 0, False, trajectory=steps(("local", 7))),
            record("cloud", 0, True, 40),
            record("selfverify:0.5", 0, True, 24, trajectory=steps(("cloud", 5))),
        ):
            sink.write(json.dumps(row | gym) + "\n")
    done = spend(str(results), "--system", "selfverify:0.5", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "| gap: only cloud right | 6 | 3 |" in done.stdout
    assert "(gap questions without a worked solution, so no step timing: 1)" in done.stdout
    # It is not counted as a question whose local steps the reference marks right.
    assert "| first sent, no step marked wrong | 1 | 1 |" in done.stdout


def solution(*digits: float, lowest: float = -0.1) -> list[dict[str, Any]]:
    """Steps with these summed digit log-probabilities (and lowest token log-probability)."""
    return [
        {
            "index": n,
            "author": "local",
            "text": "",
            "signals": {"digits_logprob": d, "min_logprob": lowest},
        }
        for n, d in enumerate(digits, 1)
    ]


def test_cloud_failure_scores_what_was_known_before_the_spend(tmp_path: Path) -> None:
    data, _ = write_bench(tmp_path)
    # (local right?, cloud right?, local's steps, cloud's steps)
    questions = [
        # The cloud's first step is sure where it will fail, unsure where it succeeds;
        # its later steps give its failures away.
        (False, False, solution(-0.1), solution(-0.1, -3.0)),
        (False, False, solution(-0.2), solution(-0.2, -2.0, -2.0)),
        (False, True, solution(-1.0, lowest=-2.0), solution(-1.0, -0.1)),
        (False, True, solution(-2.0, lowest=-3.0), solution(-2.0)),
        # Left out: local right, and a record without steps.
        (True, False, solution(-9.0), solution(-9.0)),
        (False, False, solution(-9.0), None),
    ]
    rows = []
    for n, (local_ok, cloud_ok, local_steps, cloud_steps) in enumerate(questions):
        rows.append(record("local", n, local_ok, trajectory=local_steps))
        kept = {} if cloud_steps is None else {"trajectory": cloud_steps}
        rows.append(record("cloud", n, cloud_ok, 40, **kept))
        rows.append(record("selfverify:0.5", n, local_ok, 0, trajectory=local_steps))
    # Left out too: a local run that failed midway, keeping the steps it had.
    rows.append(record("local", 6, False, trajectory=solution(-9.0), error="TimeoutError"))
    rows.append(record("cloud", 6, False, 40, trajectory=solution(-9.0)))
    rows.append(record("selfverify:0.5", 6, False, 0, trajectory=solution(-9.0)))
    results = tmp_path / "failure.jsonl"
    write_jsonl(results, rows)
    done = spend(
        str(results), "--system", "selfverify:0.5", "--data-dir", str(data), "--cloud-failure"
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "of 4 questions local alone got wrong, cloud alone got 2 wrong too" in out
    assert "| local solution, digits (the verifier's signal) | 0.000 |" in out
    assert "| local solution, lowest token (the cascade's) | 0.000 |" in out
    assert "| cloud's first step, digits | 0.000 |" in out
    assert "| cloud's first two steps, digits | 1.000 |" in out
    assert "| cloud's whole solution, digits (after all its spend) | 1.000 |" in out


def test_cloud_failure_without_scorable_questions_is_an_error(tmp_path: Path) -> None:
    data, results = write_bench(tmp_path)
    done = spend(
        str(results), "--system", "selfverify:0.5", "--data-dir", str(data), "--cloud-failure"
    )
    assert done.returncode != 0
    assert "no question that local alone got wrong has both runs' steps" in done.stderr


def test_counts_the_cloud_steps_that_left_the_draft_as_it_was(tmp_path: Path) -> None:
    data, results = write_bench(tmp_path)
    copied = {"index": 1, "author": "cloud", "text": "2 + 3 = 7", "draft": "2 + 3 = 7 "}
    fixed = {"index": 2, "author": "cloud", "text": "2 + 3 = 5", "draft": "2 + 3 = 7"}
    undrafted = {"index": 3, "author": "cloud", "text": "2 + 3 = 5", "draft": ""}
    kept = {"index": 4, "author": "local", "text": "2 + 3 = 7", "draft": "2 + 3 = 7"}
    with results.open("a") as sink:
        for n in range(7):
            row = record("copier", n, False, 10, trajectory=[copied, fixed, undrafted, kept])
            sink.write(json.dumps(row) + "\n")
    done = spend(str(results), "--system", "copier", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "cloud steps identical to the local draft they replaced: 7 of 14" in done.stdout
    plain = spend(str(results), "--system", "selfverify:0.5", "--data-dir", str(data))
    assert "identical to the local draft" not in plain.stdout  # its steps keep no drafts
