"""Fit the verifier on the local model's own steps from a bench run, and report how well
its error probability separates wrong steps from right ones.

Run the local model alone on GSM8K *train* items first (never test items), then fit:

    adaswitch bench --dataset gsm8k-train --data-dir DIR --limit 240 --systems local \\
        --out runs/train.jsonl
    python benchmarks/calibrate_verifier.py runs/train.jsonl --data-dir DIR \\
        --out adaswitch_graph/verifier.json

Labels (`--labels`):

- `steps` (default): a step is wrong when a number it computes (after `=` or
  `Answer:`) appears nowhere in the item's reference solution or question. GSM8K's
  worked solutions give these, and SVAMP's equations worked one operation at a time;
  steps that compute nothing stay unlabelled.
- `solution`: a step is wrong when its solution's final answer is wrong (every step of
  a wrong solution, also the sound ones before the mistake).

The AUROCs of both labels are always reported, and so is the AUROC of the token
features alone against the steps whose written calculation does not add up (wrong for
certain; the token features never see that check). Given a second results file
(`--evaluate runs/test.jsonl`) the fitted verifier is also scored there, out of sample.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

from adaswitch_graph.calibration import (
    FEATURES,
    LABEL_TEXT,
    LABELS,
    Row,
    Rows,
    cross_validated,
    error_probability,
    fit,
    labelled,
    references,
    separation,
    steps_of,
    threshold_flagging,
    unrecorded,
)
from adaswitch_graph.datasets import Item
from adaswitch_graph.report import auroc
from adaswitch_graph.signals import ARITH_FEATURE, FIRST_FEATURE
from adaswitch_graph.verifier import Verifier

CANDIDATES = (
    "min_logprob",
    "mean_logprob",
    "n_tokens",
    "min_digit_logprob",
    "digits_logprob",
    "low_token_share",
    "mean_margin",
    ARITH_FEATURE,
    FIRST_FEATURE,
)
"""Every step feature `--search` tries."""


def search(rows: Rows, labels: str, size: int, folds: int) -> None:
    """Print the cross-validated AUROCs of every subset of up to `size` candidates
    (those every step records)."""
    missing = unrecorded(rows, CANDIDATES)
    recorded = [f for f in CANDIDATES if f not in missing]
    if missing:
        print(f"not searched, not recorded on every step of this run: {', '.join(sorted(missing))}")
    scored = []
    for k in range(1, size + 1):
        for features in itertools.combinations(recorded, k):
            figures = cross_validated(rows, features, labels, folds)
            scored.append((list(figures.values()), ",".join(features)))
    print(f"feature search, {folds}-fold cross-validated ({', '.join(figures)}):")
    for values, names in sorted(scored, reverse=True):
        print(f"  {' '.join(f'{v:.3f}' for v in values)}  {names}")


def report(name: str, verifier: Verifier, rows: Rows) -> dict[str, Any]:
    p = [error_probability(verifier, row) for row in rows]
    token_only = Verifier(
        {f: c for f, c in verifier.coefficients.items() if f != ARITH_FEATURE}, verifier.intercept
    )
    arith = [row.signals[ARITH_FEATURE] > 0 for row in rows]
    lowest: dict[str, tuple[float, bool]] = {}
    for row in rows:
        low = min(lowest.get(row.item, (0.0, False))[0], row.signals["min_logprob"])
        lowest[row.item] = (low, row.solution_wrong)
    known = [r.step_wrong for r in rows if r.step_wrong is not None]
    first = [r.step_wrong for r in rows if r.step_wrong is not None and r.signals[FIRST_FEATURE]]
    sound = [r.step_wrong for r in rows if r.step_wrong is not None and not r.solution_wrong]
    flagged = {r.item for r in rows if r.step_wrong}
    failed = {item for item, (_, wrong) in lowest.items() if wrong}
    figures: dict[str, Any] = {
        "data": name,
        "items": len(lowest),
        "steps": len(rows),
        "steps labelled from the reference (wrong)": f"{len(known)} ({sum(known)})",
        "of them first steps (wrong)": f"{len(first)} ({sum(first)})",
        "right solutions' labelled steps labelled wrong": f"{sum(sound)}/{len(sound)}",
        "wrong solutions with a step labelled wrong": f"{len(failed & flagged)}/{len(failed)}",
        "wrong solutions": sum(w for _, w in lowest.values()),
        "steps with a calculation that does not add up": sum(arith),
        **separation(p, rows),
        "AUROC step p (token features only) vs calculation wrong": auroc(
            [error_probability(token_only, row) for row in rows], arith
        ),
        "AUROC -min token logprob vs answer wrong": auroc(
            [-v[0] for v in lowest.values()], [v[1] for v in lowest.values()]
        ),
    }
    for key, value in figures.items():
        print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")
    return figures


def step_parser(description: str | None) -> argparse.ArgumentParser:
    """The arguments of a script that reads the local steps of a bench run."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("records", help="bench results JSONL with a local-alone system")
    parser.add_argument("--system", default="local")
    parser.add_argument("--data-dir", help="folder of the datasets (default $ADASWITCH_DATA)")
    parser.add_argument("--cv", type=int, default=5, help="folds of the cross-validation")
    return parser


def step_rows(args: argparse.Namespace) -> tuple[dict[str, Item], list[Row]]:
    """The reference items and the local steps that `step_parser`'s arguments name."""
    items = references(args.data_dir)
    rows = steps_of(args.records, args.system, items)
    if not rows:
        raise SystemExit(f"no local steps of system {args.system!r} in {args.records}")
    return items, rows


def main() -> None:
    parser = step_parser(__doc__)
    parser.add_argument("--labels", choices=sorted(LABELS), default="steps")
    parser.add_argument("--out", help="where to write the fitted verifier JSON")
    parser.add_argument("--evaluate", help="another results JSONL to score the fit on")
    parser.add_argument(
        "--evaluate-system",
        help="the system whose local steps --evaluate scores (default --system)",
    )
    parser.add_argument("--features", default=",".join(FEATURES))
    parser.add_argument(
        "--search",
        type=int,
        default=0,
        metavar="K",
        help="cross-validate every subset of up to K candidate features, best first",
    )
    parser.add_argument(
        "--flag-share",
        type=float,
        default=0.3,
        help="print the threshold that flags this share of the fitted steps",
    )
    args = parser.parse_args()

    items, rows = step_rows(args)
    features = tuple(f for f in args.features.split(",") if f)
    if missing := unrecorded(rows, features):
        raise SystemExit(
            f"--features {','.join(missing)}: not recorded on every local step of "
            f"{args.system!r} in {args.records} (a run made before the signal existed, or "
            "without the option that records it: judged- or sampled- systems)"
        )
    try:
        verifier = fit(
            rows,
            features,
            args.labels,
            {
                "fitted_on": f"{Path(args.records).name}: {len({r.item for r in rows})} items, "
                f"{len(labelled(rows, args.labels))} labelled local steps",
                "labels": LABEL_TEXT[args.labels],
                "script": "benchmarks/calibrate_verifier.py",
            },
        )
    except ValueError as exc:  # no step is labelled
        raise SystemExit(str(exc)) from None
    print(json.dumps(verifier.to_dict(), indent=2))
    print("in sample:")
    report(args.records, verifier, rows)
    threshold = threshold_flagging(
        [error_probability(verifier, row) for row in rows], args.flag_share
    )
    print(f"  threshold flagging {args.flag_share:.0%} of the steps: {threshold:.3f}")
    if args.cv > 1:
        print(f"{args.cv}-fold cross-validated, labels {args.labels!r} (mean over folds):")
        for key, value in cross_validated(rows, features, args.labels, args.cv).items():
            print(f"  {key}: {value:.3f}")
    if args.search:
        search(rows, args.labels, args.search, max(args.cv, 2))
    if args.evaluate:
        print("out of sample:")
        system = args.evaluate_system or args.system
        report(args.evaluate, verifier, steps_of(args.evaluate, system, items))
    if args.out:
        verifier.save(args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
