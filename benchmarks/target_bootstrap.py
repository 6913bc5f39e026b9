"""How sure is a bench's verdict on the target? A paired bootstrap over its items.

    python benchmarks/target_bootstrap.py runs/test.jsonl --system token:0.66:8

The bench's table gives each accuracy a 95% interval, but the target is about ratios of
them: the gap a system recovers, `(acc - local) / (cloud - local)`, and the cloud's
output tokens as a share of cloud alone's. Both move together when items are drawn
again, since every system ran the same items. This resamples the items (with
replacement, the same draw for every system) and prints, for `--system`, the 95%
interval of both, the share of draws in which it meets the target (at least 60% of the
gap for at most 40% of the tokens), and for every other system in the file the share of
draws in which `--system` recovers more of the gap than it does (for `random` and
`cascade`, matched to the system's spend, that is the target's "beats them at equal
spend"). A draw in which cloud alone is no better than local alone has no gap; it counts
as a miss. `--offset`/`--limit` (with the run's `--dataset`/`--data-dir`) judge only those
items, picked the way `adaswitch bench` picks them.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Mapping, Sequence
from typing import Any

from adaswitch_graph.bench import item_records, of_systems, read_records, records_of
from adaswitch_graph.datasets import DatasetError, load_items
from adaswitch_graph.report import TARGET_GAP, TARGET_SHARE

Record = dict[str, Any]


def paired(records: Sequence[Record]) -> tuple[list[str], dict[str, dict[str, Record]]]:
    """The items every system finished, and each system's record of each."""
    by_system: dict[str, dict[str, Record]] = {}
    for record in item_records(records):
        by_system.setdefault(record["system"], {})[record["item"]] = record
    common = set.intersection(*(set(rs) for rs in by_system.values())) if by_system else set()
    return sorted(common), by_system


def _gap_and_share(
    draw: Sequence[str], by: Mapping[str, Mapping[str, Record]], system: str
) -> tuple[float | None, float | None]:
    def right(name: str) -> int:
        return sum(bool(by[name][item]["correct"]) for item in draw)

    def tokens(name: str) -> int:
        return sum(by[name][item].get("cloud_output_tokens", 0) for item in draw)

    gap = right("cloud") - right("local")
    alone = tokens("cloud")
    return (
        (right(system) - right("local")) / gap if gap > 0 else None,
        tokens(system) / alone if alone else None,
    )


def bootstrap(
    records: Sequence[Record], system: str, draws: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """The bootstrap figures of `system` against the rest (see the module's docstring)."""
    items, by = paired(records)
    missing = {"local", "cloud", system} - by.keys()
    if missing:
        raise SystemExit(f"the records hold no {', '.join(sorted(missing))} system; run them first")
    if not items:
        raise SystemExit("no item was finished by every system in the records")
    others = sorted(by.keys() - {"local", "cloud", system})
    rng = random.Random(seed)
    gaps, shares, met = [], [], 0
    ahead = dict.fromkeys(others, 0)
    for _ in range(draws):
        draw = rng.choices(items, k=len(items))
        gap, share = _gap_and_share(draw, by, system)
        if gap is None or share is None:
            continue
        gaps.append(gap)
        shares.append(share)
        met += gap >= TARGET_GAP and share <= TARGET_SHARE
        for other in others:
            their_gap, _ = _gap_and_share(draw, by, other)
            ahead[other] += their_gap is not None and gap > their_gap
    gap, share = _gap_and_share(items, by, system)
    return {
        "items": len(items),
        "gap": gap,
        "share": share,
        "gap_interval": _interval(gaps),
        "share_interval": _interval(shares),
        "p_target": met / draws,
        "p_ahead": {other: n / draws for other, n in ahead.items()},
    }


def _interval(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    if not ordered:
        return (float("nan"), float("nan"))
    return ordered[int(0.025 * (len(ordered) - 1))], ordered[int(0.975 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", help="a bench's JSONL results with local and cloud in it")
    parser.add_argument("--system", required=True, help="the system to judge, e.g. token:0.66:8")
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", default="gsm8k", help="the run's dataset or JSONL path")
    parser.add_argument("--data-dir", help="the run's data folder")
    parser.add_argument("--offset", type=int, default=0, help="judge only items after these")
    parser.add_argument("--limit", type=int, help="judge only this many items")
    parser.add_argument(
        "--against",
        help="comma-separated systems to compare with (default: every one in the run); "
        "the others are left out, so one stopped part way does not cut the items",
    )
    args = parser.parse_args()
    records = read_records(args.results)
    if args.against is not None:
        records = of_systems(records, [args.system, *args.against.split(",")])
    if args.offset or args.limit:
        try:
            picked = load_items(
                args.dataset, data_dir=args.data_dir, offset=args.offset, limit=args.limit
            )
        except DatasetError as exc:
            raise SystemExit(
                f"--offset/--limit pick the run's items from its dataset: {exc}"
            ) from None
        records = records_of(records, picked)
    found = bootstrap(records, args.system, args.draws, args.seed)
    low, high = found["gap_interval"]
    share_low, share_high = found["share_interval"]
    print(f"{found['items']} items every system finished, {args.draws} paired draws")
    print(
        f"{args.system}: {found['gap']:.0%} of the gap (95%: {low:.0%} to {high:.0%}) "
        f"for {found['share']:.0%} of cloud alone's output tokens "
        f"({share_low:.0%} to {share_high:.0%})"
    )
    print(
        f"meets the target (>= {TARGET_GAP:.0%} of the gap for <= {TARGET_SHARE:.0%} "
        f"of the tokens) in {found['p_target']:.0%} of draws"
    )
    for other, p in found["p_ahead"].items():
        print(f"recovers more of the gap than {other} in {p:.0%} of draws")


if __name__ == "__main__":
    main()
