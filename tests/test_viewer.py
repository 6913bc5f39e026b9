"""The trace viewer and the Mermaid output; the HTML page is loaded in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adaswitch_graph.cli import app
from adaswitch_graph.trace import TraceWriter, read_trace
from adaswitch_graph.viewer import (
    bench_summary,
    executed_path,
    trace_html,
    trace_mermaid,
    word_diff,
)
from tests.conftest import ask
from tests.fakes import SHAKY_RUN, scripted_cloud, scripted_local
from tests.test_bench import ITEMS, setup

runner = CliRunner()


@pytest.fixture
def trace_file(build: Any, tmp_path: Path) -> Path:
    path = tmp_path / "run.jsonl"
    build(scripted_local(SHAKY_RUN), scripted_cloud()).invoke(
        ask(), {"callbacks": [TraceWriter(path)]}
    )
    return path


def test_executed_path_and_mermaid(trace_file: Path) -> None:
    (run,) = read_trace(trace_file)
    path = executed_path(run)
    assert path[:4] == ["__start__", "prepare", "local_reason", "self_verify"]
    assert path.count("cloud_assist") == 2 and path[-2:] == ["finalize", "__end__"]
    chart = trace_mermaid(run)
    assert chart.startswith("flowchart TD\n")
    assert ":::cloud" in chart and ":::local" in chart and ":::draft" in chart
    assert 's2["Step 2 (p=0.88): fixed 2"]:::cloud' in chart
    assert "d2 -. flagged, replaced by the cloud .-> s2" in chart
    assert 'answer(["Answer: 72"])' in chart


def test_mermaid_command(trace_file: Path) -> None:
    done = runner.invoke(app, ["trace", "mermaid", str(trace_file)])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("flowchart TD")
    bad = runner.invoke(app, ["trace", "mermaid", str(trace_file), "--run", "2"])
    assert bad.exit_code == 1 and "holds 1 run(s)" in bad.output


def test_word_diff() -> None:
    assert word_diff("48 + 24 = 62 clips", "48 + 24 = 72 clips") == (
        "48 + 24 = <del>62</del> <ins>72</ins> clips"
    )
    assert "&lt;b&gt;" in word_diff("<b>", "x")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: apt-get install -y chromium")
        pytest.skip("chromium is not installed")
    return found


def headless(page: Path, *args: str) -> str:
    done = subprocess.run(
        [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={page.parent / 'profile'}", *args,
            page.as_uri(),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_trace_page_in_a_browser(trace_file: Path, tmp_path: Path) -> None:
    page = tmp_path / "run.html"
    done = runner.invoke(app, ["trace", "view", str(trace_file), "-o", str(page)])
    assert done.exit_code == 0, done.output
    source = page.read_text()
    assert "http://" not in source.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in source  # self-contained: nothing to fetch
    dom = headless(page, "--dump-dom")
    assert 'data-ready="yes"' in dom  # the page's script ran without an error
    assert "Natalia sold 48 clips" in dom
    assert dom.count('class="step cloud"') == 2 and dom.count('class="step local"') == 2
    assert "<del>Altogether 48 + 24 = 62 clips.</del> <ins>fixed 2</ins>" in dom
    assert "what the cloud changed" in dom
    assert 'class="edge taken"' in dom and "cloud_assist" in dom
    shot = tmp_path / "run.png"
    headless(page, f"--screenshot={shot}", "--window-size=1200,1400")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_bench_results_open_in_the_viewer(tmp_path: Path) -> None:
    from adaswitch_graph.bench import parse_system, run_bench

    out = tmp_path / "bench.jsonl"
    systems = [parse_system(s) for s in ("local", "cloud", "selfverify:0.5", "cascade")]
    run_bench(ITEMS[:3], systems, out, setup())
    page = tmp_path / "bench.html"
    done = runner.invoke(app, ["trace", "view", str(out), "-o", str(page)])
    assert done.exit_code == 0, done.output
    source = page.read_text()
    # The plot is inline SVG: the only URLs are its XML namespaces, nothing to fetch.
    assert "<svg" in source and "data:image" not in source
    assert set(re.findall(r"https?://[^\s\"'<>]+", source)) == {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }
    dom = headless(page, "--dump-dom")
    assert 'data-ready="yes"' in dom
    # The summary the bench prints, one row per system, then the items, one row each.
    assert "summary (3 items each)" in dom
    assert dom.count("<tr><td>") == 4
    assert "target (&gt;= 60% of the gap for &lt;= 40% of cloud alone's output tokens)" in dom
    assert re.search(r"items/min left out \([^)]*cascade[^)]*\): a system with no timed", dom)
    assert dom.count("<tr class=") == 4 * 3
    assert 'href="#item-0"' in dom and 'id="item-0"' in dom
    assert "escalated to the cloud" in dom
    shot = tmp_path / "bench.png"
    headless(page, f"--screenshot={shot}", "--window-size=1200,900")
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_the_bench_summary_prices_the_models_its_runs_recorded() -> None:
    from tests.test_report import records

    cost = re.compile(r"<tr><td>cloud</td>(?:<td>[^<]*</td>){11}<td>([^<]*)</td>")
    meta = {"meta": True, "system": "cloud", "items_run": 10, "elapsed_s": 60.0}
    named = meta | {"local": "embedded:qwen2.5-coder-0.5b", "cloud": "embedded:qwen2.5-coder-1.5b"}
    # 200 input and 40 output tokens a question at USD 0.15 and 0.60 per million.
    found = cost.search(bench_summary([*records(), named]))
    assert found and found.group(1) == "0.054"
    unnamed = bench_summary([*records(), meta])
    found = cost.search(unnamed)
    assert found and found.group(1) == "0.000"
    assert "record no name for the cloud model" in unnamed
    assert "record no name" not in bench_summary([*records(), named])
    assert "against cloud alone&#x27;s $0.054 per 1000 questions" in bench_summary(
        [*records(), named]
    )
    assert "against cloud alone" not in unnamed  # nothing priced, nothing to compare
    assert bench_summary([]) == ""
    # Prices a run was given (`--price`) are the page's too.
    priced = named | {"prices": {"embedded:qwen2.5-coder-1.5b": [1.0, 2.0]}}
    found = cost.search(bench_summary([*records(), priced]))
    assert found and found.group(1) == "0.280"


def test_view_refuses_what_it_cannot_show(tmp_path: Path) -> None:
    other = tmp_path / "other.jsonl"
    other.write_text('{"hello": 1}\n')
    for path in (other, tmp_path / "missing.jsonl"):
        done = runner.invoke(app, ["trace", "view", str(path)])
        assert done.exit_code == 1 and "error:" in done.output


def test_the_totals_mark_the_input_tokens_a_backend_did_not_report(tmp_path: Path) -> None:
    from tests.test_token_switch import RIGHT, WRONG, FinalReportChatModel, confirming

    _, graph = confirming({"4", "6"}, cloud=FinalReportChatModel(texts=[RIGHT, WRONG]))
    path = tmp_path / "run.jsonl"
    graph.invoke(ask(), {"callbacks": [TraceWriter(path)]})
    page = trace_html(read_trace(path))
    rows = dict(re.findall(r"<tr><td>(\w+)</td>(.*?)</tr>", page))
    # Four of the five cloud calls were closed before their usage report; the fifth
    # reported its prompt's cached part.
    assert re.search(r"<td>\d+ \(\d+ est\., 6 cached\)</td>", rows["cloud"]), rows["cloud"]
    assert "est." not in rows["local"]
