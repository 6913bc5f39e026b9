"""The prompts of the graph, as LangChain prompt templates; each can be overridden."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder, PromptTemplate

from adaswitch_graph.prompts.cloud import CLOUD_PROMPT
from adaswitch_graph.prompts.local import (
    ANSWER_PROMPT,
    LOCAL_NEXT_PROMPT,
    LOCAL_PROMPT,
    LOCAL_RETRY_PROMPT,
)
from adaswitch_graph.prompts.tools import TOOLS_PROMPT
from adaswitch_graph.prompts.verify import JUDGE_PROMPT
from adaswitch_graph.steps import NEXT_STEP_STOP


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

    def request_stops(self) -> list[str]:
        """Stop sequences at the request line of the prompts that ask a model afresh for
        the next step (`cloud`, then `local_next`): the line's text up to the step
        number, after a newline ("\\nWrite Step " for the default cloud prompt).

        A model asked afresh for "Step N" (a hosted cloud, a local model that cannot
        continue) sometimes repeats the request for Step N+1 on a line of its own and
        writes that step too (the bundled 1.5B did in about one flagged step in ten on
        GSM8K train items). Derived from the prompts, so that a prompt of one's own gets
        the same stop. At most two: with the next step's marker and the tools'
        observation, four stop sequences are all OpenAI's API takes.
        """
        stops: list[str] = []
        for prompt in (self.cloud, self.local_next):
            stop = _request_stop(prompt)
            if stop and stop != NEXT_STEP_STOP and stop not in stops:
                stops.append(stop)
        return stops

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


_INDEX = "\ue000"
"""Stands in for the step number (a private-use character no prompt contains)."""


def _request_stop(prompt: ChatPromptTemplate) -> str | None:
    """`"\\n"` and the text before the step number on the last line that shows it, or
    None when there is none or the prompt cannot be rendered with empty values."""
    values: dict[str, Any] = dict.fromkeys(prompt.input_variables, "")
    for message in prompt.messages:
        if isinstance(message, MessagesPlaceholder):
            values[message.variable_name] = []
    try:
        messages = prompt.format_messages(**{**values, "index": _INDEX})
    except (KeyError, TypeError, ValueError):
        return None
    lines = [line for m in messages for line in m.text.splitlines() if _INDEX in line]
    head = lines[-1].split(_INDEX, 1)[0].lstrip() if lines else ""
    return f"\n{head}" if head.strip() else None


__all__ = ["AdaSwitchPrompts"]
