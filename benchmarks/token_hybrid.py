"""Would switching per token do better than per step? A prototype of the reward-based
token hybrid of DESIGN.md (MS et al., arXiv 2409.13757), outside the graph, measured
on the same items as the local and cloud models alone.

The local model writes the solution; the reward of each token is its own probability
(no reward model is bundled). At the first token whose probability is below `tau`
(`--digits`: the first such token that holds a digit) its text is cut, the cloud model
continues the solution for `k` tokens, and the local model goes on from there. Both
continue the assistant's own message, as the embedded llama.cpp server does, with the
graph's step prompt. "local" and "cloud" are the same loop with one model writing
everything. Items and calls are cached in `--out` and its `.calls.sqlite`, so a
second run, or another `tau`, reuses the calls it shares:

    python benchmarks/token_hybrid.py --data-dir DIR --dataset gsm8k-train --limit 60 \\
        --tau 0.3,0.5 --k 8 --out runs/token.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.globals import set_llm_cache
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from adaswitch_graph.callcache import CallCache
from adaswitch_graph.datasets import Item, load_items
from adaswitch_graph.models import resolve_model
from adaswitch_graph.prompts.local import LOCAL_PROMPT
from adaswitch_graph.report import summarize
from adaswitch_graph.scoring import score
from adaswitch_graph.signals import token_logprobs
from adaswitch_graph.steps import extract_answer, step_label

MAX_TOKENS = 512
"""Tokens a solution may have, local and cloud together (DESIGN.md's setup)."""
CHUNK = 64
"""Tokens the local model writes per call before its tokens are checked."""


@dataclass(frozen=True)
class Hybrid:
    """Who writes: `tau` 0 is the local model alone, None the cloud alone."""

    name: str
    tau: float | None
    k: int = 8
    digits: bool = False


def first_doubt(tokens: Sequence[Mapping[str, Any]], tau: float, digits: bool) -> int | None:
    """The position of the first token with probability below `tau` (holding a digit,
    with `digits`), or None."""
    for n, token in enumerate(tokens):
        if digits and not any(c.isdigit() for c in token["token"]):
            continue
        if token["logprob"] < _log(tau):
            return n
    return None


def _log(p: float) -> float:
    return math.log(p) if p > 0 else float("-inf")


async def solve(
    local: BaseChatModel, cloud: BaseChatModel, question: str, system: Hybrid
) -> dict[str, Any]:
    """One solution written the hybrid way, and what each model wrote of it."""
    prompt = LOCAL_PROMPT.format_messages(question=question)
    text = step_label(1)
    spent = {"local_calls": 0, "local_output_tokens": 0, "cloud_calls": 0}
    spent |= {"cloud_output_tokens": 0, "cloud_input_chars": 0, "switches": 0}
    written = 0
    while written < MAX_TOKENS:
        writer, role = (cloud, "cloud") if system.tau is None else (local, "local")
        limit = min(CHUNK, MAX_TOKENS - written)
        reply = await _continue(writer, prompt, text, limit)
        spent[f"{role}_calls"] += 1
        if role == "cloud":
            spent["cloud_input_chars"] += sum(len(m.text) for m in prompt) + len(text)
        tokens = token_logprobs(reply) or []
        doubt = None
        if system.tau:
            doubt = first_doubt(tokens, system.tau, system.digits)
        if doubt is None:
            added = reply.text.removeprefix(text)
            text += added
            spent[f"{role}_output_tokens"] += _output_tokens(reply, len(tokens))
            written += _output_tokens(reply, len(tokens))
            if reply.response_metadata.get("finish_reason") != "length":
                break
            continue
        # Keep the local tokens before the doubt; the cloud writes the next k.
        kept = "".join(t["token"] for t in tokens[:doubt])
        text += kept
        spent["local_output_tokens"] += _output_tokens(reply, len(tokens))
        written += doubt
        assisted = await _continue(cloud, prompt, text, min(system.k, MAX_TOKENS - written))
        spent["cloud_calls"] += 1
        spent["switches"] += 1
        spent["cloud_input_chars"] += sum(len(m.text) for m in prompt) + len(text)
        cloud_tokens = _output_tokens(assisted, system.k)
        spent["cloud_output_tokens"] += cloud_tokens
        written += cloud_tokens
        text += assisted.text.removeprefix(text)
        if assisted.response_metadata.get("finish_reason") == "stop":
            break
    return {"solution": text, **spent}


async def _continue(
    model: BaseChatModel, prompt: list[BaseMessage], text: str, limit: int
) -> AIMessage:
    reply = await model.bind(max_tokens=limit).ainvoke([*prompt, AIMessage(content=text)])
    assert isinstance(reply, AIMessage)
    return reply


def _output_tokens(reply: AIMessage, default: int) -> int:
    usage = reply.usage_metadata
    return usage["output_tokens"] if usage else default


def answer_of(solution: str) -> str:
    """The stated answer, else the solution itself (its last number is scored)."""
    return extract_answer(solution) or solution


async def run(
    items: Sequence[Item],
    systems: Sequence[Hybrid],
    local: BaseChatModel,
    cloud: BaseChatModel,
    out: Path,
    concurrency: int,
) -> list[dict[str, Any]]:
    """Every system on every item, resumed from and appended to `out`."""
    done = {}
    if out.exists():
        for record in map(json.loads, out.read_text().splitlines()):
            done[(record["system"], record["item"])] = record
    gate = asyncio.Semaphore(concurrency)
    sink = out.open("a")

    async def one(system: Hybrid, item: Item) -> None:
        async with gate:
            found = await solve(local, cloud, item.question, system)
        record = {"system": system.name, "item": item.id, **found}
        record["correct"] = score(item, answer_of(found["solution"])) == 1.0
        done[(system.name, item.id)] = record
        sink.write(json.dumps(record) + "\n")
        sink.flush()
        print(f"  {system.name} {item.id}: {'right' if record['correct'] else 'wrong'}", flush=True)

    try:
        await asyncio.gather(
            *(one(s, i) for s in systems for i in items if (s.name, i.id) not in done)
        )
    finally:
        sink.close()
    return [done[(s.name, i.id)] for s in systems for i in items]


def summary(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The table: accuracy, gap recovered and cloud output tokens against cloud alone,
    over the items every system finished (so that rows compare): `report.summarize`'s
    figures, in this prototype's columns."""
    kinds = {"local": "local", "cloud": "cloud"}
    rows = summarize([{**r, "kind": kinds.get(r["system"], "token")} for r in records])
    lines = [
        "| system | n | accuracy (95% CI) | gap recovered | cloud out tok. vs cloud alone "
        "| cloud calls/q | switches/q | local out tok./q |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        recovered = "-" if row.gap_recovered is None else f"{row.gap_recovered:.0%}"
        # Every switch is one cloud call; cloud alone switches nothing.
        switches = 0.0 if row.kind == "cloud" else row.cloud_calls
        lines.append(
            f"| {row.system} | {row.n} | {row.accuracy:.1%} ({row.ci_low:.1%} to "
            f"{row.ci_high:.1%}) | {recovered} | {row.cloud_output_share or 0:.0%} | "
            f"{row.cloud_calls:.2f} | {switches:.2f} | {row.local_tokens:.0f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="gsm8k-train")
    parser.add_argument("--data-dir")
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--tau", default="0.3", help="comma-separated probabilities")
    parser.add_argument("--k", type=int, default=8, help="tokens the cloud writes a switch")
    parser.add_argument("--digits", action="store_true", help="doubt digit tokens only")
    parser.add_argument("--local", default="embedded:qwen2.5-coder-0.5b")
    parser.add_argument("--cloud", default="embedded:qwen2.5-coder-1.5b")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--report-only", action="store_true", help="summarize --out's records, run nothing"
    )
    args = parser.parse_args()

    items = load_items(args.dataset, data_dir=args.data_dir, limit=args.limit, offset=args.offset)
    prefix = "digits-" if args.digits else ""
    systems = [Hybrid("local", 0.0), Hybrid("cloud", None)] + [
        Hybrid(f"{prefix}token:{tau}:{args.k}", float(tau), args.k, args.digits)
        for tau in args.tau.split(",")
    ]
    if args.report_only:
        names = {s.name for s in systems}
        records = [r for r in map(json.loads, args.out.read_text().splitlines())]
        print("\n".join(summary([r for r in records if r["system"] in names])))
        return
    set_llm_cache(CallCache(args.out.with_suffix(".calls.sqlite")))
    local, cloud = resolve_model(args.local), resolve_model(args.cloud)
    assert isinstance(local, BaseChatModel) and isinstance(cloud, BaseChatModel)
    records = asyncio.run(run(items, systems, local, cloud, args.out, args.concurrency))
    print("\n".join(summary(records)))


if __name__ == "__main__":
    main()
