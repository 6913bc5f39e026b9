"""What every node needs to know about the graph it runs in."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.language_models import LanguageModelLike

from adaswitch_graph.budget import Budget
from adaswitch_graph.policies import Policy
from adaswitch_graph.prompts import AdaSwitchPrompts
from adaswitch_graph.verifier import Verifier


@dataclass(frozen=True)
class GraphContext:
    local: LanguageModelLike
    cloud: LanguageModelLike
    policy: Policy
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
