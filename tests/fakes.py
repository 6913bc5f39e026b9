"""Scripted fake chat models for unit tests. They are fakes: replies come from a Python
function, never from a model. The integration tests use the real models."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from adaswitch_graph.calls import CACHED_PROMPT_TOKENS, PROMPT_TOKENS

CONFIDENT = -0.05
UNSURE = -4.0


def reply(
    text: str,
    min_logprob: float | None = CONFIDENT,
    output_tokens: int | None = None,
    input_tokens: int = 10,
) -> AIMessage:
    """An AIMessage as an OpenAI-compatible server returns it: per-token logprobs (the
    lowest one set to `min_logprob`; none when it is None) and token usage."""
    words = text.split() or [text]
    n_out = len(words) if output_tokens is None else output_tokens
    metadata: dict[str, Any] = {}
    if min_logprob is not None:
        tokens = [{"token": w, "logprob": CONFIDENT} for w in words]
        tokens[-1]["logprob"] = min_logprob
        metadata["logprobs"] = {"content": tokens}
    return AIMessage(
        content=text,
        response_metadata=metadata,
        usage_metadata={
            "input_tokens": input_tokens,
            "output_tokens": n_out,
            "total_tokens": input_tokens + n_out,
        },
    )


GOOD_RUN = [
    reply("Step 1: In May she sold 48 / 2 = 24 clips."),
    reply("Step 2: Altogether 48 + 24 = 72 clips.\nAnswer: 72"),
]
SHAKY_RUN = [
    reply("Step 1: In May she sold 48 / 2 = 24 clips."),
    reply("Step 2: Altogether 48 + 24 = 62 clips.", min_logprob=UNSURE),
    reply("Step 3: So she sold 96 clips.", min_logprob=UNSURE),
    reply("Step 4: Check done.\nAnswer: 72"),
]
"""Step 2 and 3 are doubted (low token confidence); the cloud is asked for both."""
SHAKY_EVENTS = [
    "started",
    "drafted", "verified", "merged",
    "drafted", "verified", "flagged", "assisted", "merged",
    "drafted", "verified", "flagged", "assisted", "merged",
    "drafted", "verified", "merged",
    "final",
]  # fmt: skip
"""The events of a SHAKY_RUN with the test verifier and the default policy."""


class RecordingChatModel(GenericFakeChatModel):
    """The bookkeeping of the fakes below: their calls go to `calls`, shared with the
    copies made for an output limit (`max_tokens`), which keys them in a call cache."""

    # Not settings: a call cache that keys a model by its fields leaves them out.
    messages: Iterator[Any] = Field(default_factory=lambda: iter(()), exclude=True)
    calls: list[dict[str, Any]] = Field(default_factory=list, exclude=True)
    max_tokens: int | None = None

    @classmethod
    def is_lc_serializable(cls) -> bool:
        # Call caches take only serializable models; this fake keys its calls itself.
        return True

    def _get_llm_string(self, stop: list[str] | None = None, **kwargs: Any) -> str:
        # One fake and its copies (they share `calls`), and their output limit.
        return f"scripted {id(self.calls)} {self.max_tokens} {stop} {sorted(kwargs.items())}"

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Any:
        # Copies made for an output limit must record into the same call log.
        copy = super().model_copy(update=update, deep=deep)
        object.__setattr__(copy, "calls", self.calls)
        return copy


class ScriptedChatModel(RecordingChatModel):
    """A fake chat model whose reply is computed from the messages it receives.

    `respond(messages, call_number)` returns an AIMessage or a string, or raises. Every
    call is recorded in `calls` (the messages and the output limit it was given). Like a
    real server, the reply's output tokens are capped at `max_tokens`.
    """

    respond: Callable[[list[BaseMessage], int], AIMessage | str]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append({"messages": messages, "stop": stop, "max_tokens": self.max_tokens})
        out = self.respond(messages, len(self.calls))
        message = AIMessage(content=out) if isinstance(out, str) else out
        usage = message.usage_metadata
        if usage and self.max_tokens is not None and usage["output_tokens"] > self.max_tokens:
            usage = {**usage, "output_tokens": self.max_tokens}
            message = message.model_copy(update={"usage_metadata": usage})
        return ChatResult(generations=[ChatGeneration(message=message)])


def scripted_local(
    steps: Sequence[AIMessage | str], judge: Callable[[str], AIMessage | str] | None = None
) -> ScriptedChatModel:
    """A local model that writes `steps[i]` when asked for step i+1 (it reads the step
    number from the prompt), and answers judge prompts with `judge(step_text)`."""

    def respond(messages: list[BaseMessage], _: int) -> AIMessage | str:
        prompt = "\n".join(m.text for m in messages)
        if "Is the new step correct?" in prompt:
            assert judge is not None, "judge prompt sent to a local fake without a judge"
            return judge(prompt)
        if "Give only the final answer" in prompt or prompt.endswith("Answer:"):
            return "Answer: 0"
        index = asked_step(messages)
        if index > len(steps):
            return ""
        return steps[index - 1]

    return ScriptedChatModel(respond=respond)


def asked_step(messages: Sequence[BaseMessage]) -> int:
    """The step number a prompt asks for: the last `Step N:` it mentions, +1 when the
    prompt only lists completed steps."""
    last = messages[-1]
    if last.type == "ai":  # prefill: the model continues "... Step N:"
        return int(re.findall(r"Step (\d+):", last.text)[-1])
    found = re.findall(r"Write only Step (\d+)|write Step (\d+) again|Write Step (\d+)", last.text)
    return int(next(x for x in found[-1] if x))


def scripted_cloud(
    respond: Callable[[int, str], AIMessage | str] | None = None,
) -> ScriptedChatModel:
    """A cloud model that writes the step it is asked for: by default `Step N: fixed N`,
    or `respond(step_number, draft_text)`, where draft_text is the draft a prompt of
    one's own showed it ("" when the prompt shows none, as the default does)."""

    def reply_to(messages: list[BaseMessage], _: int) -> AIMessage | str:
        prompt = messages[-1].text
        index = asked_step(messages)
        draft = re.search(r"\(it may be wrong\):\n(.*)\n\nWrite Step", prompt, re.S)
        assert re.search(r"Write (only )?Step \d+", prompt), f"unexpected: {prompt!r}"
        if respond is not None:
            return respond(index, draft.group(1) if draft else "")
        return reply(f"Step {index}: fixed {index}", min_logprob=None)

    return ScriptedChatModel(respond=reply_to)


TOKEN = re.compile(r"\d|\s+|[^\s\d]+")
"""How `ContinuingChatModel` splits text into tokens: a digit, a run of spaces, or a
run of other characters (as Qwen's tokenizer keeps digits apart)."""


CACHED = 6
"""Of the 10 tokens of every prompt `ContinuingChatModel` is sent, those it reports as
read from its prompt cache."""


class ContinuingChatModel(RecordingChatModel):
    """A fake of a backend that continues the assistant's own message (as llama.cpp
    does), streaming one token at a time with its log-probability.

    It continues the first of `texts` that the message so far is a prefix of (so a
    model given another's words goes on in the other's way), up to a stop sequence
    (finish reason "stop") or `max_tokens` (finish reason "length"). Its tokens have
    logprob `CONFIDENT`, except those listed in `unsure` (`UNSURE`). Every call is
    recorded in `calls`, with its prefill, limit and how many tokens the caller read.
    """

    texts: list[str]
    unsure: set[str] = Field(default_factory=set)
    fail: bool = False

    def _tokens(self, messages: list[BaseMessage], stop: list[str] | None) -> tuple[list[str], str]:
        prefill = messages[-1].text if messages[-1].type == "ai" else ""
        self.calls.append({"prefill": prefill, "max_tokens": self.max_tokens, "read": 0})
        if self.fail:
            raise ConnectionError("the fake backend is down")
        text = next((t for t in self.texts if t.startswith(prefill)), "")[len(prefill) :]
        reason = "stop"
        for sequence in stop or []:
            text = text.split(sequence, 1)[0]
        tokens = TOKEN.findall(text)
        if self.max_tokens is not None and len(tokens) > self.max_tokens:
            tokens, reason = tokens[: self.max_tokens], "length"
        return tokens, reason

    def _logprob(self, token: str) -> float:
        return UNSURE if token in self.unsure else CONFIDENT

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        tokens, reason = self._tokens(messages, stop)
        self.calls[-1]["read"] = len(tokens)
        scores = [{"token": t, "logprob": self._logprob(t)} for t in tokens]
        message = AIMessage(
            content="".join(tokens),
            response_metadata={"logprobs": {"content": scores}, "finish_reason": reason},
            usage_metadata={
                "input_tokens": 10,
                "output_tokens": len(tokens),
                "total_tokens": 10 + len(tokens),
                "input_token_details": {"cache_read": CACHED},
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        tokens, reason = self._tokens(messages, stop)
        call = self.calls[-1]
        for token in tokens:
            call["read"] += 1
            score = {"token": token, "logprob": self._logprob(token)}
            # Each chunk carries the prompt's length, and how much of it the server had
            # cached, as llama.cpp's do.
            metadata = {
                "logprobs": {"content": [score]},
                PROMPT_TOKENS: 10,
                CACHED_PROMPT_TOKENS: CACHED,
            }
            yield ChatGenerationChunk(
                message=AIMessageChunk(content=token, response_metadata=metadata)
            )
        usage = UsageMetadata(
            input_tokens=10,
            output_tokens=len(tokens),
            total_tokens=10 + len(tokens),
            input_token_details={"cache_read": CACHED},
        )
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="", response_metadata={"finish_reason": reason}, usage_metadata=usage
            )
        )
