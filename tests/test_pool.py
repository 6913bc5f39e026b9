"""Pooling results files of benches run on different items (no model is started here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adaswitch_graph.bench import read_records
from adaswitch_graph.cli import app
from adaswitch_graph.errors import AdaSwitchError
from adaswitch_graph.pool import pool_results
from adaswitch_graph.report import summarize
from tests.test_report import records

MODELS = {"local": "embedded:qwen2.5-coder-0.5b", "cloud": "embedded:qwen2.5-coder-1.5b"}


def run_record(system: str, items: int, seconds: float, **models: str) -> dict[str, Any]:
    return {"meta": True, "system": system, "items_run": items, "elapsed_s": seconds, **models}


def write(path: Path, rs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rs))
    return path


def halves(tmp_path: Path) -> tuple[Path, Path]:
    """The items of `records()` as two benches, each with a run record."""
    items = [r for r in records() if not r.get("meta")]
    first = [r for r in items if int(r["item"][1:]) < 5]
    second = [r for r in items if int(r["item"][1:]) >= 5]
    a = write(tmp_path / "a.jsonl", [*first, run_record("cloud", 5, 60.0, **MODELS)])
    b = write(tmp_path / "b.jsonl", [*second, run_record("cloud", 5, 40.0, **MODELS)])
    return a, b


def test_pooled_halves_summarize_as_the_whole_run_timed_over_both(tmp_path: Path) -> None:
    a, b = halves(tmp_path)
    out = tmp_path / "all.jsonl"
    pooled = pool_results([a, b], out)
    assert read_records(out) == pooled
    whole = {r.system: r for r in summarize([r for r in records() if not r.get("meta")])}
    rows = {r.system: r for r in summarize(pooled, cloud_model=MODELS["cloud"])}
    assert rows["cloud"].n == 10
    for system, row in whole.items():
        assert (rows[system].accuracy, rows[system].gap_recovered) == (
            row.accuracy,
            row.gap_recovered,
        )
    # Both runs' records are kept: 10 items in 100 seconds, and the cloud is priced.
    assert rows["cloud"].items_per_min == pytest.approx(6.0)
    assert rows["cloud"].cost_per_1k > 0


def test_nothing_is_written_over_a_file_or_from_items_in_two_files(tmp_path: Path) -> None:
    a, b = halves(tmp_path)
    before = a.read_text()
    with pytest.raises(AdaSwitchError, match="exists; give --out a new file"):
        pool_results([a, b], a)
    assert a.read_text() == before
    out = tmp_path / "all.jsonl"
    with pytest.raises(AdaSwitchError, match="given twice"):
        pool_results([a, tmp_path / "." / "a.jsonl"], out)
    with pytest.raises(AdaSwitchError, match=r"c.jsonl and .*a.jsonl both hold local on item q0"):
        pool_results([a, b, write(tmp_path / "c.jsonl", records()[:1])], out)
    assert not out.exists()


def test_runs_of_other_models_or_files_of_no_results_are_refused(tmp_path: Path) -> None:
    a, b = halves(tmp_path)
    other = write(tmp_path / "other.jsonl", [run_record("cloud", 1, 1.0, cloud="openai:gpt-4o")])
    other.write_text(other.read_text() + json.dumps(records()[0] | {"item": "q77"}) + "\n")
    out = tmp_path / "all.jsonl"
    with pytest.raises(AdaSwitchError, match="different cloud models"):
        pool_results([a, b, other], out)
    # A run given model objects names none: it pools with any.
    unnamed = write(tmp_path / "unnamed.jsonl", [records()[0] | {"item": "q77"}])
    unnamed.write_text(unnamed.read_text() + json.dumps(run_record("local", 1, 1.0)) + "\n")
    assert len(pool_results([a, b, unnamed], out)) == 3 * 10 + 2 + 3
    trace = write(tmp_path / "trace.jsonl", [{"event": "step", "index": 1}])
    for bad, problem in (
        (tmp_path / "missing.jsonl", "does not exist"),
        (trace, "line 1 is not a bench record"),
        (write(tmp_path / "runs.jsonl", [run_record("local", 0, 0.0)]), "holds no finished item"),
    ):
        with pytest.raises(AdaSwitchError, match=problem):
            pool_results([a, bad], tmp_path / "new.jsonl")
        assert not (tmp_path / "new.jsonl").exists()


def test_the_command_pools_and_says_how_to_summarize(tmp_path: Path) -> None:
    a, b = halves(tmp_path)
    out = tmp_path / "all.jsonl"
    runner = CliRunner()
    result = runner.invoke(app, ["pool", str(a), str(b), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "local 11, cloud 10, selfverify:0.3 10" in text
    assert f"adaswitch bench --report-only --out {out}" in text
    again = runner.invoke(app, ["pool", str(a), str(b), "--out", str(out)])
    assert again.exit_code == 1
    assert again.output.startswith("error:") and "exists" in again.output
    summary = runner.invoke(app, ["bench", "--report-only", "--out", str(out)])
    assert summary.exit_code == 0, summary.output
    assert "(10 items each)" in summary.output
