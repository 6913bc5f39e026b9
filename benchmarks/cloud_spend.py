"""Where an AdaSwitch system's cloud tokens went, and which of the questions it could
gain it did gain, from a bench results file that also holds `local` and `cloud`:

    python benchmarks/cloud_spend.py runs/test.jsonl --system selfverify:0.44 \\
        --data-dir DIR

The questions fall in three groups by what local alone and cloud alone got: right
locally (the cloud can only lose them), the gap (only the cloud gets them right), and
neither. A router that knew the groups would spend every cloud token on the gap.

Gap questions are then split by when the system first sent a step to the cloud,
against the first step of the local model's own solution that the reference marks
wrong (`scoring.step_is_right`; the system's steps up to its first cloud step are the
local model's, since the calls are the same): no step sent; sent before that step (the
solutions part there, and the local model may still make its mistake later); sent at
that very step (the verifier caught the mistake); sent after it (it let the mistake
through).
The step labels are noisy (a right step on another path than the reference's counts as
wrong, a wrong one that lands on a reference number as right), so the timing is too.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from adaswitch_graph.bench import item_records, read_records
from adaswitch_graph.datasets import Item
from adaswitch_graph.scoring import step_is_right

GROUPS = ("local right", "gap: only cloud right", "neither right")
TIMINGS = (
    "no step sent",
    "first sent before the first wrong step",
    "first sent at the first wrong step",
    "first sent after the first wrong step",
    "first sent, no step marked wrong",
)


def by_item(records: Sequence[dict[str, Any]], system: str) -> dict[str, dict[str, Any]]:
    """The system's record of each item (`read_records` keeps the last one written)."""
    return {r["item"]: r for r in item_records(records) if r["system"] == system}


def group(local: Mapping[str, Any], cloud: Mapping[str, Any]) -> str:
    if local["correct"]:
        return GROUPS[0]
    return GROUPS[1] if cloud["correct"] else GROUPS[2]


def first_step(steps: Sequence[Mapping[str, Any]], wanted: Any) -> Mapping[str, Any] | None:
    return next((s for s in steps if wanted(s)), None)


def timing(local: Mapping[str, Any], system: Mapping[str, Any], item: Item | None) -> str:
    sent = first_step(system["trajectory"], lambda s: s["author"] == "cloud")
    if sent is None:
        return TIMINGS[0]
    wrong = None
    if item is not None:
        # Records of runs that failed before the bench kept their steps have none.
        wrong = first_step(
            local.get("trajectory", []), lambda s: step_is_right(s["text"], item) is False
        )
    if wrong is None:
        return TIMINGS[4]
    order = (sent["index"] > wrong["index"]) - (sent["index"] < wrong["index"])
    return TIMINGS[2 + order]


def breakdown(
    records: Sequence[dict[str, Any]], system: str, items: Mapping[str, Item]
) -> dict[str, Any]:
    """Counts and cloud output tokens (the system's and cloud alone's) by group, and the
    gap questions by timing."""
    local, cloud, ours = (by_item(records, s) for s in ("local", "cloud", system))
    shared = sorted(set(local) & set(cloud) & set(ours))
    if not shared:
        raise SystemExit(f"no item has records of local, cloud and {system!r}")
    # Shares of cloud alone's output tokens, as the bench's "vs cloud alone" column.
    total = sum(cloud[i]["cloud_output_tokens"] for i in shared) or 1
    groups: dict[str, Counter[str]] = {g: Counter() for g in GROUPS}
    timings: dict[str, Counter[bool]] = {t: Counter() for t in TIMINGS}
    for i in shared:
        g = group(local[i], cloud[i])
        groups[g]["n"] += 1
        groups[g]["right"] += bool(ours[i]["correct"])
        groups[g]["tokens"] += ours[i]["cloud_output_tokens"]
        groups[g]["cloud_tokens"] += cloud[i]["cloud_output_tokens"]
        if g == GROUPS[1] and "trajectory" in ours[i]:
            timings[timing(local[i], ours[i], items.get(i))][bool(ours[i]["correct"])] += 1
    return {"n": len(shared), "total_tokens": total, "groups": groups, "timings": timings}


def render(system: str, found: Mapping[str, Any]) -> str:
    lines = [
        f"{system} on {found['n']} items",
        "",
        "cloud output tokens as % of all that cloud alone wrote on these items:",
        "",
        "| questions | n | right with it | its cloud tokens | cloud alone's |",
        "|---|---|---|---|---|",
    ]
    for name, c in found["groups"].items():
        ours, alone = (100 * c[k] / found["total_tokens"] for k in ("tokens", "cloud_tokens"))
        lines.append(f"| {name} | {c['n']} | {c['right']} | {ours:.0f}% | {alone:.0f}% |")
    if not any(found["timings"].values()):
        return "\n".join([*lines, "", "(its records keep no trajectory: no step timing)"])
    lines += ["", "| gap questions | n | gained |", "|---|---|---|"]
    for name, c in found["timings"].items():
        lines.append(f"| {name} | {c[True] + c[False]} | {c[True]} |")
    return "\n".join(lines)


def main() -> None:
    from calibrate_verifier import references

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="a bench results file with local, cloud and SYSTEM")
    parser.add_argument(
        "--system", required=True, help="the AdaSwitch system, e.g. selfverify:0.44"
    )
    parser.add_argument("--data-dir", help="folder of the datasets, for the step labels")
    args = parser.parse_args()
    found = breakdown(read_records(args.results), args.system, references(args.data_dir))
    print(render(args.system, found))


if __name__ == "__main__":
    main()
