"""Verification signals read off a model's reply: token confidence, yes/no verdicts,
and agreement with sampled versions of the same step.

Two wire formats carry per-token log-probabilities into LangChain messages:
OpenAI-compatible servers put `{"content": [{token, logprob, top_logprobs}, ...]}` in
`response_metadata["logprobs"]`; `ChatOllama` puts the list itself there, as the
`ollama` client's pydantic `Logprob` objects.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage

from adaswitch_graph.scoring import reaches, step_results

TokenLogprobs = list[Mapping[str, Any]]


def token_logprobs(message: BaseMessage) -> TokenLogprobs | None:
    """The per-token log-probabilities of a reply, or None when the model sent none."""
    raw = message.response_metadata.get("logprobs")
    if isinstance(raw, Mapping):
        raw = raw.get("content")
    if not isinstance(raw, Sequence) or not raw:
        return None
    entries = [_as_dict(e) for e in raw]
    return [e for e in entries if "logprob" in e] or None


def _as_dict(entry: Any) -> Mapping[str, Any]:
    if isinstance(entry, Mapping):
        return entry
    dump = getattr(entry, "model_dump", None)
    return dump() if callable(dump) else {}


ARITH_FEATURE = "arith_errors"
SAMPLE_FEATURE = "sample_disagreement"
FIRST_FEATURE = "first_step"
"""1.0 for a solution's first step: a prior, not a confidence. The bundled 0.5B's first
steps are wrong less often than its later ones (63 of 172 labelled GSM8K train steps
against 319 of 607), but a verifier weighing it did not spend the cloud better on fresh
items, so the shipped one does not (docs/benchmarks.md, session 11)."""
REPEAT_FEATURE = "repeats"
"""1.0 when a step restates an accepted step word for word: a small model that loops
writes the same step again and again (greedy decoding makes the copy exact)."""


def step_signals(text: str, logprobs: TokenLogprobs | None) -> dict[str, float]:
    """Every signal read off one drafted step: token confidence when the model sent
    log-probabilities, and the count of calculations that do not add up."""
    signals = confidence_signals(logprobs) if logprobs else {}
    signals[ARITH_FEATURE] = float(arithmetic_errors(text))
    return signals


def sample_disagreement(step: str, samples: Sequence[str]) -> float:
    """The share of sampled versions of a step that miss a number the step computes
    (after `=` or `Answer:`): where the model samples its way to other results, the
    greedy one is a guess. 0.0 when the step computes nothing, so nothing can differ."""
    computed = step_results(step)
    if not computed or not samples:
        return 0.0
    missed = sum(not reaches(step_results(sample), computed) for sample in samples)
    return missed / len(samples)


def confidence_signals(logprobs: TokenLogprobs) -> dict[str, float]:
    """Token-confidence features of one step.

    Whitespace-only tokens are left out: where a step ends the model hesitates between
    a newline and the next marker, which says nothing about whether the step is right.
    The tokens holding digits are also summarised on their own: a math step goes wrong
    in its numbers far more often than in its words. `min_digit_logprob` is the least
    likely of them; `digits_logprob` adds them up, the log-probability of all the step's
    digits together, so two doubtful numbers weigh more than one.
    """
    kept = [e for e in logprobs if str(e.get("token", "x")).strip()] or list(logprobs)
    values = [float(e["logprob"]) for e in kept]
    digits = [float(e["logprob"]) for e in kept if any(c.isdigit() for c in str(e.get("token")))]
    margins = [_margin(e) for e in kept]
    known = [m for m in margins if m is not None]
    return {
        "min_logprob": min(values),
        "mean_logprob": sum(values) / len(values),
        "n_tokens": float(len(values)),
        "min_digit_logprob": min(digits) if digits else 0.0,
        "digits_logprob": sum(digits),
        "low_token_share": sum(v < LOW_LOGPROB for v in values) / len(values),
        "mean_margin": sum(known) / len(known) if known else 0.0,
    }


LOW_LOGPROB = math.log(0.5)
"""A token the model gave less than even odds."""


def _margin(entry: Mapping[str, Any]) -> float | None:
    """How far the chosen token's log-probability is above the best alternative's."""
    alternatives = [
        float(a["logprob"])
        for a in (entry.get("top_logprobs") or [])
        if isinstance(a, Mapping) and a.get("token") != entry.get("token")
    ]
    return float(entry["logprob"]) - max(alternatives) if alternatives else None


_YES = re.compile(r"^\W*(yes|correct|true)\b", re.IGNORECASE)
_NO = re.compile(r"^\W*(no|incorrect|wrong|false)\b", re.IGNORECASE)


def judge_p_correct(message: BaseMessage) -> float | None:
    """P("correct") from a yes/no verdict.

    Read from the first token's alternatives when the model returns log-probabilities
    (the probability mass on "yes" against "no"); otherwise parsed from the text
    (1.0 for yes, 0.0 for no, None when it said neither).
    """
    logprobs = token_logprobs(message)
    if logprobs:
        alternatives = logprobs[0].get("top_logprobs") or [logprobs[0]]
        yes = sum(_mass(a) for a in alternatives if _YES.match(str(a.get("token", ""))))
        no = sum(_mass(a) for a in alternatives if _NO.match(str(a.get("token", ""))))
        if yes + no > 0:
            return yes / (yes + no)
    text = message.text
    if _YES.match(text):
        return 1.0
    if _NO.match(text):
        return 0.0
    return None


def _mass(alternative: Mapping[str, Any]) -> float:
    return math.exp(float(alternative.get("logprob", -math.inf)))


_EQUATION = re.compile(
    r"(?P<lhs>[\d$(][\d$.,()\s+\-*/\u00d7\u00f7x]*?)\s*=\s*\$?\s*(?P<rhs>-?\d[\d,]*(?:\.\d+)?)"
)
_OPERATORS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def arithmetic_errors(text: str) -> int:
    """How many written calculations in a step (`12 * 3 = 36`, `$80,000 + $50,000 =
    $130,000`) do not add up: a check the local side makes without any model."""
    wrong = 0
    for match in _EQUATION.finditer(text):
        lhs = match["lhs"].replace("$", "").replace(",", "")
        lhs = lhs.replace("\u00d7", "*").replace("\u00f7", "/").replace("x", "*").strip()
        if not any(op in lhs.lstrip("-") for op in "+-*/"):
            continue
        value = evaluate_arithmetic(lhs)
        stated = float(match["rhs"].replace(",", ""))
        if value is not None and not math.isclose(value, stated, rel_tol=1e-2, abs_tol=1e-2):
            wrong += 1
    return wrong


def evaluate_arithmetic(expression: str) -> float | None:
    """The value of `+ - * /` arithmetic on numbers, or None for anything else (no
    names, calls or attributes are evaluated)."""
    try:
        tree = ast.parse(expression, mode="eval").body
        return _value(tree)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
        return None


def _value(node: ast.expr) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_value(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return float(_OPERATORS[type(node.op)](_value(node.left), _value(node.right)))
    raise ValueError("not arithmetic")
