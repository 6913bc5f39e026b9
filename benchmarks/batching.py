"""Raw generation throughput of an embedded model: one request alone, then K at once.

This is the ceiling of what `--concurrency K` can gain: on a machine where one stream
already uses every core, batching adds little. `$ADASWITCH_THREADS` sets the threads the
server computes on (default: every core). `--no-logprobs` asks for no log-probabilities
(the graph needs them; this shows what they cost).

    python benchmarks/batching.py --model qwen2.5-coder-0.5b --concurrent 4
"""

from __future__ import annotations

import argparse
import asyncio
import time

from adaswitch_graph.embedded import cpu_threads, embedded_chat_model, parallel_slots


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--no-logprobs", dest="logprobs", action="store_false")
    args = parser.parse_args()
    extra = {} if args.logprobs else {"logprobs": False, "top_logprobs": None}
    model = embedded_chat_model(args.model, max_tokens=args.tokens, **extra)

    async def one(i: int) -> int:
        reply = await model.ainvoke([("user", f"Count from {i} to 500, separated by commas.")])
        return reply.usage_metadata["output_tokens"] if reply.usage_metadata else 0

    await one(0)  # load the weights into memory first
    rates = {}
    for k in (1, args.concurrent):
        started = time.perf_counter()
        tokens = sum(await asyncio.gather(*(one(i) for i in range(k))))
        rates[k] = tokens / (time.perf_counter() - started)
        print(f"{k} concurrent: {tokens} tokens, {rates[k]:.1f} tok/s")
    threads = cpu_threads()
    setup = f"{parallel_slots()} slots, {threads} thread{'s' if threads > 1 else ''}"
    setup += "" if args.logprobs else ", no logprobs"
    print(f"{args.model}, {setup}: x{rates[args.concurrent] / rates[1]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
