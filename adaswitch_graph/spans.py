"""Steps written by both models: a token-level policy cuts the local model's part of a
step at a doubted token, the cloud continues it, and the local model goes on. The parts
(`Span`s) keep their exact whitespace, so they join into the step's text."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage

from adaswitch_graph.calls import STOPPED_EARLY
from adaswitch_graph.signals import TokenLogprobs
from adaswitch_graph.state import AdaSwitchState, Author, Span, Step, TokenScore


def open_draft(state: AdaSwitchState) -> Step | None:
    """The draft cut mid-step that the next model call continues, if there is one."""
    draft = state.get("draft")
    return draft if draft is not None and draft.get("open") else None


def joined(spans: Sequence[Span], open: bool) -> str:
    """The step's text: the spans joined, trimmed at the ends a step is trimmed at (a
    step still open keeps its trailing whitespace: the next part follows it)."""
    text = "".join(s["text"] for s in spans).lstrip()
    return text if open else text.rstrip()


def with_span(step: Step, author: Author, text: str, open: bool) -> Step:
    """`step` with one more part written by `author`."""
    return _with_spans(step, [*step.get("spans", []), Span(author=author, text=text)], open)


def cut(step: Step, tokens: Sequence[TokenScore], at: int) -> Step:
    """`step` with its newest (local) part cut before `tokens[at]`, open for the cloud."""
    kept = Span(author="local", text="".join(t["token"] for t in tokens[:at]))
    return _with_spans(step, [*step.get("spans", [])[:-1], kept], open=True)


def doubted(step: Step) -> str | None:
    """The local token that `step`, cut for the cloud, was cut before (None when it is
    not known, or is part of a character that a later token completes)."""
    spans = step.get("spans", [])
    if not spans or spans[-1]["author"] != "local":
        return None
    kept, at = spans[-1]["text"], 0
    for token in step.get("tokens", []):
        if at == len(kept):
            return token["token"] or None
        at += len(token["token"])
    return None


def _with_spans(step: Step, spans: list[Span], open: bool) -> Step:
    return Step(**{**step, "spans": spans, "text": joined(spans, open), "open": open})


def closed(step: Step) -> Step:
    """The step as the trajectory keeps it: spans trimmed like its text, and the
    working fields of a draft dropped."""
    done = Step(**step)
    done.pop("open", None)
    done.pop("tokens", None)
    if "spans" in step:
        done["spans"] = _trimmed([Span(**s) for s in step["spans"]])
    return done


def _trimmed(spans: list[Span]) -> list[Span]:
    # Whitespace at the step's ends may sit in any span: the first ones can be empty.
    for span in spans:
        span["text"] = span["text"].lstrip()
        if span["text"]:
            break
    for span in reversed(spans):
        span["text"] = span["text"].rstrip()
        if span["text"]:
            break
    return spans


def aligned(tokens: TokenLogprobs | None, text: str) -> list[TokenScore]:
    """The tokens that spell `text` from its start: those of a stop sequence, or of an
    echo the text was cleaned of, are left out, so a cut always falls inside `text`."""
    found: list[TokenScore] = []
    at = 0
    for token in tokens or []:
        piece = str(token.get("token", ""))
        # An empty piece is a token whose bytes end in a later one's character.
        if not text.startswith(piece, at):
            break
        found.append(TokenScore(token=piece, logprob=float(token["logprob"])))
        at += len(piece)
    return found


def cut_short(reply: AIMessage, limit: int) -> bool:
    """The reply ended before the end of the step: it was stopped early by its reader,
    or reached its output limit: `finish_reason` (OpenAI-compatible) or `done_reason`
    (Ollama) say "length", or, where neither is reported, its output tokens reached
    `limit`."""
    meta = reply.response_metadata
    reason = meta.get("finish_reason") or meta.get("done_reason")
    if reason:
        return str(reason) in ("length", STOPPED_EARLY)
    usage = reply.usage_metadata
    return bool(usage) and usage["output_tokens"] >= limit  # type: ignore[index]
