"""Switching models inside a step (`TokenPolicy`), pinned with fake backends that
continue the assistant's message token by token (no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from typer.testing import CliRunner

from adaswitch_graph import Budget, StepView, TokenPolicy, TraceWriter, cli, create_adaswitch_graph
from adaswitch_graph.bench import (
    BenchSetup,
    item_records,
    parse_sweep,
    parse_system,
    run_bench,
)
from adaswitch_graph.calls import CACHED_PROMPT_TOKENS, PROMPT_TOKENS
from adaswitch_graph.datasets import Item
from adaswitch_graph.nodes.local_reason import new_step
from adaswitch_graph.policies import RandomTokenPolicy, TokenLevel, parse_policy
from adaswitch_graph.signals import TokenLogprobs
from adaswitch_graph.spans import aligned, cut_short, doubted
from adaswitch_graph.state import Step, TokenScore, estimated_input_tokens
from adaswitch_graph.trace import read_trace, replay
from adaswitch_graph.viewer import executed_path, trace_html, trace_mermaid
from tests.conftest import QUESTION, ask
from tests.fakes import CACHED, TOKEN, ContinuingChatModel, scripted_local

RIGHT = "Step 1: 48 / 2 = 24 clips.\nStep 2: 48 + 24 = 72 clips.\nAnswer: 72"
WRONG = "Step 1: 48 / 2 = 24 clips.\nStep 2: 48 + 24 = 62 clips.\nAnswer: 62"


def models(unsure: set[str] | None = None, **cloud: Any) -> tuple[Any, Any]:
    """A local model that writes WRONG, unsure of its "6", and goes on in RIGHT's way
    once given RIGHT's words; a cloud model that writes RIGHT."""
    local = ContinuingChatModel(texts=[WRONG, RIGHT], unsure={"6"} if unsure is None else unsure)
    return local, ContinuingChatModel(texts=[RIGHT, WRONG], **cloud)


def run(local: Any, cloud: Any, policy: TokenLevel | None = None, **kwargs: Any) -> Any:
    graph = create_adaswitch_graph(
        local, cloud, policy=policy or TokenPolicy(tau=0.5, k=2), prefill=True, cloud_prefill=True,
        **kwargs,
    )  # fmt: skip
    return graph.compile()


def spans(step: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["author"], s["text"]) for s in step["spans"]]


def test_the_cloud_writes_k_tokens_from_the_first_doubted_one() -> None:
    local, cloud = models()
    result = run(local, cloud).invoke(ask())
    first, second = result["steps"]
    assert spans(first) == [("local", "48 / 2 = 24 clips.")]
    assert first["author"] == "local" and not first["flagged"]
    assert spans(second) == [
        ("local", "48 + 24 = "),
        ("cloud", "72"),
        ("local", " clips.\nAnswer: 72"),
    ]
    assert second["text"] == "48 + 24 = 72 clips.\nAnswer: 72"
    assert second["author"] == "cloud" and second["flagged"] and second["assisted"]
    assert second["draft"] == "48 + 24 = 6"  # what the local model wrote before it stopped
    assert result["final_answer"] == "72"
    # The cloud continued the step from just before the doubted token, for k tokens.
    assert cloud.calls == [
        {"prefill": "Step 1: 48 / 2 = 24 clips.\nStep 2: 48 + 24 = ", "max_tokens": 2, "read": 2}
    ]
    assert result["usage"]["cloud"]["output_tokens"] == 2
    assert result["usage"]["cloud"]["calls"] == 1
    # The local model was stopped at the doubted token, not left to finish the step.
    assert local.calls[1]["read"] == len(TOKEN.findall(" 48 + 24 = 6"))
    assert local.calls[2]["prefill"].endswith("Step 2: 48 + 24 = 72")
    assert all("open" not in s and "tokens" not in s for s in result["steps"])


def test_a_stopped_reply_counts_the_tokens_it_sent_and_received() -> None:
    local, cloud = models()
    result = run(local, cloud).invoke(ask())
    read = sum(call["read"] for call in local.calls)
    assert result["usage"]["local"]["output_tokens"] == read
    # Stopped or not, each call's prompt is counted (the fake's are 10 tokens long).
    assert result["usage"]["local"]["input_tokens"] == 10 * len(local.calls)


async def test_async_and_sync_agree_and_stream_every_switch() -> None:
    local, cloud = models()
    graph = run(local, cloud)
    events = [
        chunk["event"]
        async for mode, chunk in graph.astream(ask(), stream_mode=["custom", "updates"])
        if mode == "custom"
    ]
    assert events == [
        "started",
        "drafted", "verified", "merged",
        "drafted", "verified", "flagged", "assisted", "drafted", "verified", "merged",
        "final",
    ]  # fmt: skip
    sync_local, sync_cloud = models()
    expected = run(sync_local, sync_cloud).invoke(ask())
    got = await run(*models()).ainvoke(ask())
    assert got["steps"] == expected["steps"] and got["usage"] == expected["usage"]


def test_a_cloud_that_ends_the_step_within_k_tokens_closes_it() -> None:
    local, cloud = models()
    result = run(local, cloud, TokenPolicy(tau=0.5, k=20)).invoke(ask())
    assert spans(result["steps"][1]) == [
        ("local", "48 + 24 = "),
        ("cloud", "72 clips.\nAnswer: 72"),
    ]
    assert len(local.calls) == 2  # no local call after the cloud's part


def test_no_switch_once_the_budget_is_spent() -> None:
    local, cloud = models()
    result = run(local, cloud, budget=Budget(max_cloud_calls=0)).invoke(ask())
    assert cloud.calls == []
    assert result["final_answer"] == "62"
    assert spans(result["steps"][1]) == [("local", "48 + 24 = 62 clips.\nAnswer: 62")]


class NoFinishReasonModel(ContinuingChatModel):
    """A backend that reports its usage but no finish reason."""

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        result = super()._generate(*args, **kwargs)
        result.generations[0].message.response_metadata.pop("finish_reason")
        return result


def test_a_cloud_part_cut_by_the_budget_is_left_open_for_the_local_model() -> None:
    # One cloud token left, under k=2: the cloud writes "7" of "72", and without a
    # finish reason only its output limit (1, not k) tells that it was cut short.
    local = ContinuingChatModel(texts=[WRONG, RIGHT], unsure={"6"})
    cloud = NoFinishReasonModel(texts=[RIGHT, WRONG])
    result = run(local, cloud, budget=Budget(max_cloud_tokens=1)).invoke(ask())
    assert spans(result["steps"][1]) == [
        ("local", "48 + 24 = "),
        ("cloud", "7"),
        ("local", "2 clips.\nAnswer: 72"),
    ]
    assert result["final_answer"] == "72"


def test_a_failing_cloud_leaves_the_rest_of_the_step_to_the_local_model() -> None:
    local, cloud = models(fail=True)
    result = run(local, cloud).invoke(ask())
    second = result["steps"][1]
    assert len(cloud.calls) == 1  # not asked again for the same step
    assert "the fake backend is down" in second["cloud_error"]
    assert second["author"] == "local" and second["flagged"]
    assert second["text"] == "48 + 24 = 62 clips.\nAnswer: 62"
    assert result["final_answer"] == "62"


def test_at_most_max_switches_a_step() -> None:
    local, cloud = models(unsure={"2"})
    policy = TokenPolicy(tau=0.5, k=1, max_switches=2)
    result = run(local, cloud, policy).invoke(ask())
    first = result["steps"][0]
    assert [a for a, _ in spans(first)].count("cloud") == 2
    assert spans(first) == [
        ("local", "48 / "),
        ("cloud", "2"),
        ("local", " = "),
        ("cloud", "2"),
        ("local", "4 clips."),
    ]


def test_the_step_where_the_first_token_is_doubted_is_written_by_the_cloud_from_its_start() -> None:
    local, cloud = models(unsure={" "})
    result = run(local, cloud, TokenPolicy(tau=0.5, k=3, max_switches=1)).invoke(ask())
    assert spans(result["steps"][0])[:2] == [("local", ""), ("cloud", "48")]
    assert cloud.calls[0]["prefill"] == "Step 1:"


class OwnTokenLevel:
    """A token-level policy of one's own: `k` and `handover_at`, and no `decide`."""

    k = 2

    def handover_at(self, view: StepView) -> int | None:
        return TokenPolicy(tau=0.5).handover_at(view)


def test_a_token_level_policy_of_ones_own_needs_no_decide() -> None:
    local, cloud = models()
    result = run(local, cloud, OwnTokenLevel()).invoke(ask())
    assert spans(result["steps"][1]) == [
        ("local", "48 + 24 = "),
        ("cloud", "72"),
        ("local", " clips.\nAnswer: 72"),
    ]
    assert result["final_answer"] == "72"


def test_a_token_run_replays_from_its_trace(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    local, cloud = models(unsure={"2", "6"})
    policy = TokenPolicy(tau=0.5, k=1, max_switches=3)
    run(local, cloud, policy).invoke(ask(), {"callbacks": [TraceWriter(path)]})
    (trace,) = read_trace(path)
    recorded = [(e["index"], e["decision"]) for e in trace.of("verified")]
    replayed = replay(trace)
    assert [(r.index, r.decision) for r in replayed] == recorded
    assert {decision for _, decision in recorded} == {"cloud", "accept"}
    # Another threshold would have switched at none of those tokens.
    assert {r.decision for r in replay(trace, TokenPolicy(tau=0.001))} == {"accept"}


def test_the_viewer_marks_the_clouds_parts_of_a_step(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    run(*models()).invoke(ask(), {"callbacks": [TraceWriter(path)]})
    (trace,) = read_trace(path)
    page = trace_html([trace])
    assert "<span class='part cloud' title='cloud'>72</span>" in page
    assert "<span class='part local' title='local'>48 + 24 = </span>" in page
    assert "what the cloud changed" not in page  # no draft was replaced whole
    assert "replaced by the cloud" not in trace_mermaid(trace)
    path_taken = executed_path(trace)
    assert path_taken.count("cloud_assist") == 1 and path_taken.count("local_reason") == 3


def test_token_switching_needs_backends_that_continue(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="continue the assistant's own message"):
        create_adaswitch_graph(scripted_local([]), scripted_local([]), policy=TokenPolicy())
    # The CLI says so in one line.
    monkeypatch.setattr(cli, "resolve_model", lambda spec, **_: scripted_local([]))
    done = CliRunner().invoke(cli.app, ["ask", "2+2?", "--policy", "token:0.7"])
    assert done.exit_code == 1 and "Traceback" not in done.output
    assert done.output.startswith("error: TokenPolicy switches models inside a step")


@pytest.mark.parametrize(
    ("spec", "policy"),
    [
        ("token", TokenPolicy()),
        ("token:0.6", TokenPolicy(0.6)),
        ("token:0.9:16", TokenPolicy(0.9, 16)),
        ("token:0.9:16:24", TokenPolicy(0.9, 16, 24)),
        ("token-confirm:0.8:8:24", TokenPolicy(0.8, 8, 24, confirm=True)),
    ],
)
def test_token_policy_specs(spec: str, policy: TokenPolicy) -> None:
    assert parse_policy(spec) == policy


def test_a_token_sweep_shares_its_k() -> None:
    systems = parse_sweep("token:0.5,0.7:8")
    assert [s.name for s in systems] == ["token:0.5:8", "token:0.7:8"]
    assert [s.policy for s in systems] == [TokenPolicy(0.5, 8), TokenPolicy(0.7, 8)]
    assert {s.sweep for s in systems} == {"token, k=8"}


@pytest.mark.parametrize(
    ("spec", "match"),
    [("token:2", "tau"), ("token:0.5:0", "k and"), ("token:0.5:8:0", "max_switches=0")],
)
def test_bad_token_policy_specs_say_what_is_wrong(spec: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_policy(spec)


def test_only_the_tokens_that_spell_the_text_can_be_doubted() -> None:
    tokens: TokenLogprobs = [
        {"token": "", "logprob": -0.1},  # bytes completed by the next token
        {"token": ".\nN", "logprob": -0.3},
        {"token": "o", "logprob": -0.2},
        {"token": "\n", "logprob": -5.0},  # a stop sequence's, cut from the text
    ]
    assert [t["token"] for t in aligned(tokens, ".\nNo")] == ["", ".\nN", "o"]
    assert aligned(None, "text") == []


def test_a_reply_is_cut_short_only_at_its_limit() -> None:
    def message(**meta: Any) -> AIMessage:
        usage = {"input_tokens": 1, "output_tokens": 4, "total_tokens": 5}
        return AIMessage(content="x", response_metadata=meta, usage_metadata=usage)

    assert cut_short(message(finish_reason="length"), 8)
    assert not cut_short(message(finish_reason="stop"), 4)
    assert cut_short(message(done_reason="length"), 8)  # Ollama's field
    assert cut_short(message(), 4) and not cut_short(message(), 8)


def test_bench_runs_a_token_system_against_random_token_switching(tmp_path: Path) -> None:
    local, cloud = models(unsure={"6", "/"})
    item = Item("q1", QUESTION, "72", "number")
    setup = BenchSetup(local=local, cloud=cloud, prefill=True, reuse=False)
    systems = [parse_system(s) for s in ("local", "cloud", "token:0.5:2", "random")]
    done = run_bench([item], systems, tmp_path / "r.jsonl", setup)
    records = {r["system"]: r for r in item_records(done)}
    token = records["token:0.5:2"]
    assert (token["tau"], token["k"], token["correct"]) == (0.5, 2, True)
    assert token["cloud_calls"] == 2 and token["cloud_output_tokens"] == 4
    assert [s["author"] for s in token["trajectory"][1]["spans"]] == ["local", "cloud", "local"]
    # Random switching draws tokens at the rate the token system switched per token.
    random = records["random"]
    assert random["rate"] == pytest.approx(2 / token["local_output_tokens"])
    assert random["steps"] == 2 and not random["error"]


def test_random_token_switching_draws_each_place_in_a_step_once() -> None:
    policy = RandomTokenPolicy(rate=0.3, k=4, seed=1)
    token = [TokenScore(token=" 72", logprob=-0.01)]
    step = Step(**{**new_step(2, "", {}, None), "spans": [{"author": "local", "text": " 72"}]})
    # The same token read after a cloud part is another place in the step.
    later = Step(**{**step, "spans": [{"author": "cloud", "text": "48 + 24 ="}, *step["spans"]]})
    questions = [f"question {n}" for n in range(2000)]
    here = [policy.handover_at(StepView(q, step, [], 0, token)) == 0 for q in questions]
    again = [policy.handover_at(StepView(q, step, [], 0, token)) == 0 for q in questions]
    there = [policy.handover_at(StepView(q, later, [], 0, token)) == 0 for q in questions]
    assert here == again
    assert 0.27 < sum(here) / len(here) < 0.33
    assert 0.27 < sum(there) / len(there) < 0.33 and there != here
    assert RandomTokenPolicy(rate=1.0).handover_at(StepView("q", step, [], 0, token)) == 0
    assert RandomTokenPolicy(rate=0.0).handover_at(StepView("q", step, [], 0, token)) is None
    with pytest.raises(ValueError, match="rate"):
        RandomTokenPolicy(rate=1.5)


class SilentChatModel(ContinuingChatModel):
    """A continuing backend that streams no log-probabilities."""

    def _stream(self, *args: Any, **kwargs: Any) -> Any:
        for chunk in super()._stream(*args, **kwargs):
            chunk.message.response_metadata.pop("logprobs", None)
            yield chunk


def confirming(unsure: set[str], cloud: Any = None) -> tuple[Any, Any]:
    """The models of `models`, under a confirming policy: the cloud and the graph."""
    local = ContinuingChatModel(texts=[WRONG, RIGHT], unsure=unsure)
    cloud = cloud or ContinuingChatModel(texts=[RIGHT, WRONG])
    return cloud, run(local, cloud, TokenPolicy(tau=0.5, k=2, confirm=True))


def test_with_confirm_a_cloud_that_writes_the_doubted_token_stops_after_it() -> None:
    # The local model doubts "4" (the cloud writes it too) and "6" (the cloud writes 7).
    cloud, graph = confirming({"4", "6"})
    result = graph.invoke(ask())
    first, second = result["steps"]
    assert spans(first) == [
        ("local", ""),
        ("cloud", "4"),
        ("local", "8 / 2 = 2"),
        ("cloud", "4"),
        ("local", " clips."),
    ]
    assert second["text"] == "48 + 24 = 72 clips.\nAnswer: 72"
    assert spans(second)[-2:] == [("cloud", "72"), ("local", " clips.\nAnswer: 72")]
    # Four confirmations read one token each; the disagreement, k.
    assert [c["read"] for c in cloud.calls] == [1, 1, 1, 1, 2]
    assert result["usage"]["cloud"]["output_tokens"] == 6
    assert result["final_answer"] == "72"


def test_without_confirm_the_same_doubts_cost_k_tokens_each() -> None:
    local, cloud = models(unsure={"4", "6"})
    result = run(local, cloud, TokenPolicy(tau=0.5, k=2)).invoke(ask())
    assert all(c["read"] == 2 for c in cloud.calls)
    assert result["usage"]["cloud"]["output_tokens"] == 2 * len(cloud.calls)


async def test_confirming_runs_alike_sync_and_async() -> None:
    expected = confirming({"4", "6"})[1].invoke(ask())
    cloud, graph = confirming({"4", "6"})
    got = await graph.ainvoke(ask())
    assert got["steps"] == expected["steps"] and got["usage"] == expected["usage"]
    assert [c["read"] for c in cloud.calls] == [1, 1, 1, 1, 2]


def test_a_confirmation_from_a_backend_without_logprobs_is_still_counted() -> None:
    cloud, graph = confirming({"4"}, cloud=SilentChatModel(texts=[RIGHT, WRONG]))
    result = graph.invoke(ask())
    assert [c["read"] for c in cloud.calls] == [1, 1, 1, 1]
    assert result["usage"]["cloud"]["output_tokens"] == 4


class FinalReportChatModel(ContinuingChatModel):
    """A continuing backend that gives the prompt's length, and its cached part, only in
    its final usage report, as Ollama and OpenAI's API do."""

    def _stream(self, *args: Any, **kwargs: Any) -> Any:
        for chunk in super()._stream(*args, **kwargs):
            chunk.message.response_metadata.pop(PROMPT_TOKENS, None)
            chunk.message.response_metadata.pop(CACHED_PROMPT_TOKENS, None)
            yield chunk


def test_a_stream_closed_before_its_usage_report_leaves_its_input_tokens_estimated() -> None:
    counted = confirming({"4", "6"})[1].invoke(ask())["usage"]["cloud"]
    assert counted["input_tokens"] == 5 * 10 and counted["uncounted_input_chars"] == 0
    # What the server read from its prompt cache, from the chunks of the four streams
    # closed early and from the usage report of the one that ran to its end.
    assert counted["cached_input_tokens"] == 5 * CACHED
    assert estimated_input_tokens(counted) == 50
    cloud, graph = confirming({"4", "6"}, cloud=FinalReportChatModel(texts=[RIGHT, WRONG]))
    usage = graph.invoke(ask())["usage"]["cloud"]
    # The four confirmations were closed after a token; the disagreement ran to its end.
    assert [c["read"] for c in cloud.calls] == [1, 1, 1, 1, 2]
    assert usage["input_tokens"] == 10 and usage["cached_input_tokens"] == CACHED
    assert usage["input_chars"] == counted["input_chars"]
    assert 0.7 < usage["uncounted_input_chars"] / usage["input_chars"] < 0.9
    # Every call's prompt is 10 tokens in this fake and about as long as the others.
    assert 45 < estimated_input_tokens(usage) < 55


def test_the_doubted_token_is_the_one_after_the_kept_text() -> None:
    tokens = [TokenScore(token=t, logprob=-0.1) for t in ("48", " +", "", " 2")]
    step = Step(**{**new_step(2, "", {}, None), "tokens": tokens})
    assert doubted({**step, "spans": [{"author": "local", "text": "48"}]}) == " +"
    assert doubted({**step, "spans": [{"author": "local", "text": ""}]}) == "48"
    # A token whose character a later one completes cannot be compared.
    assert doubted({**step, "spans": [{"author": "local", "text": "48 +"}]}) is None
    assert doubted({**step, "spans": [{"author": "cloud", "text": "48"}]}) is None
    assert doubted({**step, "spans": [{"author": "local", "text": "48 + 2"}]}) is None


def test_confirm_specs_and_the_random_baseline_matched_to_them(tmp_path: Path) -> None:
    assert parse_policy("token-confirm:0.8:8") == TokenPolicy(0.8, 8, confirm=True)
    systems = parse_sweep("token-confirm:0.8,0.9:8")
    assert [s.name for s in systems] == ["token-confirm:0.8:8", "token-confirm:0.9:8"]
    assert {s.sweep for s in systems} == {"token-confirm, k=8"}
    capped = parse_sweep("token-confirm:0.8:8:24")
    assert capped[0].policy == TokenPolicy(0.8, 8, 24, confirm=True)
    assert capped[0].sweep == "token-confirm, k=8, at most 24 switches a step"
    local, cloud = models(unsure={"4", "6"})
    item = Item("q1", QUESTION, "72", "number")
    setup = BenchSetup(local=local, cloud=cloud, prefill=True, reuse=False)
    chosen = [parse_system(s) for s in ("token-confirm:0.5:2", "random", "random-spend")]
    done = run_bench([item], chosen, tmp_path / "r.jsonl", setup)
    token, random, spend = item_records(done)
    assert token["cloud_calls"] == 5 and token["cloud_output_tokens"] == 6
    # The baseline hands over as the system does once a token is drawn: it confirms.
    assert random["rate"] == pytest.approx(5 / token["local_output_tokens"])
    assert random["policy"]["type"] == "RandomTokenPolicy" and random["policy"]["confirm"]
    # At that rate it confirmed tokens the local model had right, for less than the
    # system spent; random-spend draws as much more often as that falls short.
    assert random["cloud_output_tokens"] < 6
    assert spend["rate"] == pytest.approx(random["rate"] * 6 / random["cloud_output_tokens"])
    assert spend["policy"] == {**random["policy"], "rate": spend["rate"]}
    assert token["policy"] == {
        "type": "TokenPolicy", "tau": 0.5, "k": 2, "max_switches": 8, "confirm": True
    }  # fmt: skip
