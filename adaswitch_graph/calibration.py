"""Fitting the verifier to a local model: its own steps from a bench run, labelled from
the worked reference solutions of the items.

Each model is sure and unsure in its own way, so the shipped verifier (fitted on the
bundled 0.5B) says little about another model's steps. Run the model alone on training
items with worked solutions (GSM8K train, never the items you will measure on), then fit:

    adaswitch bench --dataset gsm8k-train --limit 240 --systems local --local SPEC \\
        --out train.jsonl
    adaswitch calibrate train.jsonl --out my-verifier.json

`benchmarks/calibrate_verifier.py` reports more (a feature search, out-of-sample scores).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaswitch_graph.bench import item_records, read_records
from adaswitch_graph.datasets import Item, load_items
from adaswitch_graph.report import auroc
from adaswitch_graph.scoring import step_is_right
from adaswitch_graph.signals import ARITH_FEATURE, FIRST_FEATURE, arithmetic_errors
from adaswitch_graph.verifier import Verifier

DEFAULT_FLAG_SHARE = 0.38
"""The share of the fitted steps that the threshold `calibrate` picks flags: the share
the shipped threshold flags on the bundled 0.5B's GSM8K train steps."""

FEATURES = ("digits_logprob",)
"""The shipped verifier's features (chosen by cross-validation on GSM8K train items)."""
STEP_AUROC = "AUROC step p vs step wrong (reference)"
"""The key of `separation`'s step-level AUROC."""


@dataclass(frozen=True)
class Row:
    """One local step of a bench record."""

    item: str
    signals: dict[str, float]
    solution_wrong: bool
    step_wrong: bool | None
    """From the reference solution (`step_is_right`); None where it cannot tell."""


Rows = Sequence[Row]
LABELS: dict[str, Callable[[Row], bool | None]] = {
    "steps": lambda row: row.step_wrong,
    "solution": lambda row: row.solution_wrong,
}
LABEL_TEXT = {
    "steps": "a step is wrong when a number it computes is nowhere in the reference "
    "solution or the question (steps that compute nothing are left out)",
    "solution": "a step is wrong when its solution's final answer is wrong",
}


def references(data_dir: str | None, data: str | None = None) -> dict[str, Item]:
    """The GSM8K and SVAMP items, and those of the JSONL file `data`, by the ids a bench
    gives them, for their worked solutions."""
    found: dict[str, Item] = {}
    for dataset in ("gsm8k", "gsm8k-train", "svamp", *([data] if data else [])):
        try:
            found.update((i.id, i) for i in load_items(dataset, data_dir=data_dir))
        except ValueError:
            continue
    return found


def local_steps(path: str, system: str) -> Iterator[tuple[dict[str, Any], int]]:
    """Each step of `system` in `path` that the local model drafted with token signals,
    also those the cloud then rewrote: its record and its position in the trajectory.
    (Leaving the rewritten ones out would drop the very steps a policy flagged.) A step
    the local model retried and the cloud then rewrote is left out: its signals are the
    retry's, whose text the trajectory does not keep."""
    for record in item_records(read_records(path)):
        if record["system"] != system or record.get("error"):
            continue
        for n, step in enumerate(record.get("trajectory", [])):
            # Records written before trajectories kept `retried` have no such steps.
            unknown_text = step.get("retried", False) and step["author"] == "cloud"
            if "min_logprob" in step["signals"] and not unknown_text:
                yield record, n


def local_text(step: Mapping[str, Any]) -> str:
    """The local draft that a step's signals were read off."""
    return str(step["text"] if step["author"] == "local" else step["draft"])


def steps_of(path: str, system: str, items: Mapping[str, Item]) -> list[Row]:
    """Every local draft of `system` in `path`, with its labels."""
    rows = []
    for record, n in local_steps(path, system):
        text = local_text(record["trajectory"][n])
        item = items.get(record["item"])
        signals = dict(record["trajectory"][n]["signals"])
        signals[ARITH_FEATURE] = float(arithmetic_errors(text))
        # Derived, as the graph does, so that runs made before it was recorded have it.
        signals[FIRST_FEATURE] = float(record["trajectory"][n]["index"] == 1)
        right = None if item is None else step_is_right(text, item)
        wrong = None if right is None else not right
        rows.append(Row(record["item"], signals, not record["correct"], wrong))
    return rows


def labelled(rows: Rows, labels: str) -> list[tuple[Row, bool]]:
    return [(row, y) for row in rows if (y := LABELS[labels](row)) is not None]


def fit(
    rows: Rows, features: Sequence[str], labels: str, meta: dict[str, Any] | None = None
) -> Verifier:
    pairs = labelled(rows, labels)
    if not pairs:
        raise ValueError(
            f"no step has a {labels!r} label; is --data-dir right? Step labels come from "
            "worked reference solutions (GSM8K, GSM8K train, SVAMP)"
        )
    return Verifier.fit(
        [r.signals for r, _ in pairs], [y for _, y in pairs], features=features, meta=meta
    )


def separation(p: Sequence[float], rows: Rows) -> dict[str, float | None]:
    """How well the error probabilities `p` of `rows` pick out wrong steps and answers."""
    steps = [(prob, row.step_wrong) for prob, row in zip(p, rows, strict=True)]
    known = [(prob, wrong) for prob, wrong in steps if wrong is not None]
    worst: dict[str, tuple[float, bool]] = {}
    for prob, row in zip(p, rows, strict=True):
        worst[row.item] = (max(prob, worst.get(row.item, (0.0, False))[0]), row.solution_wrong)
    return {
        STEP_AUROC: auroc([q for q, _ in known], [w for _, w in known]),
        "AUROC step p vs solution wrong": auroc(p, [row.solution_wrong for row in rows]),
        "AUROC max step p vs answer wrong": auroc(
            [v[0] for v in worst.values()], [v[1] for v in worst.values()]
        ),
    }


def cross_validated(
    rows: Rows, features: Sequence[str], labels: str, folds: int
) -> dict[str, float]:
    """AUROCs on held-out items: the items are split into `folds`, each fold is scored by
    a fit on the others, and each AUROC is the mean over the folds (ranking within a
    fold, so the folds' different intercepts do not blur it)."""
    items = sorted({row.item for row in rows})
    fold_of = {item: n % folds for n, item in enumerate(items)}
    per_fold: list[dict[str, float | None]] = []
    for k in range(folds):
        verifier = fit([r for r in rows if fold_of[r.item] != k], features, labels)
        held_out = [r for r in rows if fold_of[r.item] == k]
        per_fold.append(separation([error_probability(verifier, r) for r in held_out], held_out))
    return {key: _mean([fold[key] for fold in per_fold]) for key in per_fold[0]}


def error_probability(verifier: Verifier, row: Row) -> float:
    """The verifier's error probability for a step (0 where its signals give none)."""
    return verifier.error_probability(row.signals) or 0.0


def _mean(values: Sequence[float | None]) -> float:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else float("nan")


def unrecorded(rows: Rows, features: Sequence[str]) -> list[str]:
    """The `features` some step lacks: runs made before a signal existed, or without the
    option that records it, lack it."""
    return [f for f in features if not all(f in row.signals for row in rows)]


def threshold_flagging(p: Sequence[float], share: float) -> float:
    """The lowest threshold that flags at most `share` of the steps."""
    ranked = sorted(p, reverse=True)
    count = int(share * len(ranked))
    return ranked[count] + 1e-9 if count < len(ranked) else 0.0


@dataclass(frozen=True)
class Calibration:
    """A verifier fitted on a run's local steps, and how well it separates them."""

    verifier: Verifier
    threshold: float
    """The lowest error probability (to 3 significant digits) that flags at most
    `flag_share` of the steps: the `SelfVerifyPolicy` threshold to use with the verifier."""
    flag_share: float
    items: int
    steps: int
    labelled: int
    wrong: int
    step_auroc: float | None
    """In sample, against the step labels."""
    cross_validated_step_auroc: float | None
    """Each item scored by a fit on the items of the other folds; None where some fold
    has no labelled step to fit on."""


def calibrate(
    records: str | Path,
    *,
    system: str = "local",
    data_dir: str | Path | None = None,
    data: str | Path | None = None,
    features: Sequence[str] = FEATURES,
    flag_share: float = DEFAULT_FLAG_SHARE,
    folds: int = 5,
) -> Calibration:
    """Fit a verifier on the local steps of `system` in a bench results file, against
    step labels from the items' worked solutions: GSM8K's and SVAMP's in `data_dir`, and
    those of the JSONL file `data` (the bench's `--data`)."""
    if not 0.0 < flag_share < 1.0:
        raise ValueError(f"flag_share must be between 0 and 1, got {flag_share}")
    path = str(records)
    items = references(
        None if data_dir is None else str(data_dir), None if data is None else str(data)
    )
    rows = steps_of(path, system, items)
    if not rows:
        raise ValueError(
            f"no local steps of system {system!r} in {path}; run the local model alone "
            "first: adaswitch bench --dataset gsm8k-train --systems local --out FILE"
        )
    if missing := unrecorded(rows, features):
        raise ValueError(
            f"features {', '.join(missing)} are not recorded on every local step of "
            f"{system!r} in {path} (a run made before the signal existed, or without the "
            "option that records it)"
        )
    pairs = labelled(rows, "steps")
    items_fitted = len({r.item for r in rows})
    meta = {
        "fitted_on": f"{Path(path).name}: {items_fitted} items, {len(pairs)} labelled local steps",
        "labels": LABEL_TEXT["steps"],
    }
    verifier = fit(rows, features, "steps", meta)
    p = [error_probability(verifier, row) for row in rows]
    try:
        held_out = cross_validated(rows, features, "steps", folds)[STEP_AUROC]
    except ValueError:  # a fold with no labelled step to fit on
        held_out = None
    if held_out is not None and math.isnan(held_out):  # no fold could be scored
        held_out = None
    return Calibration(
        verifier=verifier,
        threshold=_round_up(threshold_flagging(p, flag_share)),
        flag_share=flag_share,
        items=items_fitted,
        steps=len(rows),
        labelled=len(pairs),
        wrong=sum(y for _, y in pairs),
        step_auroc=separation(p, rows)[STEP_AUROC],
        cross_validated_step_auroc=held_out,
    )


def _round_up(x: float, digits: int = 3) -> float:
    """`x` to `digits` significant digits, rounded up: a threshold shown that way flags
    no more steps than `x` does."""
    if x <= 0:
        return x
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(x)))
    return math.ceil(x * scale - 1e-9) / scale
