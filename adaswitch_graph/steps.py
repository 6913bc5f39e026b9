"""The text format of a solution: `Step N: ...` lines, ending with `Answer: ...`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from adaswitch_graph.state import Step

NEXT_STEP_STOP = "\nStep "
"""Ends generation where the model begins the next step on its own."""
OBSERVATION = "Observation:"
OBSERVATION_STOP = f"\n{OBSERVATION}"
"""With tools, generation also stops where the tool's observation is due."""
_ACTION = re.compile(r"Action:\s*(?P<tool>[A-Za-z_][\w-]*)\s*\[(?P<input>[^\]\n]*)\]")

_LABEL = re.compile(
    r"^\s*(?:#+\s*)?(?:\*\*)?\s*(?:corrected\s+)?step\s*\d+\s*[:.)]\s*(?:\*\*)?\s*", re.I
)
_NEXT_STEP = re.compile(
    r"\n\s*(?:#+\s*)?(?:\*\*)?\s*(?:step\s*\d+\s*[:.)]|write\s+(?:only\s+)?step\s*\d+\s*[:.),])",
    re.I,
)
_ANSWER = re.compile(
    r"(?:^|\n)\s*(?:\*\*)?\s*(?:final\s+)?answer\s*(?:\*\*)?\s*:\s*(?:\*\*)?\s*(?P<a>[^\n]*)",
    re.I,
)
_ANSWER_IS = re.compile(r"\bthe (?:final )?answer is\s*:?\s*(?P<a>[^\n]+)", re.I)
_HASHES = re.compile(r"####\s*(?P<a>[^\n]+)")
_BOXED = re.compile(r"\\boxed\{(?P<a>[^{}]*)\}")


def step_label(index: int) -> str:
    return f"Step {index}:"


def render_steps(steps: Sequence[Step]) -> str:
    """The accepted trajectory as the solution text the models read and continue; a
    tool's observation follows the step that called it."""
    lines = []
    for s in steps:
        lines.append(f"{step_label(s['index'])} {s['text']}")
        lines += [f"{OBSERVATION} {use['output']}" for use in s.get("tool_calls", [])]
    return "\n".join(lines)


def is_final(text: str) -> bool:
    """The step states the answer and calls no tool (a call's result is still to come)."""
    return extract_answer(text) is not None and not find_actions(text)


def find_actions(text: str) -> list[tuple[str, str]]:
    """The `Action: tool[input]` calls a step makes, in order."""
    return [(m["tool"], m["input"].strip()) for m in _ACTION.finditer(text)]


def restates(text: str, steps: Sequence[Step]) -> bool:
    """`text` is word for word one of `steps`: a step that makes no progress."""
    return any(s["text"] == text for s in steps)


def solution_so_far(steps: Sequence[Step]) -> str:
    """The trajectory as prompts show it, with a placeholder before the first step."""
    return render_steps(steps) or "(no steps yet)"


def clean_step(text: str, prefix: str = "", tools: bool = False, stop: Sequence[str] = ()) -> str:
    """One step's text from a raw reply: the echoed prefill and the `Step N:` label
    removed, and anything from a next step marker or a `stop` sequence on cut (for
    models that ignore stop sequences). With `tools`, an observation the model wrote
    itself is cut too."""
    return written(text, prefix, tools, stop).strip()


def written(text: str, prefix: str = "", tools: bool = False, stop: Sequence[str] = ()) -> str:
    """`clean_step` with the whitespace kept at both ends: what a model wrote when it
    continued part of a step, to be joined exactly with the part before it."""
    if prefix and text.startswith(prefix):
        text = text[len(prefix) :]
    elif prefix.strip() and text.lstrip().startswith(prefix.strip()):
        text = text.lstrip()[len(prefix.strip()) :]
    text = _LABEL.sub("", text, count=1)
    match = _NEXT_STEP.search(text)
    if match:
        text = text[: match.start()]
    for sequence in stop:
        text = text.split(sequence, 1)[0]
    if tools:  # an observation is the tool's to write: one the model invented is dropped
        text = text.split(OBSERVATION, 1)[0]
    return text


def extract_answer(text: str) -> str | None:
    """The final answer stated in a step, or None when it states none."""
    for pattern in (_ANSWER, _HASHES, _BOXED, _ANSWER_IS):
        matches = [m.group("a").strip() for m in pattern.finditer(text)]
        matches = [m.rstrip("*").strip() for m in matches if m.rstrip("*").strip()]
        if matches:
            boxed = _BOXED.search(matches[-1])
            return boxed.group("a").strip() if boxed else matches[-1]
    return None
