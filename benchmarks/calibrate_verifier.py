"""Refit the shipped verifier on GSM8K *train* items with the real local model.

Runs the graph with `AlwaysLocal` (so every step is the local model's own), labels each
step with whether its solution's final answer was wrong, and fits the logistic model.
Step-level labels are not available here, so a step inherits its solution's label: the
fitted probability reads "P(this solution goes wrong | this step's confidence)".

    python benchmarks/calibrate_verifier.py --items 80 --out adaswitch_graph/verifier.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from pathlib import Path

from adaswitch_graph import AlwaysLocal, Verifier, create_adaswitch_agent
from adaswitch_graph.scoring import numbers_match


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/gsm8k/train.jsonl")
    parser.add_argument("--items", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--local", default="embedded:qwen2.5-coder-0.5b")
    parser.add_argument("--out", default="verifier.json")
    parser.add_argument("--rows", default="calibration-rows.jsonl")
    args = parser.parse_args()

    lines = Path(args.data).read_text().splitlines()
    items = [json.loads(x) for x in random.Random(args.seed).sample(lines, args.items)]
    agent = create_adaswitch_agent(args.local, args.local, policy=AlwaysLocal())
    inputs = [{"messages": [("user", item["question"])]} for item in items]
    outcomes = await agent.abatch(
        inputs, {"max_concurrency": args.concurrency}, return_exceptions=True
    )
    kept = [(i, r) for i, r in zip(items, outcomes, strict=True) if isinstance(r, dict)]
    print(f"{len(kept)} of {len(items)} items ran")
    items, results = [i for i, _ in kept], [r for _, r in kept]
    wrongs = [
        not numbers_match(r["final_answer"], i["answer"].split("####")[-1])
        for i, r in zip(items, results, strict=True)
    ]
    rows, labels = [], []
    with open(args.rows, "w") as out:
        for result, wrong in zip(results, wrongs, strict=True):
            for step in result["steps"]:
                if "min_logprob" in step["signals"]:
                    rows.append(step["signals"])
                    labels.append(wrong)
                    out.write(json.dumps({"signals": step["signals"], "wrong": wrong}) + "\n")
    accuracy = 1 - sum(wrongs) / len(wrongs)
    verifier = Verifier.fit(
        rows,
        labels,
        meta={
            "fitted_on": f"gsm8k train, {args.items} items (seed {args.seed}), {len(rows)} steps",
            "local_model": args.local,
            "labels": "each step labelled with its solution's answer being wrong",
            "local_accuracy": round(accuracy, 3),
        },
    )
    verifier.save(args.out)
    print(json.dumps(verifier.to_dict(), indent=2))


if __name__ == "__main__":
    asyncio.run(main())
