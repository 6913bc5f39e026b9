"""`AdaSwitchChatModel`: the graph behind the `BaseChatModel` interface, so any LCEL
chain or app that takes a chat model uses local/cloud collaboration unchanged."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    BaseCallbackHandler,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tracers import context as tracer_context
from pydantic import ConfigDict, Field, PrivateAttr

from adaswitch_graph.graph import create_adaswitch_graph
from adaswitch_graph.models import ModelSpec
from adaswitch_graph.state import Usage
from adaswitch_graph.trace import TraceWriter


class AdaSwitchChatModel(BaseChatModel):
    """A chat model that answers each call by running the AdaSwitch graph.

    The question is the last user message. The reply's content is the final answer;
    `response_metadata` holds the `steps` and the per-side `usage`; `usage_metadata`
    holds the tokens of both sides together, split per side in `input_token_details`
    and `output_token_details` (`"local"`, `"cloud"`), with the input tokens both sides'
    backends read from their prompt caches as LangChain's `"cache_read"`, under the model
    name `"adaswitch"`, so LangChain's usage callbacks count each token once.

    The inner model calls are not shown to the caller's callbacks (those passed in the
    config, and context-bound ones such as `get_usage_metadata_callback`), which would
    count their tokens a second time; `TraceWriter`s are passed through, and
    `propagate_callbacks=True` passes every handler (e.g. to trace the inner calls in
    LangSmith; a usage handler then sees them beside the wrapper's total).

        model = AdaSwitchChatModel(local_model="embedded:qwen2.5-coder-0.5b",
                                   cloud_model="openai:gpt-4o-mini",
                                   graph_kwargs={"policy": SelfVerifyPolicy(0.8)})
        chain = prompt | model | StrOutputParser()
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    local_model: Any
    """The local model: a chat model or a spec string."""
    cloud_model: Any
    """The cloud model: a chat model or a spec string."""
    graph_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of `create_adaswitch_graph` (policy, budget, prompts, ...)."""
    propagate_callbacks: bool = False
    _graph: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "adaswitch"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"local_model": _name(self.local_model), "cloud_model": _name(self.cloud_model)}

    def graph(self) -> Any:
        """The compiled graph (built on first use)."""
        if self._graph is None:
            builder = create_adaswitch_graph(
                self.local_model, self.cloud_model, **self.graph_kwargs
            )
            self._graph = builder.compile()
        return self._graph

    def _config(self, run_manager: Any) -> RunnableConfig:
        if run_manager is None:
            return {}
        handlers: list[BaseCallbackHandler] = list(run_manager.inheritable_handlers)
        if not self.propagate_callbacks:
            return {"callbacks": [h for h in handlers if isinstance(h, TraceWriter)]}
        # Nested under this call's run, so a tracer shows the graph inside it.
        child = CallbackManager(
            handlers=handlers,
            inheritable_handlers=handlers,
            parent_run_id=run_manager.run_id,
            tags=run_manager.inheritable_tags,
            inheritable_tags=run_manager.inheritable_tags,
            metadata=run_manager.inheritable_metadata,
            inheritable_metadata=run_manager.inheritable_metadata,
        )
        return {"callbacks": child}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        config = self._config(run_manager)
        graph = self.graph()
        result = self._isolated().run(graph.invoke, {"messages": messages}, config)
        return _chat_result(result)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        run = self.graph().ainvoke({"messages": messages}, self._config(run_manager))
        result = await asyncio.create_task(run, context=self._isolated())
        return _chat_result(result)

    def _isolated(self) -> contextvars.Context:
        """A context in which the caller's context-bound handlers (usage counters such
        as `get_usage_metadata_callback`) do not see the inner calls, unless
        `propagate_callbacks`: they count this call's message instead."""
        context = contextvars.copy_context()
        if not self.propagate_callbacks:
            for var, *_ in getattr(tracer_context, "_configure_hooks", []):
                context.run(var.set, None)
        return context


def _name(model: ModelSpec) -> str:
    return model if isinstance(model, str) else type(model).__name__


def _chat_result(result: dict[str, Any]) -> ChatResult:
    usage: Usage = result["usage"]
    sides = {role: usage.get(role) for role in ("local", "cloud")}
    tokens_in = {role: c["input_tokens"] if c else 0 for role, c in sides.items()}
    tokens_out = {role: c["output_tokens"] if c else 0 for role, c in sides.items()}
    cached = sum(c.get("cached_input_tokens", 0) for c in sides.values() if c)
    message = AIMessage(
        content=result["final_answer"] or "",
        response_metadata={
            "model_name": "adaswitch",
            "steps": result["steps"],
            "usage": usage,
        },
        usage_metadata={
            "input_tokens": sum(tokens_in.values()),
            "output_tokens": sum(tokens_out.values()),
            "total_tokens": sum(tokens_in.values()) + sum(tokens_out.values()),
            "input_token_details": {**tokens_in, "cache_read": cached},
            "output_token_details": tokens_out,
        },
    )
    return ChatResult(generations=[ChatGeneration(message=message)])
