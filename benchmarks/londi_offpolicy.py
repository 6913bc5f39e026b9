"""How would a step switch have done on the exploration runs? Off-policy estimates.

    python benchmarks/londi_offpolicy.py runs/londi-train.jsonl --system random:0.4

A bench run of `random:R` switched each step to the cloud with probability R, whatever
its state, so any step switch can be judged on its episodes without running a model:
an episode counts for a policy when the policy would have made every one of its
decisions, weighted by how unlikely random switching was to make them (weighted
importance sampling). This prints, for the threshold on the error probability at each
`--thresholds` value and for `LondiPolicy` fitted at each `--max-calls` and `--cost`,
the estimated accuracy and cloud calls a question, and the effective number of episodes
behind each estimate. LONDI is fitted on all folds but one and judged on that one
(`--folds`), so its figures are held out from its fit; the thresholds fit nothing. Use
it to choose a setting on train items before measuring it on test items.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from adaswitch_graph.bench import item_records, read_records
from adaswitch_graph.londi import LONDI_FEATURES, Transition, episodes, fit_londi

Record = Mapping[str, Any]
Rule = Callable[[Transition], bool]
"""Whether a policy switches at a transition's state."""


def weighted(
    records: Sequence[Record], rule: Rule, rate: float, max_calls: int
) -> tuple[float, float, float, float]:
    """Summed weight, weighted score, weighted cloud calls and summed squared weight of
    the episodes of `records` under `rule` (behaviour: switch with probability `rate`)."""
    total = score = calls = squares = 0.0
    for record in records:
        found, _ = episodes([record], max_calls, 0.0)
        if not found:
            continue
        weight = 1.0
        for move in found[0]:
            if rule(move) != move.switched:
                weight = 0.0
                break
            weight /= rate if move.switched else 1.0 - rate
        total += weight
        score += weight * float(record.get("score", 0.0))
        calls += weight * sum(m.switched for m in found[0])
        squares += weight**2
    return total, score, calls, squares


def row(name: str, sums: Sequence[float]) -> str:
    total, score, calls, squares = sums
    if not total:
        return f"| {name} | - | - | 0 |"
    return f"| {name} | {score / total:.1%} | {calls / total:.2f} | {total**2 / squares:.0f} |"


def threshold_rule(threshold: float) -> Rule:
    error_probability = LONDI_FEATURES.index("error_probability")
    return lambda move: bool(move.state[error_probability] >= threshold)


def londi_rows(
    records: Sequence[Record], rate: float, folds: int, max_calls: int, cost: float
) -> str:
    sums = np.zeros(4)
    for fold in range(folds):
        held = [r for n, r in enumerate(records) if n % folds == fold]
        fitted = fit_londi(
            [r for n, r in enumerate(records) if n % folds != fold],
            cost=cost,
            max_calls=max_calls,
        ).policy
        direction = np.subtract(fitted.cloud, fitted.accept)

        def rule(move: Transition, direction: np.ndarray = direction) -> bool:
            return bool(move.used < max_calls and move.state @ direction > 0)

        sums += weighted(held, rule, rate, max_calls)
    return row(f"londi max_calls {max_calls} cost {cost:g}", sums.tolist())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="a bench results file with a random:R system")
    parser.add_argument("--system", default="random:0.4", help="the random system's name")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--thresholds", default="0.3,0.4,0.44,0.5,0.6,0.7")
    parser.add_argument("--max-calls", default="1,2,3")
    parser.add_argument("--cost", default="0,0.05")
    args = parser.parse_args(argv)
    name, _, rate_text = args.system.partition(":")
    try:
        rate = float(rate_text) if name == "random" else -1.0
    except ValueError:
        rate = -1.0
    if not 0 < rate < 1:
        parser.error(f"--system must be random:R with a rate R between 0 and 1, got {args.system}")
    records = [
        r
        for r in item_records(read_records(args.results))
        if r["system"] == args.system and not r.get("error")
    ]
    if not records:
        parser.error(f"no finished records of {args.system} in {args.results}")
    print(f"{len(records)} episodes of {args.system}, {args.folds} folds for LONDI")
    print("| policy | est. accuracy | est. cloud calls/q | effective episodes |")
    print("|---|---|---|---|")
    calls = [sum(s["author"] == "cloud" for s in r.get("trajectory") or []) for r in records]
    accuracy = sum(float(r.get("score", 0.0)) for r in records) / len(records)
    print(f"| {args.system} (as run) | {accuracy:.1%} | {np.mean(calls):.2f} | {len(records)} |")
    for threshold in (float(t) for t in args.thresholds.split(",")):
        sums = weighted(records, threshold_rule(threshold), rate, 2)
        print(row(f"threshold {threshold:g}", sums))
    for max_calls in (int(m) for m in args.max_calls.split(",")):
        for cost in (float(c) for c in args.cost.split(",")):
            try:
                print(londi_rows(records, rate, args.folds, max_calls, cost))
            except ValueError as exc:  # a fold too small to fit on
                parser.error(f"fitting LONDI on {args.folds - 1} of {args.folds} folds: {exc}")


if __name__ == "__main__":
    main()
