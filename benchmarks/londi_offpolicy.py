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
from adaswitch_graph.londi import LONDI_FEATURES, LondiPolicy, Transition, episodes, fit_londi

Record = Mapping[str, Any]
Episode = tuple[Record, list[Transition]]
"""A record of the random system and its draft steps as transitions."""
Rule = Callable[[Transition], bool]
"""Whether a policy switches at a transition's state."""


def weighted(found: Sequence[Episode], rule: Rule, rate: float) -> tuple[float, ...]:
    """Summed weight, weighted score, weighted cloud calls and summed squared weight of
    the episodes under `rule` (behaviour: switch with probability `rate`)."""
    total = score = calls = squares = 0.0
    for record, moves in found:
        weight = 1.0
        for move in moves:
            if rule(move) != move.switched:
                weight = 0.0
                break
            weight /= rate if move.switched else 1.0 - rate
        total += weight
        score += weight * float(record.get("score", 0.0))
        calls += weight * sum(m.switched for m in moves)
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


def episodes_of(records: Sequence[Record], max_calls: int) -> list[Episode]:
    """The records that make episodes, each with its transitions (states for a budget
    of `max_calls`)."""
    found = []
    for record in records:
        moves, _ = episodes([record], max_calls, 0.0)
        found += [(record, moves[0])] if moves else []
    return found


def londi_row(
    found: Sequence[Episode], rate: float, folds: int, max_calls: int, cost: float
) -> str:
    sums = np.zeros(4)
    for fold in range(folds):
        fitted = fit_londi(
            [record for n, (record, _) in enumerate(found) if n % folds != fold],
            cost=cost,
            max_calls=max_calls,
        ).policy

        def rule(move: Transition, fitted: LondiPolicy = fitted) -> bool:
            return bool(fitted.switches(move.state, move.used))

        held = [episode for n, episode in enumerate(found) if n % folds == fold]
        sums += weighted(held, rule, rate)
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
    budgets = [int(m) for m in args.max_calls.split(",")]
    # Every policy is judged on the same episodes; a budget changes only their states.
    found = {m: episodes_of(records, m) for m in {*budgets, 2}}
    print(f"{len(found[2])} episodes of {args.system}, {args.folds} folds for LONDI")
    print("| policy | est. accuracy | est. cloud calls/q | effective episodes |")
    print("|---|---|---|---|")
    score = sum(float(record.get("score", 0.0)) for record, _ in found[2])
    calls = sum(m.switched for _, moves in found[2] for m in moves)
    print(row(f"{args.system} (as run)", (len(found[2]), score, calls, len(found[2]))))
    for threshold in (float(t) for t in args.thresholds.split(",")):
        print(row(f"threshold {threshold:g}", weighted(found[2], threshold_rule(threshold), rate)))
    for max_calls in budgets:
        for cost in (float(c) for c in args.cost.split(",")):
            try:
                print(londi_row(found[max_calls], rate, args.folds, max_calls, cost))
            except ValueError as exc:  # a fold too small to fit on
                parser.error(f"fitting LONDI on {args.folds - 1} of {args.folds} folds: {exc}")


if __name__ == "__main__":
    main()
