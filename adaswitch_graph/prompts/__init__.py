"""The prompts of the graph, as LangChain prompt templates; each can be overridden."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from langchain_core.prompts import ChatPromptTemplate, PromptTemplate

from adaswitch_graph.prompts.cloud import CLOUD_PROMPT
from adaswitch_graph.prompts.local import (
    ANSWER_PROMPT,
    LOCAL_NEXT_PROMPT,
    LOCAL_PROMPT,
    LOCAL_RETRY_PROMPT,
)
from adaswitch_graph.prompts.tools import TOOLS_PROMPT
from adaswitch_graph.prompts.verify import JUDGE_PROMPT


@dataclass(frozen=True)
class AdaSwitchPrompts:
    """Every prompt the graph sends. Variables each template receives:

    - `local` (continued by the model's own assistant message): `question`
    - `local_next`, `answer`: `question`, `solution`, `index`
    - `local_retry`: `question`, `solution`, `index`, `draft`
    - `judge`: `question`, `solution`, `index`, `step`
    - `cloud`: `question`, `solution`, `index`, `draft` (the default does not show the
      draft)
    - `tools` (added to the system message when the graph has tools): `tools` (one
      "name: description" line each), `example` (the first tool's name)
    """

    local: ChatPromptTemplate = field(default_factory=lambda: LOCAL_PROMPT)
    local_next: ChatPromptTemplate = field(default_factory=lambda: LOCAL_NEXT_PROMPT)
    local_retry: ChatPromptTemplate = field(default_factory=lambda: LOCAL_RETRY_PROMPT)
    answer: ChatPromptTemplate = field(default_factory=lambda: ANSWER_PROMPT)
    judge: ChatPromptTemplate = field(default_factory=lambda: JUDGE_PROMPT)
    cloud: ChatPromptTemplate = field(default_factory=lambda: CLOUD_PROMPT)
    tools: PromptTemplate = field(default_factory=lambda: TOOLS_PROMPT)

    @classmethod
    def coerce(cls, prompts: AdaSwitchPrompts | dict[str, Any] | None) -> AdaSwitchPrompts:
        """Accept an `AdaSwitchPrompts`, a dict of overrides, or None (the defaults)."""
        if prompts is None:
            return cls()
        if isinstance(prompts, cls):
            return prompts
        if isinstance(prompts, dict):
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(prompts) - known)
            if unknown:
                raise ValueError(
                    f"unknown prompt name(s) {unknown}; the prompts are {sorted(known)}"
                )
            return replace(cls(), **prompts)
        raise TypeError(
            f"prompts must be AdaSwitchPrompts, a dict or None, not {type(prompts).__name__}"
        )


__all__ = ["AdaSwitchPrompts"]
