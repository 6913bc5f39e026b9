"""Where an AdaSwitch system's cloud tokens went, and which of the questions it could
gain it did gain, from a bench results file that also holds `local` and `cloud`:

    python benchmarks/cloud_spend.py runs/test.jsonl --system selfverify:0.44 \\
        --data-dir DIR

The questions fall in three groups by what local alone and cloud alone got: right
locally (the cloud can only lose them), the gap (only the cloud gets them right), and
neither. A router that knew the groups would spend every cloud token on the gap. It
also counts the cloud steps that left the local draft they replaced word for word as it
was: tokens spent to change nothing.

Gap questions are then split by when the system first sent a step to the cloud,
against the first step of the local model's own solution that the reference marks
wrong (`scoring.step_is_right`; the system's steps up to its first cloud step are the
local model's, since the calls are the same): no step sent; sent before that step (the
solutions part there, and the local model may still make its mistake later); sent at
that very step (the verifier caught the mistake); sent after it (it let the mistake
through).
The step labels are noisy (a right step on another path than the reference's counts as
wrong, a wrong one that lands on a reference number as right), so the timing is too.
With the same labels it says how long local alone's solutions to the gap questions are,
how much of their text is in wrong steps, and how far in the first one starts: switching
at random places catches a mistake only where it lands on one.

`--caps 250,150` also asks what a per-question cap on the cloud's output tokens
(`Budget(max_cloud_tokens=...)`) could do, from the same records without running it: a
question that spent less than the cap is unchanged; one that spent more spends the cap,
and its answer either stays as it was ("kept") or, if it was right, turns wrong
("lost"). The two gap figures bracket what a capped run would recover, unless capping
turns wrong answers right, which it can do only by chance.

`--cloud-failure` asks whether any signal could have told, before the cloud was paid,
the questions it cannot solve either: among the questions local alone gets wrong, the
AUROC of each confidence (lower confidence, higher score) against cloud alone's answer
being wrong too, from the steps both runs recorded. Signals read off the local solution
or the cloud's first steps come before most of the spend; the cloud's whole solution
comes after all of it.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from adaswitch_graph.bench import item_records, local_confidence, read_records
from adaswitch_graph.calibration import references
from adaswitch_graph.datasets import Item
from adaswitch_graph.report import auroc
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


def timing(
    steps: Sequence[Mapping[str, Any]], wrong: Sequence[bool], system: Mapping[str, Any]
) -> str:
    """When `system` first sent a step to the cloud, against the first of local alone's
    `steps` marked `wrong`."""
    sent = first_step(system["trajectory"], lambda s: s["author"] == "cloud")
    if sent is None:
        return TIMINGS[0]
    if True not in wrong:
        return TIMINGS[4]
    first = steps[wrong.index(True)]["index"]
    order = (sent["index"] > first) - (sent["index"] < first)
    return TIMINGS[2 + order]


def wrong_text(steps: Sequence[Mapping[str, Any]], wrong: Sequence[bool]) -> Counter[str]:
    """How much of a solution's text is in the steps marked `wrong`, and how much comes
    before the first of them: where switching at random places must land to catch a
    mistake."""
    if not steps:
        return Counter()
    sizes = [len(s["text"]) for s in steps]
    found = Counter(solutions=1, chars=sum(sizes))
    found["wrong_chars"] = sum(size for size, bad in zip(sizes, wrong, strict=True) if bad)
    if any(wrong):
        found.update(marked=1, before=sum(sizes[: wrong.index(True)]))
    return found


Records = dict[str, dict[str, Any]]


def side_by_side(
    records: Sequence[dict[str, Any]], system: str
) -> tuple[Records, Records, Records, list[str], int]:
    """The records of local, cloud and `system` by item, the items all three have, and
    cloud alone's output tokens on them (the bench's "vs cloud alone" is a share of it)."""
    local, cloud, ours = (by_item(records, s) for s in ("local", "cloud", system))
    shared = sorted(set(local) & set(cloud) & set(ours))
    if not shared:
        raise SystemExit(f"no item has records of local, cloud and {system!r}")
    total = sum(cloud[i]["cloud_output_tokens"] for i in shared) or 1
    return local, cloud, ours, shared, total


def breakdown(
    records: Sequence[dict[str, Any]], system: str, items: Mapping[str, Item]
) -> dict[str, Any]:
    """Counts and cloud output tokens (the system's and cloud alone's) by group, and the
    gap questions by timing."""
    local, cloud, ours, shared, total = side_by_side(records, system)
    groups: dict[str, Counter[str]] = {g: Counter() for g in GROUPS}
    timings: dict[str, Counter[bool]] = {t: Counter() for t in TIMINGS}
    mistakes: Counter[str] = Counter()
    unreferenced = 0
    # Cloud steps that replaced a local draft, and those that left it word for word as
    # it was: tokens spent to change nothing.
    rewrites = [
        (s["text"].strip(), s["draft"].strip())
        for i in shared
        for s in ours[i].get("trajectory", [])
        if s["author"] == "cloud" and s.get("draft")
    ]
    for i in shared:
        g = group(local[i], cloud[i])
        groups[g]["n"] += 1
        groups[g]["right"] += bool(ours[i]["correct"])
        groups[g]["tokens"] += ours[i]["cloud_output_tokens"]
        groups[g]["cloud_tokens"] += cloud[i]["cloud_output_tokens"]
        if g != GROUPS[1] or "trajectory" not in ours[i]:
            continue
        if i not in items:
            # Without a worked solution (reasoning-gym items, --data files) no step of
            # the local model's can be marked wrong, so its timing is unknown.
            unreferenced += 1
            continue
        # Records of runs that failed before the bench kept their steps have none.
        steps = local[i].get("trajectory", [])
        wrong = [step_is_right(s["text"], items[i]) is False for s in steps]
        timings[timing(steps, wrong, ours[i])][bool(ours[i]["correct"])] += 1
        mistakes.update(wrong_text(steps, wrong))
    return {
        "n": len(shared),
        "total_tokens": total,
        "groups": groups,
        "timings": timings,
        "unreferenced": unreferenced,
        "mistakes": mistakes,
        "rewrites": len(rewrites),
        "copies": sum(text == draft for text, draft in rewrites),
    }


def capped(records: Sequence[dict[str, Any]], system: str, caps: Sequence[int]) -> str:
    """The cloud-token share and gap recovered of `system` under each per-question cap,
    with capped answers kept, and with capped right answers lost."""
    local, cloud, ours, shared, total = side_by_side(records, system)
    right = {
        name: sum(bool(r[i]["correct"]) for i in shared)
        for name, r in (("local", local), ("cloud", cloud), ("ours", ours))
    }
    gap = (right["cloud"] - right["local"]) or 1
    kept = (right["ours"] - right["local"]) / gap
    lines = [
        "| cap (cloud tokens/question) | questions over it | cloud tokens vs cloud alone "
        "| gap recovered, kept | gap recovered, lost |",
        "|---|---|---|---|---|",
    ]
    for cap in caps:
        over = [i for i in shared if ours[i]["cloud_output_tokens"] > cap]
        spent = sum(min(ours[i]["cloud_output_tokens"], cap) for i in shared)
        lost_right = sum(bool(ours[i]["correct"]) for i in over)
        lost = (right["ours"] - lost_right - right["local"]) / gap
        lines.append(
            f"| {cap} | {len(over)} | {100 * spent / total:.0f}% | {kept:.0%} | {lost:.0%} |"
        )
    return "\n".join(lines)


def _digit_doubt(steps: Sequence[Mapping[str, Any]]) -> float:
    """How unsure `steps` were of their digits: minus their summed digit log-probability
    (the verifier's signal)."""
    return -sum(float(s["signals"]["digits_logprob"]) for s in steps)


Run = dict[str, Any]
FORESIGHT: dict[str, Callable[[Run, Run], float]] = {
    # name: doubt from (local alone's record, cloud alone's record)
    "local solution, digits (the verifier's signal)": lambda local, _: _digit_doubt(
        local["trajectory"]
    ),
    "local solution, lowest token (the cascade's)": lambda local, _: -local_confidence(local),
    "cloud's first step, digits": lambda _, cloud: _digit_doubt(cloud["trajectory"][:1]),
    "cloud's first two steps, digits": lambda _, cloud: _digit_doubt(cloud["trajectory"][:2]),
    "cloud's whole solution, digits (after all its spend)": lambda _, cloud: _digit_doubt(
        cloud["trajectory"]
    ),
}


def cloud_failure(records: Sequence[dict[str, Any]]) -> str:
    """How well each `FORESIGHT` signal tells, among the questions local alone gets
    wrong, those cloud alone gets wrong too from those it gets right."""
    runs = {s: by_item(records, s) for s in ("local", "cloud")}
    items = [
        i
        for i, local in runs["local"].items()
        if not local["correct"]
        and i in runs["cloud"]
        # A failed run's answer is no model's answer, and its steps may stop short.
        and all(runs[s][i].get("trajectory") and not runs[s][i]["error"] for s in runs)
    ]
    if not items:
        raise SystemExit("no question that local alone got wrong has both runs' steps")
    failed = [not runs["cloud"][i]["correct"] for i in items]
    lines = [
        f"of {len(items)} questions local alone got wrong, cloud alone got {sum(failed)} "
        "wrong too; AUROC against those:",
        "",
        "| signal | AUROC |",
        "|---|---|",
    ]
    for name, doubt in FORESIGHT.items():
        value = auroc([doubt(runs["local"][i], runs["cloud"][i]) for i in items], failed)
        lines.append(f"| {name} | {'-' if value is None else f'{value:.3f}'} |")
    return "\n".join(lines)


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
    if found["rewrites"]:
        lines += [
            "",
            f"cloud steps identical to the local draft they replaced: {found['copies']} "
            f"of {found['rewrites']}",
        ]
    unreferenced = found["unreferenced"]
    if unreferenced:
        lines += [
            "",
            f"(gap questions without a worked solution, so no step timing: {unreferenced})",
        ]
    if not any(found["timings"].values()):
        if not unreferenced:
            lines += ["", "(its records keep no trajectory: no step timing)"]
        return "\n".join(lines)
    lines += ["", "| gap questions | n | gained |", "|---|---|---|"]
    for name, c in found["timings"].items():
        lines.append(f"| {name} | {c[True] + c[False]} | {c[True]} |")
    m = found["mistakes"]
    if m["chars"]:
        size, share = m["chars"] / m["solutions"], m["wrong_chars"] / m["chars"]
        before = m["before"] / max(m["marked"], 1)
        lines += [
            "",
            f"local alone's solutions to {m['solutions']} of them: {size:.0f} characters a "
            f"question, {share:.0%} of them in steps the reference marks wrong; "
            f"{m['marked']} have such a step, the first after {before:.0f} characters on average",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="a bench results file with local, cloud and SYSTEM")
    parser.add_argument(
        "--system", required=True, help="the AdaSwitch system, e.g. selfverify:0.44"
    )
    parser.add_argument("--data-dir", help="folder of the datasets, for the step labels")
    parser.add_argument(
        "--caps",
        type=lambda text: [int(c) for c in text.split(",")],
        default=[],
        help="per-question cloud output token caps to bound from the records, e.g. 250,150",
    )
    parser.add_argument(
        "--cloud-failure",
        action="store_true",
        help="also score signals against cloud alone failing where local alone failed",
    )
    args = parser.parse_args()
    records = read_records(args.results)
    found = breakdown(records, args.system, references(args.data_dir))
    print(render(args.system, found))
    if args.caps:
        print()
        print(capped(records, args.system, args.caps))
    if args.cloud_failure:
        print()
        print(cloud_failure(records))


if __name__ == "__main__":
    main()
