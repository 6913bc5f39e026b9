"""benchmarks/target_bootstrap.py: how sure a bench's verdict on the target is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.test_calibrate import run_script, write_jsonl


def write_bench(tmp_path: Path, ours: list[tuple[bool, int]]) -> Path:
    """Ten items local alone gets wrong and cloud alone right for 100 tokens each;
    `ours` gives our system's (right?, cloud tokens) per item, `random` gets none."""
    rows: list[dict[str, Any]] = [{"meta": True, "system": "token:0.5:8"}]
    for n, (right, tokens) in enumerate(ours):
        for system, correct, spent in (
            ("local", False, 0),
            ("cloud", True, 100),
            ("token:0.5:8", right, tokens),
            ("random", n == 0, tokens),
        ):
            rows.append(
                {"system": system, "item": f"test-{n}", "correct": correct}
                | {"cloud_output_tokens": spent, "error": None}
            )
    results = tmp_path / "bench.jsonl"
    write_jsonl(results, rows)
    return results


def judge(results: Path, *args: str) -> str:
    done = run_script("target_bootstrap.py", str(results), "--system", "token:0.5:8", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_system_that_always_meets_the_target(tmp_path: Path) -> None:
    out = judge(write_bench(tmp_path, [(True, 30)] * 10), "--draws", "200")
    assert "10 items every system finished, 200 paired draws" in out
    assert "100% of the gap (95%: 100% to 100%) for 30% of cloud alone's" in out
    assert "in 100% of draws\n" in out.split("meets the target")[1]
    assert "recovers more of the gap than random in 100% of draws" in out


def test_a_system_over_the_token_share_never_meets_it(tmp_path: Path) -> None:
    out = judge(write_bench(tmp_path, [(True, 50)] * 10))
    assert "for 50% of cloud alone's output tokens (50% to 50%)" in out
    assert "tokens) in 0% of draws" in out


def test_a_split_system_gets_an_interval_and_a_chance(tmp_path: Path) -> None:
    out = judge(write_bench(tmp_path, [(True, 30)] * 6 + [(False, 30)] * 4))
    assert "60% of the gap (95%: " in out
    low, high = out.split("(95%: ")[1].split(")")[0].split(" to ")
    assert int(low.rstrip("%")) < 60 < int(high.rstrip("%"))
    meets = int(out.split("tokens) in ")[1].split("%")[0])
    assert 30 < meets < 80  # gap >= 60% in a bit over half the draws


def test_records_without_cloud_alone_are_refused(tmp_path: Path) -> None:
    results = tmp_path / "bench.jsonl"
    write_jsonl(results, [{"system": "local", "item": "test-0", "correct": False}])
    done = run_script("target_bootstrap.py", str(results), "--system", "token:0.5:8")
    assert done.returncode != 0
    assert "no cloud, token:0.5:8 system; run them first" in done.stderr


def test_offset_and_limit_judge_only_those_items_of_the_run(tmp_path: Path) -> None:
    results = write_bench(tmp_path, [(False, 30)] * 5 + [(True, 30)] * 5)
    data = tmp_path / "test.jsonl"  # its items are named test-0, test-1, ... like the run's
    write_jsonl(data, [{"question": f"q{n}", "answer": "#### 1"} for n in range(10)])
    out = judge(results, "--dataset", str(data), "--offset", "5", "--limit", "5")
    assert "5 items every system finished" in out
    assert "100% of the gap (95%: 100% to 100%)" in out
    whole = judge(results)
    assert "10 items every system finished" in whole
    assert "50% of the gap" in whole


def test_items_picked_from_a_missing_dataset_are_refused_clearly(tmp_path: Path) -> None:
    results = write_bench(tmp_path, [(True, 30)] * 2)
    missing = str(tmp_path / "nowhere.jsonl")
    done = run_script(
        "target_bootstrap.py",
        str(results),
        "--system",
        "token:0.5:8",
        "--dataset",
        missing,
        "--limit",
        "1",
    )
    assert done.returncode != 0
    assert "--offset/--limit pick the run's items from its dataset" in done.stderr
    assert "Traceback" not in done.stderr


def test_against_leaves_the_other_systems_out(tmp_path: Path) -> None:
    results = write_bench(tmp_path, [(True, 30)] * 10)
    rows = results.read_text().splitlines()
    # `random` finished one item only: paired with it, the run has one item.
    results.write_text("\n".join(r for r in rows if '"random"' not in r or '"test-0"' in r))
    assert "1 items every system finished" in judge(results, "--draws", "50")
    out = judge(results, "--draws", "50", "--against", "cascade")
    assert "10 items every system finished" in out
    assert "than random" not in out
