"""`adaswitch bench` end to end on the real bundled models: three items, every system."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from adaswitch_graph.bench import read_records
from tests.integration.test_real_models import cli

ITEMS = [
    {
        "question": "Tom has 3 apples and buys 5 more. How many apples does he have now?",
        "answer": "#### 8",
    },
    {"question": "A box holds 6 eggs. How many eggs are in 4 boxes?", "answer": "#### 24"},
    {"question": "Is the sun a star?", "answer": "yes"},
]
SYSTEMS = "local,cloud,selfverify:0.3,random,random-spend,cascade,oracle"


def test_bench_runs_every_system_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps(i) + "\n" for i in ITEMS))
    out = tmp_path / "run.jsonl"
    args = (
        "bench", "--data", str(data), "--systems", SYSTEMS,
        "--cloud", "embedded:smollm2-135m", "--max-steps", "4",
        "--concurrency", "3", "--out", str(out),
        "--price", "embedded:smollm2-135m=1000,2000",
    )  # fmt: skip
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    records = read_records(out)
    items = [r for r in records if not r.get("meta")]
    assert len(items) == 7 * 3
    assert not [r for r in items if r["error"]], [r["error"] for r in items if r["error"]]
    local = [r for r in items if r["system"] == "local"]
    assert all(r["cloud_calls"] == 0 and r["local_output_tokens"] > 0 for r in local)
    # Each step's call resends the question and the steps before it, which the server
    # reads from its prompt cache; the records count those tokens.
    cached = sum(r["local_cached_input_tokens"] for r in local)
    assert 0 < cached < sum(r["local_input_tokens"] for r in local)
    # Each run names its models and their prices, for the viewer to price them.
    metas = [r for r in records if r.get("meta")]
    assert metas and all(
        (m["local"], m["cloud"]) == ("embedded:qwen2.5-coder-0.5b", "embedded:smollm2-135m")
        and m["prices"] == {"embedded:smollm2-135m": [1000.0, 2000.0]}
        for m in metas
    )
    # The real model's token log-probabilities reached the verifier of every step.
    assert all(s["error_probability"] is not None for r in local for s in r["trajectory"])
    cloud = [r for r in items if r["system"] == "cloud"]
    assert all(r["local_calls"] == 0 and r["cloud_output_tokens"] > 0 for r in cloud)
    # The text sent to the cloud is counted, and the summary's column is its mean.
    assert all(r["cloud_input_chars"] > 0 for r in cloud)
    header, _, *rows = out.with_suffix(".md").read_text().splitlines()
    column = [c.strip() for c in header.split("|")].index("chars sent to cloud/q")
    cloud_row = next(r for r in rows if r.startswith("| cloud |")).split("|")
    assert (
        cloud_row[column].strip()
        == f"{sum(r['cloud_input_chars'] for r in cloud) / len(cloud):.0f}"
    )
    # Priced as --price says, in USD per 1000 questions.
    column = [c.strip() for c in header.split("|")].index("$/1k q")
    dollars = sum(1000 * r["cloud_input_tokens"] + 2000 * r["cloud_output_tokens"] for r in cloud)
    assert cloud_row[column].strip() == f"{dollars / 1e6 / len(cloud) * 1000:.3f}"
    for name in SYSTEMS.split(","):
        assert name in done.stdout
    assert "peak RSS" in done.stdout
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert "| local | 3 |" in out.with_suffix(".md").read_text()

    # A second run finds everything done: no item is run again.
    runs_before = len([r for r in records if r.get("meta")])
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert len([r for r in read_records(out) if r.get("meta")]) == runs_before


def test_a_token_level_system_after_cloud_alone_gets_no_whole_cached_step(
    tmp_path: Path,
) -> None:
    # At tau 0.99 the local model doubts the first token of a step, so the cloud is
    # asked to continue exactly what cloud alone was asked; the call cache once served
    # it cloud alone's whole step for its k tokens.
    data = tmp_path / "items.jsonl"
    data.write_text(json.dumps(ITEMS[1]) + "\n")
    out = tmp_path / "run.jsonl"
    done = cli(
        "bench", "--data", str(data), "--systems", "cloud", "--sweep", "token:0.99:4",
        "--cloud", "embedded:smollm2-135m", "--max-steps", "2", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    by = {r["system"]: r for r in read_records(out) if not r.get("meta")}
    cloud, token = by["cloud"], by["token:0.99:4"]
    assert cloud["cloud_output_tokens"] > 4 * cloud["cloud_calls"]  # whole steps
    assert token["cloud_calls"] > 0
    assert token["cloud_output_tokens"] <= 4 * token["cloud_calls"]


def test_sigterm_stops_a_real_bench_which_keeps_what_it_finished(tmp_path: Path) -> None:
    data = tmp_path / "items.jsonl"
    question = "A box holds {} eggs. How many eggs are in 4 boxes?"
    more = [{"question": question.format(n), "answer": f"#### {4 * n}"} for n in range(2, 12)]
    data.write_text("".join(json.dumps(i) + "\n" for i in more))
    out = tmp_path / "run.jsonl"
    args = (
        "bench", "--data", str(data), "--systems", "local",
        "--concurrency", "1", "--max-steps", "4", "--out", str(out),
    )  # fmt: skip
    bench = subprocess.Popen(
        [sys.executable, "-m", "adaswitch_graph", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Stopped once its first item is written, with the embedded server mid-call.
        deadline = time.monotonic() + 600
        while not (out.exists() and out.read_text().strip()) and time.monotonic() < deadline:
            assert bench.poll() is None, bench.communicate()
            time.sleep(0.2)
        bench.send_signal(signal.SIGTERM)
        _, stderr = bench.communicate(timeout=300)
    finally:
        bench.kill()
    assert bench.returncode == 130, stderr
    assert "stopped: the items finished are kept in" in " ".join(stderr.split())
    records = read_records(out)
    finished = [r for r in records if not r.get("meta")]
    (meta,) = [r for r in records if r.get("meta")]
    assert 1 <= len(finished) < len(more)
    assert meta["interrupted"] is True and meta["items_run"] == len(finished)
    assert meta["peak_rss_mb"] > 0
