"""Turning model specs into chat models, and what the graph needs to know about them."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelLike
from langchain_core.runnables import RunnableBinding

from adaswitch_graph.errors import ModelSpecError

ModelSpec = str | LanguageModelLike


def resolve_model(spec: ModelSpec) -> LanguageModelLike:
    """A chat model from a spec: a model object is returned as it is, a string
    `provider:model` goes through `init_chat_model`."""
    if not isinstance(spec, str):
        return spec
    provider, sep, name = spec.partition(":")
    if not sep or not provider or not name:
        raise ModelSpecError(
            f"model spec {spec!r} is not 'provider:model'; "
            "e.g. 'ollama:qwen2.5:0.5b' or 'openai:gpt-4o-mini'"
        )
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(name, model_provider=provider)
    except ValueError as exc:
        raise ModelSpecError(f"cannot resolve model spec {spec!r}: {exc}") from None


def _unwrap(model: Any) -> Any:
    while isinstance(model, RunnableBinding):
        model = model.bound
    return model


def supports_prefill(model: LanguageModelLike) -> bool:
    """Whether the backend continues a trailing assistant message instead of answering
    it: llama.cpp and vLLM servers behind ChatOpenAI with a custom base URL, and Ollama.
    Hosted APIs (OpenAI's own, and unknown providers) get re-prompted instead."""
    inner = _unwrap(model)
    kind = type(inner).__name__
    if kind == "ChatOllama":
        return True
    if kind == "ChatOpenAI":
        base_url = getattr(inner, "openai_api_base", None) or ""
        return bool(base_url) and "api.openai.com" not in base_url
    return False


def with_output_limit(model: LanguageModelLike, max_tokens: int) -> LanguageModelLike:
    """A copy of `model` that writes at most `max_tokens` tokens per call (`max_tokens`
    or Ollama's `num_predict`), or the model itself when it has no such setting."""
    if isinstance(model, RunnableBinding):
        return model.model_copy(update={"bound": with_output_limit(model.bound, max_tokens)})
    if isinstance(model, BaseChatModel):
        fields = type(model).model_fields
        for name in ("num_predict", "max_tokens"):
            if name in fields:
                current = getattr(model, name, None)
                limit = max_tokens if current is None else min(current, max_tokens)
                return model.model_copy(update={name: limit})
    return model
