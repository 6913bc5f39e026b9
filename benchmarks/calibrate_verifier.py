"""Fit the verifier on the local model's own steps from a bench run, and report how well
its error probability separates wrong from right.

Run the local model alone on GSM8K *train* items first (never test items), then fit:

    adaswitch bench --dataset gsm8k-train --data-dir DIR --limit 80 --systems local,cloud \\
        --out runs/dev.jsonl
    python benchmarks/calibrate_verifier.py runs/dev.jsonl --out adaswitch_graph/verifier.json

Labels. A step of a solution whose final answer is right is labelled right. A step of a
wrong solution is labelled wrong (the step where it went wrong is not known, so this is
noisy: it reads "P(this solution goes wrong | this step)"). Steps whose written
calculation does not add up are wrong for certain; the AUROC against those labels is
reported for the token features alone, which never see the check.

Given a second results file (`--evaluate runs/test.jsonl`) the fitted verifier is also
scored there, out of sample.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adaswitch_graph.bench import item_records, read_records
from adaswitch_graph.report import auroc
from adaswitch_graph.signals import ARITH_FEATURE, arithmetic_errors
from adaswitch_graph.verifier import Verifier

FEATURES = ("low_token_share", "mean_margin", "min_digit_logprob", ARITH_FEATURE)
"""The shipped verifier's features (chosen by cross-validation on GSM8K train items)."""
Rows = Sequence[tuple[str, dict[str, float], bool]]


def steps_of(path: str, system: str) -> list[tuple[str, dict[str, float], bool]]:
    """(item, signals, solution wrong) for every local step of `system` in `path`."""
    rows = []
    for record in item_records(read_records(path)):
        if record["system"] != system or record.get("error"):
            continue
        for step in record.get("trajectory", []):
            if step["author"] != "local" or "min_logprob" not in step["signals"]:
                continue
            signals = dict(step["signals"])
            signals[ARITH_FEATURE] = float(arithmetic_errors(step["text"]))
            rows.append((record["item"], signals, not record["correct"]))
    return rows


def fit(rows: Rows, features: Sequence[str], meta: dict[str, Any] | None = None) -> Verifier:
    return Verifier.fit(
        [s for _, s, _ in rows], [w for _, _, w in rows], features=features, meta=meta
    )


def cross_validated(rows: Rows, features: Sequence[str], folds: int) -> dict[str, float]:
    """AUROCs on held-out items: the items are split into `folds`, each fold is scored by
    a fit on the others, and each AUROC is the mean over the folds (ranking within a
    fold, so the folds' different intercepts do not blur it)."""
    items = sorted({i for i, _, _ in rows})
    fold_of = {item: n % folds for n, item in enumerate(items)}
    step, answer = [], []
    for k in range(folds):
        verifier = fit([r for r in rows if fold_of[r[0]] != k], features)
        held_out = [r for r in rows if fold_of[r[0]] == k]
        p = [verifier.error_probability(s) or 0.0 for _, s, _ in held_out]
        step.append(auroc(p, [w for _, _, w in held_out]))
        worst: dict[str, tuple[float, bool]] = {}
        for (item, _, w), prob in zip(held_out, p, strict=True):
            worst[item] = (max(prob, worst.get(item, (0.0, w))[0]), w)
        answer.append(auroc([v[0] for v in worst.values()], [v[1] for v in worst.values()]))
    return {
        "AUROC step p vs solution wrong": _mean(step),
        "AUROC max step p vs answer wrong": _mean(answer),
    }


def _mean(values: Sequence[float | None]) -> float:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else float("nan")


def report(name: str, verifier: Verifier, rows: Rows) -> dict[str, Any]:
    p = [verifier.error_probability(s) or 0.0 for _, s, _ in rows]
    token_only = Verifier(
        {f: c for f, c in verifier.coefficients.items() if f != ARITH_FEATURE}, verifier.intercept
    )
    p_tokens = [token_only.error_probability(s) or 0.0 for _, s, _ in rows]
    wrong = [w for _, _, w in rows]
    arith = [s[ARITH_FEATURE] > 0 for _, s, _ in rows]
    items: dict[str, tuple[float, float, bool]] = {}
    for (item, signals, w), prob in zip(rows, p, strict=True):
        worst, lowest, _ = items.get(item, (0.0, 0.0, w))
        items[item] = (max(worst, prob), min(lowest, signals["min_logprob"]), w)
    answer_wrong = [w for _, _, w in items.values()]
    figures = {
        "data": name,
        "items": len(items),
        "steps": len(rows),
        "wrong solutions": sum(answer_wrong),
        "steps with a calculation that does not add up": sum(arith),
        "AUROC step p vs solution wrong": auroc(p, wrong),
        "AUROC step p (token features only) vs solution wrong": auroc(p_tokens, wrong),
        "AUROC step p (token features only) vs calculation wrong": auroc(p_tokens, arith),
        "AUROC max step p vs answer wrong": auroc([v[0] for v in items.values()], answer_wrong),
        "AUROC -min token logprob vs answer wrong": auroc(
            [-v[1] for v in items.values()], answer_wrong
        ),
    }
    for key, value in figures.items():
        print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("records", help="bench results JSONL with a local-alone system")
    parser.add_argument("--system", default="local")
    parser.add_argument("--out", help="where to write the fitted verifier JSON")
    parser.add_argument("--evaluate", help="another results JSONL to score the fit on")
    parser.add_argument("--features", default=",".join(FEATURES))
    parser.add_argument("--cv", type=int, default=5, help="folds of the cross-validation")
    args = parser.parse_args()

    rows = steps_of(args.records, args.system)
    if not rows:
        raise SystemExit(f"no local steps of system {args.system!r} in {args.records}")
    features = tuple(f for f in args.features.split(",") if f)
    verifier = fit(
        rows,
        features,
        {
            "fitted_on": f"{Path(args.records).name}: {len({i for i, _, _ in rows})} items, "
            f"{len(rows)} local steps",
            "labels": "a step is labelled wrong when its solution's final answer is wrong",
            "script": "benchmarks/calibrate_verifier.py",
        },
    )
    print(json.dumps(verifier.to_dict(), indent=2))
    print("in sample:")
    report(args.records, verifier, rows)
    if args.cv > 1:
        print(f"{args.cv}-fold cross-validated (mean over the held-out folds):")
        for key, value in cross_validated(rows, features, args.cv).items():
            print(f"  {key}: {value:.3f}")
    if args.evaluate:
        print("out of sample:")
        report(args.evaluate, verifier, steps_of(args.evaluate, args.system))
    if args.out:
        verifier.save(args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
