"""What every node needs to know about the graph it runs in."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from langchain_core.language_models import LanguageModelLike
from langchain_core.messages import BaseMessage, SystemMessage
from langchain_core.tools import BaseTool

from adaswitch_graph.budget import Budget
from adaswitch_graph.policies import Policy, TokenLevel
from adaswitch_graph.prompts import AdaSwitchPrompts
from adaswitch_graph.steps import NEXT_STEP_STOP, OBSERVATION_STOP, clean_step, written
from adaswitch_graph.verifier import Verifier


@dataclass(frozen=True)
class GraphContext:
    local: LanguageModelLike
    cloud: LanguageModelLike
    policy: Policy | TokenLevel
    budget: Budget
    verifier: Verifier
    prompts: AdaSwitchPrompts
    max_steps: int
    prefill: bool
    """The local backend continues the assistant's own message (llama.cpp, Ollama)."""
    cloud_prefill: bool
    """The cloud backend continues the assistant's own message, so it is given the
    solution so far to continue rather than the draft to correct."""
    judge: bool
    """Ask the local model's yes/no judgement of each step as an extra signal."""
    samples: int = 0
    """Sampled versions of each local step to draw, for `sample_disagreement`."""
    tools: dict[str, BaseTool] = field(default_factory=dict)
    """Tools a step may call (`Action: name[input]`), by name."""

    @cached_property
    def stop(self) -> list[str]:
        """Where every step's generation ends: the next step's marker, the prompts'
        requests for a next step, and with tools the observation."""
        stop = [NEXT_STEP_STOP, *self.prompts.request_stops()]
        return [*stop, OBSERVATION_STOP] if self.tools else stop

    def clean(self, text: str, prefix: str) -> str:
        """A step's text from a raw reply to a request with `prefix` prefilled."""
        return clean_step(text, prefix, bool(self.tools), self.stop)

    def written(self, text: str, prefix: str) -> str:
        """`clean` with the whitespace at both ends kept, for a part of a step."""
        return written(text, prefix, bool(self.tools), self.stop)

    @cached_property
    def token_level(self) -> TokenLevel | None:
        """The policy, when it switches models inside a step."""
        return self.policy if isinstance(self.policy, TokenLevel) else None

    def with_tools(self, messages: list[BaseMessage]) -> list[BaseMessage]:
        """The messages with the tools described at the end of the system message."""
        if not self.tools or not messages or messages[0].type != "system":
            return messages
        note = self.prompts.tools.format(
            tools="\n".join(f"- {t.name}: {t.description}" for t in self.tools.values()),
            example=next(iter(self.tools)),
        )
        system = SystemMessage(content=f"{messages[0].text}\n\n{note}")
        return [system, *messages[1:]]
