"""Orchestration overhead: graph time per reasoning step with instant fake models.

The models here are fakes that answer at once, so all the time measured is the graph's
own (LangGraph's scheduling, our nodes, prompt formatting, state reducers, events).
Every step runs all nodes: local_reason, self_verify, cloud_assist (every other step),
merge; the last step also runs finalize.

    python benchmarks/overhead.py --questions 200 --steps 8
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from adaswitch_graph import RandomPolicy, create_adaswitch_agent


class InstantModel(BaseChatModel):
    """Writes `Step N: ...` at once, with token log-probabilities and usage."""

    steps: int = 8

    @property
    def _llm_type(self) -> str:
        return "instant"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **_: Any
    ) -> ChatResult:
        found = re.findall(r"Step (\d+)", messages[-1].text)
        index = int(found[-1]) if found else 1
        text = f"Step {index}: 2 + {index} = {2 + index}"
        if index >= self.steps:
            text += f"\nAnswer: {2 + index}"
        tokens = [{"token": w, "logprob": -0.1 * (index % 3)} for w in text.split()]
        message = AIMessage(
            content=text,
            response_metadata={"logprobs": {"content": tokens}},
            usage_metadata={"input_tokens": 50, "output_tokens": 12, "total_tokens": 62},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    model = InstantModel(steps=args.steps)
    agent = create_adaswitch_agent(model, model, policy=RandomPolicy(0.5), max_steps=args.steps)
    inputs = {"messages": [("user", "What is 2 plus the step number?")]}
    agent.invoke(inputs)  # warm up imports and caches

    per_step, cpu_per_step = [], []
    for _ in range(args.questions):
        started, cpu = time.perf_counter(), time.process_time()
        result = agent.invoke(inputs)
        per_step.append((time.perf_counter() - started) / len(result["steps"]))
        cpu_per_step.append((time.process_time() - cpu) / len(result["steps"]))
    steps = len(result["steps"])
    cloud = result["usage"].get("cloud", {}).get("calls", 0)

    async def run_async() -> float:
        started = time.perf_counter()
        await agent.abatch([inputs] * args.questions)
        return float((time.perf_counter() - started) / (args.questions * steps))

    async_per_step = asyncio.run(run_async())
    print(f"{args.questions} questions x {steps} steps ({cloud} cloud-assisted per question)")
    p90 = sorted(per_step)[int(0.9 * len(per_step))]
    print(
        f"sync  invoke: median {1000 * statistics.median(per_step):.2f} ms per step wall "
        f"(p90 {1000 * p90:.2f} ms); median {1000 * statistics.median(cpu_per_step):.2f} ms "
        "CPU (this one holds when other jobs share the machine)"
    )
    print(f"async abatch: {1000 * async_per_step:.2f} ms per step (all questions at once)")


if __name__ == "__main__":
    main()
