"""The summary arithmetic, the Markdown table and the frontier plot."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest

from adaswitch_graph.report import (
    COLUMNS,
    auroc,
    cost_lines,
    estimate_lines,
    frontier_figure,
    markdown_table,
    plot_frontier,
    recorded_prices,
    row_cells,
    run_models,
    speed_lines,
    summarize,
    target_lines,
    wilson,
)


def record(system: str, kind: str, item: int, correct: bool, **usage: int) -> dict[str, Any]:
    fields = {
        f"{role}_{name}": 0
        for role in ("local", "cloud")
        for name in ("calls", "input_tokens", "output_tokens", "input_chars", "output_chars")
    }
    fields.update(usage)
    return {
        "system": system,
        "kind": kind,
        "sweep": "selfverify" if kind == "adaswitch" else None,
        "item": f"q{item}",
        "correct": correct,
        "steps": 2,
        "trajectory": [],
        "error": None,
        **fields,
    }


def records() -> list[dict[str, Any]]:
    rs = []
    for i in range(10):
        rs.append(
            record("local", "local", i, i < 2, local_input_tokens=100, local_output_tokens=50)
        )
        rs.append(
            record(
                "cloud",
                "cloud",
                i,
                i < 8,
                cloud_calls=2,
                cloud_output_tokens=40,
                cloud_input_tokens=200,
                cloud_input_chars=900 if i < 5 else 700,
            )
        )
        rs.append(
            record(
                "selfverify:0.3",
                "adaswitch",
                i,
                i < 5,
                local_output_tokens=50,
                cloud_calls=1 if i < 4 else 0,
                cloud_output_tokens=10 if i < 4 else 0,
            )
        )
    rs.append({"meta": True, "system": "local", "items_run": 10, "elapsed_s": 30.0})
    rs.append({"meta": True, "system": "local", "items_run": 0, "elapsed_s": 0.0})
    # An item only one system finished is left out of every row.
    rs.append(record("local", "local", 99, True))
    return rs


def test_the_summary_prices_with_the_prices_the_runs_recorded() -> None:
    def cloud_cost(records: list[dict[str, Any]], **prices: tuple[float, float]) -> float:
        rows = summarize(records, cloud_model="c", prices=prices or None)
        return next(r.cost_per_1k for r in rows if r.system == "cloud")

    # 200 input and 40 output tokens a question.
    meta = {"meta": True, "system": "cloud", "items_run": 10, "elapsed_s": 60.0}
    first, later = meta | {"prices": {"c": [1.0, 2.0]}}, meta | {"prices": {"c": [0.5, 1.0]}}
    assert cloud_cost(records()) == 0.0  # "c" is in no table
    assert cloud_cost([*records(), first]) == pytest.approx(0.28)
    assert cloud_cost([*records(), first, later]) == pytest.approx(0.14)  # the later run's
    assert cloud_cost([*records(), first], c=(0.0, 10.0)) == pytest.approx(0.4)  # asked wins
    assert recorded_prices([first, later, meta]) == {"c": (0.5, 1.0)}


def test_costs_are_priced_for_the_models_of_the_last_run_that_names_them() -> None:
    named = {"meta": True, "system": "cloud", "local": "l", "cloud": "c"}
    later = named | {"local": "l2", "cloud": "c2"}
    objects = named | {"local": None, "cloud": None}  # a run given model objects
    assert run_models([]) == ("", "")
    assert run_models([named, {"meta": True, "system": "x"}]) == ("l", "c")
    assert run_models([named, later, *records()]) == ("l2", "c2")
    # An earlier run's names do not price a later run's models.
    assert run_models([named, objects]) == ("", "")


def test_input_tokens_a_backend_did_not_report_are_estimated_priced_and_marked() -> None:
    rs = records()
    for r in rs:
        if r.get("system") == "cloud":
            r["cloud_input_chars"] = 800
            if r["item"] in ("q0", "q1"):  # calls whose backend reported no input tokens
                r["cloud_uncounted_input_chars"], r["cloud_input_tokens"] = 800, 0
    rows = {r.system: r for r in summarize(rs, cloud_model="c", prices={"c": (1.0, 2.0)})}
    cloud = rows["cloud"]
    # The other calls had 200 tokens in 800 characters: so have these.
    assert cloud.cloud_tokens_estimated == pytest.approx(2 * 200 / 10)
    assert cloud.cloud_tokens == pytest.approx(240)
    assert cloud.cost_per_1k == pytest.approx(1000 * 280 / 1e6)
    assert row_cells(cloud)[COLUMNS.index("cloud tok./q")] == "240 (40 est.)"
    assert row_cells(rows["local"])[COLUMNS.index("cloud tok./q")] == "0"
    (line,) = estimate_lines(list(rows.values()))
    assert "(cloud)" in line
    assert estimate_lines(summarize(records())) == []


def test_summary_arithmetic() -> None:
    rows = {r.system: r for r in summarize(records(), cloud_model="c", prices={"c": (1.0, 2.0)})}
    local, cloud, sv = rows["local"], rows["cloud"], rows["selfverify:0.3"]
    assert (local.n, cloud.n, sv.n) == (10, 10, 10)
    assert (local.accuracy, cloud.accuracy, sv.accuracy) == (0.2, 0.8, 0.5)
    assert sv.gap_recovered == pytest.approx((0.5 - 0.2) / (0.8 - 0.2))
    assert (local.gap_recovered, cloud.gap_recovered) == (0.0, 1.0)
    # 4 calls x 10 tokens against 10 items x 40 tokens.
    assert sv.cloud_output_share == pytest.approx(40 / 400)
    assert sv.cloud_calls == pytest.approx(0.4)
    assert sv.steps == 2.0
    assert local.local_tokens == 150 and cloud.cloud_tokens == 240
    assert (cloud.cloud_chars_sent, local.cloud_chars_sent) == (800, 0)
    assert cloud.cloud_step_rate == 1.0
    # USD per 1000 questions: (200 * 1 + 40 * 2) / 1e6 per question.
    assert cloud.cost_per_1k == pytest.approx(1000 * 280 / 1e6)
    assert local.cost_per_1k == 0.0
    assert local.items_per_min == pytest.approx(20.0)
    assert sv.items_per_min is None
    low, high = wilson(5, 10)
    assert (sv.ci_low, sv.ci_high) == (low, high)
    assert (sv.fixed, sv.lost, cloud.fixed, local.fixed) == (3, 0, 6, 0)


def test_each_systems_dollars_are_put_against_the_cloud_alones() -> None:
    rows = summarize(records(), cloud_model="c", prices={"c": (1.0, 2.0)})
    # Cloud alone: (200 * 1 + 40 * 2) / 1e6 a question; selfverify's 4 calls of 10
    # output tokens (and no input tokens) over 10 questions: 40 * 2 / 1e6 / 10.
    assert cost_lines(rows) == [
        "$ against cloud alone's $0.280 per 1000 questions, input and output tokens at the "
        "price table: selfverify:0.3 0.03x"
    ]
    dear = replace(rows[-1], system="token:0.9", cost_per_1k=1.4)
    assert cost_lines([*rows, dear])[0].endswith("selfverify:0.3 0.03x, token:0.9 5.00x")
    # Where the records count cached input tokens, their share follows (half of cloud
    # alone's 200 on items q0-q4, none on q5-q9: a quarter).
    halves = {"q0", "q1", "q2", "q3", "q4"}
    cached = [
        r | {"cloud_cached_input_tokens": 100 if r["item"] in halves else 0}
        if r["system"] == "cloud"
        else r
        for r in records()
    ]
    assert [r.cloud_cached_share for r in summarize(cached)][:3] == [0.0, 0.25, 0.0]
    (line,) = cost_lines(summarize(cached, cloud_model="c", prices={"c": (1.0, 2.0)}))[1:]
    assert line.startswith("of the cloud's input tokens, its server read from its prompt cache: ")
    assert "cache: cloud 25% (priced in full above;" in line
    # A system whose records do not all count them (some were written before the bench
    # did) has no share: its uncounted records would pass for ones with none cached.
    older = [
        r | {"cloud_input_tokens": 300} if r["system"] == "selfverify:0.3" else r for r in cached
    ]
    older[-1] |= {"cloud_cached_input_tokens": 30}
    assert {r.system: r for r in summarize(older)}["selfverify:0.3"].cloud_cached_share is None
    (line,) = cost_lines(summarize(older, cloud_model="c", prices={"c": (1.0, 2.0)}))[1:]
    assert "cache: cloud 25%; not known for selfverify:0.3 (records from before the count)" in line
    # Unpriced, or without the cloud alone, there is nothing to put it against.
    assert cost_lines(summarize(records())) == []
    assert cost_lines([r for r in rows if r.kind != "cloud"]) == []


def test_a_system_that_replayed_calls_gets_no_items_per_minute() -> None:
    rs = records()
    rs.append({"meta": True, "system": "selfverify:0.3", "items_run": 10, "elapsed_s": 6.0})
    assert {r.system: r for r in summarize(rs)}["selfverify:0.3"].items_per_min == 100.0
    # One call of one item answered from the cache: the speed times the cache, not the system,
    # even when that item is outside the rows' common items.
    rs.append(record("selfverify:0.3", "adaswitch", 42, True, local_calls=1) | {"cached_calls": 1})
    row = {r.system: r for r in summarize(rs)}["selfverify:0.3"]
    assert row.items_per_min is None
    # Its calls reused count that item too, so the row does not show 0% beside no speed.
    assert row_cells(row)[COLUMNS.index("calls reused")] == "20%"


def test_the_rows_without_items_per_minute_are_named_and_a_few_reused_calls_shown() -> None:
    rs = records()
    rs.append({"meta": True, "system": "selfverify:0.3", "items_run": 10, "elapsed_s": 6.0})
    rs.append({"meta": True, "system": "cloud", "items_run": 10, "elapsed_s": 6.0})
    assert speed_lines(summarize(rs)) == []
    # One of local alone's 1000 calls answered from the cache: too few to show as 1%.
    rs = [
        r | {"local_calls": 100, "cached_calls": int(r["item"] == "q3")}
        if r.get("kind") == "local"
        else r
        for r in rs
    ]
    rows = {r.system: r for r in summarize(rs)}
    assert row_cells(rows["local"])[COLUMNS.index("calls reused")] == "<1%"
    assert row_cells(rows["cloud"])[COLUMNS.index("calls reused")] == "0%"
    (line,) = speed_lines(
        [*rows.values(), replace(rows["cloud"], system="cascade", items_per_min=None)]
    )
    assert line.startswith("items/min left out (local, cascade): ")
    assert "call cache" in line


def test_fixed_and_lost_count_questions_against_local_alone() -> None:
    rs = [r for r in records() if r["system"] != "selfverify:0.3"]
    # Right where local was wrong on q5 and q6, wrong where local was right on q0.
    rs += [record("selfverify:0.3", "adaswitch", i, i in (1, 5, 6)) for i in range(10)]
    sv = {r.system: r for r in summarize(rs)}["selfverify:0.3"]
    assert (sv.fixed, sv.lost) == (2, 1)
    assert "| selfverify:0.3 | 10 | 30.0% " in markdown_table([sv])
    assert "| 2 / 1 | 0.00 | 2.0 |" in markdown_table([sv])
    assert "| cloud tok./q | chars sent to cloud/q |" in markdown_table([sv])


TARGET = "target (>= 60% of the gap for <= 40% of cloud alone's output tokens): "


def test_the_target_is_met_only_by_a_system_that_does_not_read_the_answer_key() -> None:
    rows = summarize(records())
    sv = rows[-1]
    assert sv.system == "selfverify:0.3"
    assert (sv.gap_recovered, sv.cloud_output_share) == pytest.approx((0.5, 0.1))
    assert target_lines(rows) == [TARGET + "not met"]
    oracle = replace(sv, system="oracle-steps", kind="oracle-steps", sweep=None, gap_recovered=0.9)
    assert target_lines([*rows, oracle]) == [TARGET + "not met"]
    edge = replace(
        sv, system="selfverify:0.2", sweep=None, gap_recovered=0.6, cloud_output_share=0.4
    )
    dear = replace(edge, system="selfverify:0.1", cloud_output_share=0.41)
    assert target_lines([*rows, edge, dear, oracle]) == [
        TARGET + "met by selfverify:0.2 (60% for 40%)"
    ]
    # On the edge as counts give it: local 4 of 10 right, cloud 9, this system 7.
    counted = replace(edge, gap_recovered=(0.7 - 0.4) / (0.9 - 0.4), cloud_output_share=2 / 5)
    assert counted.gap_recovered is not None and counted.gap_recovered < 0.6
    assert target_lines([*rows, counted]) == [TARGET + "met by selfverify:0.2 (60% for 40%)"]


def test_a_sweep_is_read_where_its_line_crosses_the_target_spend() -> None:
    rows = summarize(records())
    sv = rows[-1]  # 50% of the gap for 10% of the tokens
    above = replace(sv, system="selfverify:0.1", cloud_output_share=0.7, gap_recovered=0.8)
    short = replace(sv, system="selfverify:0.25", cloud_output_share=0.2, gap_recovered=0.55)
    assert target_lines([*rows, short, above])[1:] == [
        "selfverify sweep at 40% of cloud alone's output tokens: 65% of the gap "
        "(on the line from selfverify:0.25 to selfverify:0.1)"
    ]
    # A sweep that stops short of 40% is not extended.
    assert target_lines([*rows, short]) == [TARGET + "not met"]
    # Without cloud alone there is no gap and no share to read.
    assert target_lines(summarize([r for r in records() if r["system"] != "cloud"])) == []


def test_wilson_interval() -> None:
    low, high = wilson(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert wilson(0, 0) == (0.0, 0.0)


def test_no_gap_without_a_gap() -> None:
    same = [r for r in records() if r["system"] != "cloud"]
    rows = summarize(same)
    assert all(r.gap_recovered is None and r.cloud_output_share is None for r in rows)


def test_auroc() -> None:
    assert auroc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    assert auroc([0.5], [True]) is None


def test_markdown_and_plot(tmp_path: Path) -> None:
    rows = summarize(records())
    table = markdown_table(rows).splitlines()
    assert table[0].startswith("| system | n | accuracy (95% CI) | gap recovered |")
    assert len(table) == 2 + 3
    assert "| selfverify:0.3 | 10 | 50.0% (23.7% to 76.3%) | 50% |" in table[4]
    png = plot_frontier(rows, tmp_path / "f.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_labels_of_points_close_together_do_not_cover_each_other() -> None:
    rows = summarize(records())
    cluster = rows[-1]
    crowded = [*rows, *(replace(cluster, system=f"near-{i}", sweep=None) for i in range(4))]
    fig = frontier_figure(crowded)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    labels = [t for t in ax.texts if t.get_text() != "target"]
    named = [r.system for r in crowded if r.cloud_output_share is not None]
    assert sorted(t.get_text() for t in labels) == sorted(named)
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert all(frame.contains(b.x0, b.y0) and frame.contains(b.x1, b.y1) for b in boxes)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    # Each label has its point's colour: one between two points still says whose it is.
    markers = [line for line in ax.lines if line.get_marker() == "o"]
    assert [t.get_color() for t in labels] == [m.get_color() for m in markers]
    assert len({t.get_color() for t in labels}) > 1
    plt.close(fig)


def test_a_sweep_named_by_the_command_gathers_records_run_outside_it() -> None:
    rs = records()
    adaswitch = [r for r in rs if r.get("system") == "selfverify:0.3"]
    rs += [{**r, "system": "selfverify:0.5"} for r in adaswitch]
    for r in adaswitch:
        r["sweep"] = None  # run alone first, then named in a sweep
    untagged = {row.system: row.sweep for row in summarize(rs)}
    assert untagged["selfverify:0.3"] is None and untagged["selfverify:0.5"] == "selfverify"
    named = summarize(rs, sweeps={"selfverify:0.3": "selfverify"})
    assert {row.system: row.sweep for row in named}["selfverify:0.3"] == "selfverify"


def test_only_a_sweep_of_two_points_or_more_is_drawn_as_a_line() -> None:
    rows = summarize(records())
    one = frontier_figure(rows)
    assert one.axes[0].get_legend() is None
    assert [line for line in one.axes[0].lines if line.get_linestyle() == "-"] == []
    swept = rows[-1]
    two = frontier_figure([*rows, replace(swept, system="selfverify:0.5", accuracy=0.3)])
    assert [t.get_text() for t in two.axes[0].get_legend().get_texts()] == ["selfverify sweep"]
    plt.close(one)
    plt.close(two)
