"""The learned LONDI-B policy: fitted Q-iteration on scripted episodes, its hard budget,
its file, and its use in a bench with fake models (no network)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adaswitch_graph import LondiPolicy, StepView, TraceWriter, cli, read_trace, replay
from adaswitch_graph.bench import parse_system, run_bench
from adaswitch_graph.londi import fit_londi
from adaswitch_graph.nodes.local_reason import new_step
from adaswitch_graph.policies import describe_policy, parse_policy, policy_from_description
from tests.conftest import ask
from tests.fakes import SHAKY_RUN, scripted_cloud, scripted_local
from tests.test_bench import ITEMS, accuracy, by_system, setup

SWITCHES_PAST_HALF = LondiPolicy(accept=(0,) * 8, cloud=(-0.5, 1, 0, 0, 0, 0, 0, 0), max_calls=2)
"""Switches a draft whose error probability is above 0.5, at most twice a question."""


def view(error_probability: float, index: int = 1, cloud_calls: int = 0) -> StepView:
    step = new_step(index, "48 / 2 = 24", {}, None)
    step["error_probability"] = error_probability
    return StepView(question="q", step=step, steps=[], cloud_calls=cloud_calls)


def explored(episodes: int = 600, rate: float = 0.5, seed: int = 0) -> list[dict[str, Any]]:
    """Bench records of random switching in a world where a local step is wrong with its
    error probability, a cloud step is always right, and an answer is right when every
    step is."""
    draw = random.Random(seed)
    records = []
    for n in range(episodes):
        steps, right = [], True
        for index in (1, 2, 3):
            p = draw.random()
            cloud = draw.random() < rate
            right = right and (cloud or draw.random() >= p)
            author = "cloud" if cloud else "local"
            steps.append({"index": index, "author": author, "error_probability": p})
        records.append({"system": "random:0.5", "item": f"q{n}", "trajectory": steps,
                        "score": float(right), "correct": right})  # fmt: skip
    return records


def test_the_learned_policy_switches_where_the_cloud_pays_for_itself() -> None:
    found = fit_londi(explored(episodes=2000), cost=0.2, max_calls=3)
    assert found.episodes == 2000 and found.transitions == 6000 and found.skipped == 0
    assert 0.45 < found.switched < 0.55
    policy = found.policy
    assert policy.decide(view(0.9)) == "cloud"
    assert policy.decide(view(0.05)) == "accept"
    assert 0.2 < found.switches < 0.8
    # Worth less when the steps before it are likely wrong already: the answer is lost.
    for p in (0.1, 0.5, 0.9):
        assert policy.advantage(p, 3, 0, so_far=1.0) > policy.advantage(p, 3, 0, so_far=0.3)


def test_a_dear_cloud_is_never_worth_a_call() -> None:
    found = fit_londi(explored(), cost=2.0, max_calls=3)
    assert found.switches == 0
    assert found.policy.decide(view(0.99)) == "accept"


def test_the_budget_is_never_passed() -> None:
    assert SWITCHES_PAST_HALF.decide(view(0.9, cloud_calls=1)) == "cloud"
    assert SWITCHES_PAST_HALF.decide(view(0.9, cloud_calls=2)) == "accept"
    never = LondiPolicy(accept=(0,) * 8, cloud=(1, 0, 0, 0, 0, 0, 0, 0), max_calls=0)
    assert never.decide(view(0.9)) == "accept"


def test_in_the_graph_its_own_budget_stops_it_and_its_trace_replays(
    build: Any, tmp_path: Path
) -> None:
    # Steps 2 and 3 are doubted; a budget of one call leaves step 3 to the local model.
    once = LondiPolicy(SWITCHES_PAST_HALF.accept, SWITCHES_PAST_HALF.cloud, max_calls=1)
    path = tmp_path / "run.jsonl"
    graph = build(scripted_local(SHAKY_RUN), scripted_cloud(), policy=once)
    result = graph.invoke(ask(), {"callbacks": [TraceWriter(path)]})
    assert [s["author"] for s in result["steps"]] == ["local", "cloud", "local", "local"]
    assert result["usage"]["cloud"]["calls"] == 1
    (run,) = read_trace(path)
    assert [r.decision for r in replay(run)] == [s["decision"] for s in result["steps"]]
    assert [r.decision for r in replay(run, policy=SWITCHES_PAST_HALF)][1:3] == ["cloud"] * 2


def test_a_draft_without_an_error_probability_is_accepted() -> None:
    step = new_step(1, "48 / 2 = 24", {}, None)
    assert SWITCHES_PAST_HALF.decide(StepView("q", step, [], 0)) == "accept"


def test_fitting_needs_steps_both_accepted_and_switched() -> None:
    with pytest.raises(ValueError, match="both accepted and switched"):
        fit_londi(explored(episodes=20, rate=0.0))
    with pytest.raises(ValueError, match="both accepted and switched"):
        fit_londi([])


def test_failed_runs_and_unscored_steps_are_left_out() -> None:
    records = explored(episodes=40)
    records[0]["error"] = "RuntimeError: server went away"
    records[1]["trajectory"][1]["error_probability"] = None
    found = fit_londi(records)
    assert found.episodes == 38 and found.skipped == 2


def test_bad_weights_and_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs 8 weights"):
        LondiPolicy(accept=(0, 0), cloud=(0,) * 8)
    with pytest.raises(ValueError, match="fit one with adaswitch fit-londi"):
        LondiPolicy.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"accept": [0, 0, 0, 0]}')
    with pytest.raises(ValueError, match="not a LONDI policy file"):
        LondiPolicy.load(tmp_path / "bad.json")
    SWITCHES_PAST_HALF.save(tmp_path / "old.json")
    old = json.loads((tmp_path / "old.json").read_text())
    old["features"] = ["bias", "error_probability"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    with pytest.raises(ValueError, match="fit it again with adaswitch fit-londi"):
        LondiPolicy.load(tmp_path / "old.json")


def test_a_policy_survives_its_file_and_its_trace(tmp_path: Path) -> None:
    path = tmp_path / "Policy.json"
    SWITCHES_PAST_HALF.save(path, system="random:0.5")
    assert LondiPolicy.load(path) == SWITCHES_PAST_HALF
    assert json.loads(path.read_text())["meta"] == {"system": "random:0.5"}
    assert parse_policy(f"londi:{path}") == SWITCHES_PAST_HALF
    assert parse_system(f"londi:{path}").policy == SWITCHES_PAST_HALF
    described = json.loads(json.dumps(describe_policy(SWITCHES_PAST_HALF)))
    assert policy_from_description(described) == SWITCHES_PAST_HALF


def test_the_shipped_policy_loads() -> None:
    shipped = LondiPolicy.default()
    assert parse_policy("londi") == shipped
    assert shipped.max_calls >= 1
    assert shipped.decide(view(0.99)) != shipped.decide(view(0.01))


def test_fit_londi_writes_the_policy_it_learned(tmp_path: Path) -> None:
    results, policy = tmp_path / "train.jsonl", tmp_path / "londi.json"
    results.write_text("".join(json.dumps(r) + "\n" for r in explored()))
    args = ["fit-londi", str(results), "--system", "random:0.5", "--cost", "0.2"]
    done = CliRunner().invoke(cli.app, [*args, "--max-calls", "3", "--out", str(policy)])
    assert done.exit_code == 0, done.output
    assert "600 episodes (0 left out), 1800 steps, 49% of them switched" in done.output
    fitted = fit_londi(explored(), cost=0.2, max_calls=3)
    assert f"switches on {fitted.switches:.0%} of these steps" in done.output
    assert LondiPolicy.load(policy) == fitted.policy


def test_a_bench_runs_a_londi_policy_from_its_file(tmp_path: Path) -> None:
    policy = tmp_path / "londi.json"
    SWITCHES_PAST_HALF.save(policy)
    systems = [parse_system(s) for s in ("local", "cloud", f"londi:{policy}", "random")]
    records = by_system(run_bench(ITEMS, systems, tmp_path / "r.jsonl", setup()))
    # The quiz's local model is unsure of exactly its wrong steps.
    learned = records[systems[2].name]
    assert accuracy(records["local"]) == 0.5 and accuracy(learned) == 1.0
    assert sum(r["cloud_calls"] for r in learned) == 3
    assert {r["rate"] for r in records["random"]} == {0.5}


def test_fit_londi_says_what_is_missing(tmp_path: Path) -> None:
    missing = CliRunner().invoke(cli.app, ["fit-londi", str(tmp_path / "x.jsonl"), "--system", "r"])
    assert missing.exit_code != 0 and "--systems random:0.4" in missing.output
    results = tmp_path / "train.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in explored(episodes=5)))
    other = CliRunner().invoke(cli.app, ["fit-londi", str(results), "--system", "random:0.3"])
    assert other.exit_code != 0 and "no records of system 'random:0.3'" in other.output
