"""benchmarks/londi_offpolicy.py: step switches judged on random switching's episodes."""

from __future__ import annotations

from pathlib import Path

from tests.test_calibrate import run_script, write_jsonl
from tests.test_londi import explored


def estimates(tmp_path: Path, *args: str) -> dict[str, list[str]]:
    results = tmp_path / "explored.jsonl"
    write_jsonl(results, explored(episodes=2000))
    done = run_script("londi_offpolicy.py", str(results), "--system", "random:0.5", *args)
    assert done.returncode == 0, done.stderr
    rows = [line.strip("| ").split(" | ") for line in done.stdout.splitlines()]
    return {row[0]: row[1:] for row in rows if len(row) == 4}


def test_the_estimates_match_what_the_world_gives(tmp_path: Path) -> None:
    # In this world a cloud step is always right and a local one right with 1 - p
    # (p uniform), so always switching scores 100% with 3 calls, never switching
    # (1/2)^3 = 12.5%, and a learned switch does better than never at fewer calls.
    rows = estimates(tmp_path, "--thresholds", "0,1", "--max-calls", "3", "--cost", "0.2")
    assert rows["threshold 0"][:2] == ["100.0%", "3.00"]
    never = rows["threshold 1"]
    assert never[1] == "0.00" and 8 < float(never[0].rstrip("%")) < 17
    assert 150 < int(never[2]) < 350  # one episode in 8 makes all three choices
    learned = rows["londi max_calls 3 cost 0.2"]
    assert float(learned[0].rstrip("%")) > 40 and 0 < float(learned[1]) < 3
    assert rows["random:0.5 (as run)"][2] == "2000"


def test_bad_input_says_what_is_wrong(tmp_path: Path) -> None:
    results = tmp_path / "bench.jsonl"
    write_jsonl(results, explored(episodes=5))
    done = run_script("londi_offpolicy.py", str(results), "--system", "selfverify")
    assert done.returncode != 0 and "--system must be random:R" in done.stderr
    done = run_script("londi_offpolicy.py", str(results), "--system", "random:many")
    assert done.returncode != 0 and "a rate R between 0 and 1" in done.stderr
    done = run_script("londi_offpolicy.py", str(results), "--system", "random:0.3")
    assert done.returncode != 0 and "no finished records of random:0.3" in done.stderr
    write_jsonl(results, explored(episodes=1))
    done = run_script("londi_offpolicy.py", str(results), "--system", "random:0.5")
    assert done.returncode != 0 and "fitting LONDI on 4 of 5 folds: 0 steps" in done.stderr
