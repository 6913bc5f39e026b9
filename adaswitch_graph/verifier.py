"""Turns a step's signals into one calibrated error probability.

A small logistic model over the token-confidence features (and the model's own
verdict when it was asked). Its coefficients ship in `verifier.json`; fit them to
another local model with `adaswitch calibrate` (`adaswitch_graph.calibration`), or on
labelled steps of your own with `Verifier.fit`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from adaswitch_graph.signals import REPEAT_FEATURE, SAMPLE_FEATURE

JUDGE_FEATURE = "p_correct_judge"
OPTIONAL_SIGNALS = {SAMPLE_FEATURE: "samples=k", JUDGE_FEATURE: "judge=True"}
"""The signals a graph records only when an option asks for them, and that option."""


@dataclass(frozen=True)
class Verifier:
    """`P(step wrong) = sigmoid(intercept + sum(coef[f] * signals[f]))`.

    A step that restates an accepted one word for word (`repeats`) is wrong as a next
    step: its error probability is 1. A step without the token features (its model
    returned no log-probabilities) is scored from the model's own verdict alone:
    `1 - p_correct_judge`, kept within `[floor, 1 - floor]`; with neither, the error
    probability is None and the policy decides without it.
    """

    coefficients: Mapping[str, float]
    intercept: float
    floor: float = 0.05
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def default(cls, sampled: bool = False, judged: bool = False) -> Verifier:
        """The coefficients shipped with the package: for token confidence alone, with
        `sample_disagreement` too (`sampled`, for graphs that sample their steps), or
        with the local model's verdict too (`judged`, for graphs that ask for it)."""
        if sampled and judged:
            raise ValueError(
                "no verifier ships for sampled and judged steps together; fit one on both "
                "features (adaswitch calibrate --features ...) and pass it as verifier= "
                "(--verifier on the command line)"
            )
        suffix = "-judged" if judged else "-sampled" if sampled else ""
        name = f"verifier{suffix}.json"
        text = resources.files("adaswitch_graph").joinpath(name).read_text()
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> Verifier:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"cannot read a verifier from {path} ({type(exc).__name__}: {exc}); it must "
                "be JSON with 'coefficients' and 'intercept', as Verifier.save writes"
            ) from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verifier:
        return cls(
            coefficients=dict(data["coefficients"]),
            intercept=float(data["intercept"]),
            floor=float(data.get("floor", 0.05)),
            meta=dict(data.get("meta", {})),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "coefficients": dict(self.coefficients),
            "intercept": self.intercept,
            "floor": self.floor,
            "meta": dict(self.meta),
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    def check_recorded(self, recorded: Collection[str]) -> None:
        """Raise where this verifier and a graph that records the `recorded` ones of the
        `OPTIONAL_SIGNALS` disagree about one of them. Either way it would pass silently:
        a signal paid for and ignored, or an error probability short of a term (or of all
        of it, so that every step is accepted)."""
        for feature, option in OPTIONAL_SIGNALS.items():
            weighed = feature in self.coefficients
            if feature in recorded and not weighed:
                raise ValueError(
                    f"{option} records {feature!r} for every step, but this verifier does not "
                    f"weigh it (its features: {', '.join(self.coefficients) or 'none'}), so it "
                    f"would be paid for and ignored: pass a verifier fitted with {feature!r}, "
                    "or none (verifier=, --verifier) for the shipped one"
                )
            if weighed and feature not in recorded:
                raise ValueError(
                    f"this verifier weighs {feature!r}, which only a graph built with "
                    f"{option} records: build the graph so, or pass a verifier without it"
                )

    def error_probability(self, signals: Mapping[str, float]) -> float | None:
        if signals.get(REPEAT_FEATURE):  # no progress: wrong as a next step, however sure
            return 1.0
        token_features = [f for f in self.coefficients if f != JUDGE_FEATURE]
        if all(f in signals for f in token_features):
            z = self.intercept + sum(
                coef * signals[f] for f, coef in self.coefficients.items() if f in signals
            )
            return _sigmoid(z)
        if JUDGE_FEATURE in signals:
            return min(1.0 - self.floor, max(self.floor, 1.0 - signals[JUDGE_FEATURE]))
        return None

    @classmethod
    def fit(
        cls,
        signals: Sequence[Mapping[str, float]],
        wrong: Sequence[bool],
        features: Sequence[str] = ("min_logprob", "mean_logprob"),
        l2: float = 1e-3,
        meta: Mapping[str, Any] | None = None,
    ) -> Verifier:
        """Fit the logistic model on labelled steps (`wrong[i]` is True when step i is wrong)
        by Newton's method with a small ridge penalty."""
        if len(signals) != len(wrong) or not signals:
            raise ValueError("fit needs as many labels as signal rows, and at least one row")
        x = np.array([[1.0, *(row[f] for f in features)] for row in signals])
        y = np.array(wrong, dtype=float)
        w = np.zeros(x.shape[1])
        penalty = l2 * np.eye(x.shape[1])
        penalty[0, 0] = 0.0
        for _ in range(100):
            p = 1.0 / (1.0 + np.exp(-(x @ w)))
            gradient = x.T @ (p - y) + penalty @ w
            hessian = x.T @ (x * (p * (1 - p))[:, None]) + penalty
            step = np.linalg.solve(hessian + 1e-9 * np.eye(len(w)), gradient)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        return cls(
            coefficients={f: float(c) for f, c in zip(features, w[1:], strict=True)},
            intercept=float(w[0]),
            meta=dict(meta or {}),
        )


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)
