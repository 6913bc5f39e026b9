"""The local model's verdict on its own steps in a bench: `judged-` systems ask for it,
and a verifier that would ignore it is refused (fake models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaswitch_graph import AlwaysLocal, Verifier, create_adaswitch_graph
from adaswitch_graph.bench import BenchSetup, parse_system, run_bench
from adaswitch_graph.datasets import Item
from adaswitch_graph.signals import SAMPLE_FEATURE
from adaswitch_graph.verifier import JUDGE_FEATURE
from tests.conftest import JUDGED_VERIFIER, QUESTION, ask
from tests.fakes import GOOD_RUN, scripted_cloud, scripted_local


def test_bench_specs_of_judged_systems() -> None:
    judged = parse_system("judged-selfverify:0.5")
    assert judged.judged and not judged.sampled and judged.kind == "adaswitch"
    both = parse_system("judged-sampled-local")
    assert both.judged and both.sampled and isinstance(both.policy, AlwaysLocal)
    assert parse_system("sampled-judged-local").judged
    assert not parse_system("sampled-local").judged


def test_a_bench_asks_for_verdicts_in_its_judged_systems_only(tmp_path: Path) -> None:
    items = [Item("q1", QUESTION, "72", "number")]
    local = scripted_local(GOOD_RUN, judge=lambda prompt: "yes")
    setup = BenchSetup(local=local, cloud=scripted_cloud(), verifier=JUDGED_VERIFIER, reuse=False)
    systems = [parse_system("local"), parse_system("judged-local")]
    records = run_bench(items, systems, tmp_path / "r.jsonl", setup)
    plain, judged = (
        next(r for r in records if r.get("item") and r["system"] == s)
        for s in ("local", "judged-local")
    )
    assert all(JUDGE_FEATURE not in s["signals"] for s in plain["trajectory"])
    assert [s["signals"][JUDGE_FEATURE] for s in judged["trajectory"]] == [1.0, 1.0]
    assert (plain["local_calls"], judged["local_calls"]) == (2, 4)


def test_a_bench_refuses_a_verifier_that_ignores_its_judged_systems_verdicts(
    tmp_path: Path,
) -> None:
    items = [Item("q1", QUESTION, "72", "number")]
    local = scripted_local(GOOD_RUN, judge=lambda prompt: "yes")
    setup = BenchSetup(
        local=local, cloud=scripted_cloud(), verifier=Verifier.default(), reuse=False
    )
    with pytest.raises(ValueError, match=r"judge=True records 'p_correct_judge'.*not weigh"):
        run_bench(items, [parse_system("judged-local")], tmp_path / "r.jsonl", setup)
    assert local.calls == []


def test_judged_and_sampled_steps_together_need_a_verifier_of_ones_own() -> None:
    with pytest.raises(ValueError, match="no verifier ships for sampled and judged steps"):
        create_adaswitch_graph("no-such:model", "no-such:model", judge=True, samples=2)
    both = Verifier(coefficients={JUDGE_FEATURE: -1.0, SAMPLE_FEATURE: 1.0}, intercept=0.0)
    create_adaswitch_graph(
        scripted_local(GOOD_RUN), scripted_cloud(), judge=True, samples=2, verifier=both
    )


def test_judged_graphs_default_to_the_verifier_that_weighs_the_verdict() -> None:
    local = scripted_local(GOOD_RUN, judge=lambda prompt: "no" if "Step 2:" in prompt else "yes")
    graph = create_adaswitch_graph(local, scripted_cloud(), policy=AlwaysLocal(), judge=True)
    first, second = graph.compile().invoke(ask())["steps"]
    assert (first["signals"][JUDGE_FEATURE], second["signals"][JUDGE_FEATURE]) == (1.0, 0.0)
    verifier = Verifier.default(judged=True)
    assert first["error_probability"] == verifier.error_probability(first["signals"])
    flipped = {**first["signals"], JUDGE_FEATURE: 0.0}
    assert verifier.error_probability(flipped) != first["error_probability"]
    assert JUDGE_FEATURE not in Verifier.default().coefficients
