"""Would a short check by the cloud model of a flagged local step spare it writing the
step? Measured on a local-alone bench run, against the reference step labels of
`calibrate_verifier.py`.

Each local step that the shipped verifier flags at the default threshold is checked by
the cloud model in one of two ways (`--check`):

- `judge`: it is shown the step with the judge prompt ("Is the new step correct? Answer
  yes or no."), and its P(yes) is read off the first reply token's log-probabilities:
  one output token a step, where writing the step costs about fifty.
- `number`: it continues the local step, as a cloud that continues the solution would,
  from just before the first number the step computes (after its first `=`), for a few
  tokens; its verdict is 1 when the number it writes is the local model's, else 0.

A check that keeps the flagged steps with the most confident "yes" (or the cloud's own
number) spares the cloud writing them; it pays only if those steps are wrong less often
than the steps a lower verifier threshold would flag instead (as many, the next below
the threshold):

    python benchmarks/cloud_judge.py runs/train.jsonl --data-dir DIR \\
        --verdicts runs/train-cloud-verdicts.jsonl [--check number]

The verdicts take one cloud prompt a flagged step (about 35 minutes for the 397 flagged
steps of 240 GSM8K train items on 2 cores); `--verdicts` keeps them as they come, and a
re-run asks only for the missing ones.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from calibrate_verifier import step_parser, step_rows
from langchain_core.language_models import LanguageModelLike
from langchain_core.messages import AIMessage, BaseMessage

import adaswitch_graph.calibration as calibration
from adaswitch_graph.models import resolve_model, with_output_limit
from adaswitch_graph.policies import SelfVerifyPolicy
from adaswitch_graph.prompts.local import LOCAL_PROMPT
from adaswitch_graph.prompts.verify import JUDGE_PROMPT
from adaswitch_graph.report import auroc
from adaswitch_graph.scoring import reaches, result_matches
from adaswitch_graph.signals import judge_p_correct
from adaswitch_graph.state import Step
from adaswitch_graph.steps import render_steps, solution_so_far, step_label
from adaswitch_graph.verifier import Verifier

VERDICT = "cloud_p_correct"
SHARES = (0.1, 0.2, 0.3, 0.4, 0.5)
CHECKS = ("judge", "number")
NUMBER_TOKENS = 12
"""What the number check lets the cloud write: the number, and a little after it."""
_LEADING_NUMBER = re.compile(r"\s*\$?\s*(-?\d[\d,]*(?:\.\d+)?)")


@dataclass(frozen=True)
class Flagged:
    key: str
    """`item/position`: where the verdict cache files it."""
    row: calibration.Row
    question: str
    before: Sequence[Step]
    """The steps before it."""
    index: int
    text: str


def flagged_steps(
    records: str,
    system: str,
    rows: Sequence[calibration.Row],
    flagged: Callable[[calibration.Row], bool],
) -> list[Flagged]:
    """The steps of `rows` that are `flagged`, with what the judge sees."""
    found = []
    for (record, n), row in zip(calibration.local_steps(records, system), rows, strict=True):
        if flagged(row):
            trajectory = record["trajectory"]
            found.append(
                Flagged(
                    f"{record['item']}/{n}",
                    row,
                    record["question"],
                    trajectory[:n],
                    trajectory[n]["index"],
                    calibration.local_text(trajectory[n]),
                )
            )
    return found


async def verdict(cloud: LanguageModelLike, step: Flagged, check: str) -> dict[str, Any]:
    """The cloud's verdict on `step` (`p_correct`, None where it gives none), and the
    output tokens it cost."""
    if check == "judge":
        messages = JUDGE_PROMPT.format_messages(
            question=step.question,
            solution=solution_so_far(step.before),
            index=step.index,
            step=step.text,
        )
        reply = await with_output_limit(cloud, 1).ainvoke(messages)
        assert isinstance(reply, BaseMessage)
        return {"p_correct": judge_p_correct(reply), "out_tokens": _output_tokens(reply)}
    results = result_matches(step.text)
    if not results:  # the step computes nothing: there is no number to check
        return {"p_correct": None, "out_tokens": 0}
    solution = render_steps(step.before)
    prefill = f"{solution}\n" if solution else ""
    prefill += f"{step_label(step.index)} {step.text[: results[0].start(1)]}"
    messages = [*LOCAL_PROMPT.format_messages(question=step.question), AIMessage(prefill)]
    reply = await with_output_limit(cloud, NUMBER_TOKENS).ainvoke(messages, stop=["\n"])
    assert isinstance(reply, BaseMessage)
    written = reply.text.removeprefix(prefill)
    number = _LEADING_NUMBER.match(written)
    local = float(results[0][1].replace(",", ""))
    agrees = number is not None and reaches([float(number[1].replace(",", ""))], [local])
    return {"p_correct": float(agrees), "cloud": written, "out_tokens": _output_tokens(reply)}


def _output_tokens(reply: BaseMessage) -> int | None:
    usage = getattr(reply, "usage_metadata", None)
    return usage["output_tokens"] if usage else None


async def ask(
    steps: Sequence[Flagged], cloud: str, path: str | None, slots: int, check: str = "judge"
) -> dict[str, dict[str, Any]]:
    """The cloud model's verdict (`verdict`) on each step, read from and added to `path`."""
    known: dict[str, dict[str, Any]] = {}
    texts = {s.key: s.text for s in steps}
    if path and Path(path).exists():
        for kept in map(json.loads, Path(path).read_text().splitlines()):
            if texts.get(kept["key"], kept["step"]) != kept["step"]:
                raise SystemExit(
                    f"{path} holds a verdict on another step at {kept['key']}: it was made "
                    "from another run; delete it, or name another file, to ask again"
                )
            # Files from before the number check hold judge verdicts only.
            if kept.get("check", "judge") != check:
                raise SystemExit(
                    f"{path} holds verdicts of --check {kept.get('check', 'judge')}, not "
                    f"{check}; name another file for this check"
                )
            known[kept["key"]] = kept
    model = resolve_model(cloud)
    gate = asyncio.Semaphore(slots)
    sink = open(path, "a") if path else None  # noqa: SIM115 - written as verdicts come

    async def one(step: Flagged) -> None:
        async with gate:
            found = await verdict(model, step, check)
        known[step.key] = found
        if sink:
            line = {"key": step.key, "step": step.text, "check": check, **found}
            sink.write(json.dumps(line) + "\n")
            sink.flush()
        print(f"  verdicts: {len(known)}/{len(steps)}", flush=True)

    try:
        await asyncio.gather(*(one(s) for s in steps if s.key not in known))
    finally:
        if sink:
            sink.close()
    return known


def wrong_share(rows: Sequence[calibration.Row]) -> str:
    """The share of `rows`' labelled steps that are wrong, or "-" when none is labelled."""
    labels = [r.step_wrong for r in rows if r.step_wrong is not None]
    return f"{sum(labels) / len(labels):.0%}" if labels else "-"


def shown(value: float | None) -> str:
    """An AUROC, or why there is none."""
    return "n/a (one class only)" if value is None else f"{value:.3f}"


def main() -> None:
    parser = step_parser(__doc__)
    parser.add_argument("--verdicts", help="JSONL that keeps the cloud's verdicts between runs")
    parser.add_argument("--cloud", default="embedded:qwen2.5-coder-1.5b")
    parser.add_argument("--threshold", type=float, default=SelfVerifyPolicy().threshold)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--check", choices=CHECKS, default="judge", help="how the cloud checks")
    args = parser.parse_args()

    _, rows = step_rows(args)
    verifier = Verifier.default()

    def doubt(row: calibration.Row) -> float:
        return verifier.error_probability(row.signals) or 0.0

    steps = flagged_steps(args.records, args.system, rows, lambda r: doubt(r) >= args.threshold)
    if not steps:
        raise SystemExit(f"the verifier flags none of the {len(rows)} steps at {args.threshold}")
    verdicts = asyncio.run(ask(steps, args.cloud, args.verdicts, args.concurrency, args.check))
    judged = [
        (s, replace(s.row, signals={**s.row.signals, VERDICT: p}))
        for s in steps
        if (p := verdicts.get(s.key, {}).get("p_correct")) is not None
    ]
    labelled = [(s, r) for s, r in judged if r.step_wrong is not None]
    wrong = [bool(r.step_wrong) for _, r in labelled]
    print(
        f"{len(steps)} of {len(rows)} steps flagged at {args.threshold}; {len(judged)} judged, "
        f"{len(labelled)} of them labelled, {wrong_share([r for _, r in labelled])} wrong"
    )
    print("AUROC vs step wrong (reference), among the flagged steps:")
    print(f"  verifier: {shown(auroc([doubt(r) for _, r in labelled], wrong))}")
    doubted = [1 - r.signals[VERDICT] for _, r in labelled]
    name = "P(no)" if args.check == "judge" else "other number"
    print(f"  cloud's {name}: {shown(auroc(doubted, wrong))}")
    both = calibration.cross_validated(
        [r for _, r in judged], (*calibration.FEATURES, VERDICT), "steps", args.cv
    )[calibration.STEP_AUROC]
    print(f"  both, {args.cv}-fold cross-validated: {both:.3f}")
    costs = [t for s, _ in judged if (t := verdicts[s.key].get("out_tokens")) is not None]
    if costs:
        print(f"the check cost {sum(costs) / len(costs):.1f} cloud output tokens a step")

    # The steps a lower threshold would flag next, most doubtful first.
    below = sorted((r for r in rows if doubt(r) < args.threshold), key=doubt, reverse=True)
    confident = sorted(judged, key=lambda sr: -sr[1].signals[VERDICT])
    flagged_wrong = sum(bool(r.step_wrong) for _, r in judged)
    # The number check says yes or no: it keeps the steps whose number the cloud wrote too.
    agreeing = sum(r.signals[VERDICT] == 1 for _, r in judged)
    counts = [int(share * len(judged)) for share in SHARES] if args.check == "judge" else [agreeing]
    print("the check keeps the steps with the most confident yes (the cloud writes none of them):")
    print(
        "| kept | P(yes) from | wrong among them | flagged wrong steps kept "
        "| wrong among as many steps below the threshold |"
    )
    print("|---|---|---|---|---|")
    for count in counts:
        kept = confident[:count]
        if not kept:
            continue
        kept_rows = [r for _, r in kept]
        print(
            f"| {count / len(judged):.0%} | {kept[-1][1].signals[VERDICT]:.2f} | "
            f"{wrong_share(kept_rows)} | "
            f"{sum(bool(r.step_wrong) for r in kept_rows) / max(flagged_wrong, 1):.0%} | "
            f"{wrong_share(below[: len(kept)])} |"
        )


if __name__ == "__main__":
    main()
