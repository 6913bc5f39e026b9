"""benchmarks/calibrate_verifier.py: labels steps from the reference, fits, and reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_script(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `benchmarks/<name>` with `args` (the timeout guards against hangs only)."""
    script = ROOT / "benchmarks" / name
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=timeout
    )


def calibrate(*args: str) -> subprocess.CompletedProcess[str]:
    return run_script("calibrate_verifier.py", *args)


def read_run(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run.read_text().splitlines()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def step(text: str, digit_logprob: float) -> dict[str, object]:
    signals = {"min_logprob": digit_logprob, "min_digit_logprob": digit_logprob}
    signals |= {"digits_logprob": 2 * digit_logprob}
    signals |= {"mean_logprob": -0.2, "n_tokens": 9.0, "low_token_share": 0.1, "mean_margin": 3.0}
    return {"author": "local", "text": text, "signals": signals}


def write_run(tmp_path: Path) -> tuple[Path, Path]:
    """A GSM8K-style data folder, and a local run in which the steps that miss the
    reference's numbers are exactly the ones written with unsure digits."""
    data = tmp_path / "data"
    (data / "gsm8k").mkdir(parents=True)
    rows, records = [], []
    for n in range(20):
        a, b = n + 2, n + 5
        rows.append({"question": f"{a} and {b}?", "answer": f"{a}+{b} = <<{a}+{b}={a + b}>>"})
        wrong = n % 2 == 0
        result = a * b + 1 if wrong else a + b
        trajectory = [
            step(f"We have {a} and {b}.", -0.1) | {"index": 1},
            step(f"{a} + {b} = {result}", -2.5 if wrong else -0.05) | {"index": 2},
        ]
        records.append(
            {"system": "local", "item": f"train-{n}", "question": rows[-1]["question"]}
            | {"correct": not wrong, "error": None}
            | {"trajectory": trajectory}
        )
        rows[-1]["answer"] += f"{a + b}\n#### {a + b}"
    write_jsonl(data / "gsm8k" / "train.jsonl", rows)
    run = tmp_path / "train.jsonl"
    write_jsonl(run, records)
    return data, run


def test_fits_on_step_labels_and_reports(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    out = tmp_path / "verifier.json"
    done = calibrate(str(run), "--data-dir", str(data), "--out", str(out), "--search", "1")
    assert done.returncode == 0, done.stderr
    # 40 steps; the 20 that compute something are labelled, the 10 that miss wrong.
    assert "steps labelled from the reference (wrong): 20 (10)" in done.stdout
    assert "of them first steps (wrong): 0 (0)" in done.stdout  # first steps compute nothing
    assert "wrong solutions with a step labelled wrong: 10/10" in done.stdout
    assert "AUROC step p vs step wrong (reference): 1.000" in done.stdout
    assert "min_digit_logprob" in done.stdout.split("feature search")[1]
    assert "not searched" not in done.stdout
    fitted = json.loads(out.read_text())
    assert list(fitted["coefficients"]) == ["digits_logprob"]
    assert fitted["coefficients"]["digits_logprob"] < 0  # less sure digits, more wrong
    assert "reference solution" in fitted["meta"]["labels"]


def test_without_the_reference_it_says_what_is_missing(tmp_path: Path) -> None:
    _, run = write_run(tmp_path)
    done = calibrate(str(run), "--data-dir", str(tmp_path / "nowhere"))
    assert done.returncode != 0
    assert "no step has a 'steps' label; is --data-dir right?" in done.stderr


def test_evaluates_another_system_of_another_run(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    other = tmp_path / "test.jsonl"
    write_jsonl(other, [r | {"system": "sampled-x"} for r in read_run(run)])
    args = [str(run), "--data-dir", str(data), "--evaluate", str(other)]
    done = calibrate(*args, "--evaluate-system", "sampled-x")
    assert done.returncode == 0, done.stderr
    out_of_sample = done.stdout.split("out of sample:")[1]
    assert "steps: 40" in out_of_sample
    assert "AUROC step p vs step wrong (reference): 1.000" in out_of_sample


def test_steps_the_cloud_rewrote_are_scored_as_the_local_model_drafted_them(
    tmp_path: Path,
) -> None:
    data, run = write_run(tmp_path)
    records = read_run(run)
    for record in records:
        drafted = record["trajectory"][1]
        if drafted["signals"]["min_digit_logprob"] < -1:  # the unsure, wrong drafts
            drafted |= {"author": "cloud", "draft": drafted["text"], "text": "= 7"}
    write_jsonl(run, [r | {"system": "selfverify:0.5"} for r in records])
    done = calibrate(str(run), "--data-dir", str(data), "--system", "selfverify:0.5")
    assert done.returncode == 0, done.stderr
    assert "steps labelled from the reference (wrong): 20 (10)" in done.stdout
    assert "AUROC step p vs step wrong (reference): 1.000" in done.stdout


def test_a_retried_step_the_cloud_rewrote_is_left_out(tmp_path: Path) -> None:
    """Its signals are the retry's, whose text the trajectory does not keep: scored
    against the first draft they would pair one text with another's confidence."""
    data, run = write_run(tmp_path)
    records = read_run(run)
    for record in records[:4]:
        drafted = record["trajectory"][1]
        drafted |= {"author": "cloud", "draft": drafted["text"], "text": "= 7", "retried": True}
    write_jsonl(run, records)
    done = calibrate(str(run), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "steps: 36" in done.stdout
    assert "steps labelled from the reference (wrong): 16 (8)" in done.stdout


def test_the_search_leaves_out_signals_an_older_run_did_not_record(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    records = read_run(run)
    for record in records:
        for drafted in record["trajectory"]:
            del drafted["signals"]["digits_logprob"]
    write_jsonl(run, records)
    done = calibrate(str(run), "--data-dir", str(data), "--search", "2")
    assert done.returncode != 0
    assert "--features digits_logprob: not recorded on every local step" in done.stderr
    args = ["--features", "min_digit_logprob", "--search", "2"]
    done = calibrate(str(run), "--data-dir", str(data), *args)
    assert done.returncode == 0, done.stderr
    assert "not searched, not recorded on every step of this run: digits_logprob" in done.stdout
    assert "digits_logprob" not in done.stdout.split("feature search")[1]


def test_first_step_is_derived_for_runs_that_did_not_record_it(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    assert all("first_step" not in s["signals"] for r in read_run(run) for s in r["trajectory"])
    out = tmp_path / "verifier.json"
    args = ["--features", "digits_logprob,first_step", "--out", str(out)]
    done = calibrate(str(run), "--data-dir", str(data), *args)
    assert done.returncode == 0, done.stderr
    assert list(json.loads(out.read_text())["coefficients"]) == ["digits_logprob", "first_step"]
