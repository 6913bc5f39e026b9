"""Turning model specs into chat models, and what the graph needs to know about them."""

from __future__ import annotations

import os
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel, LanguageModelLike
from langchain_core.runnables import RunnableBinding

from adaswitch_graph.errors import ModelSpecError, ModelUnavailableError

ModelSpec = str | LanguageModelLike

DEFAULT_MAX_TOKENS = 256
"""Output cap per call of the models we configure: one step is far shorter, and a
small model that loops is cut off."""
TOP_LOGPROBS = 5
OLLAMA_DEFAULT_HOST = "http://127.0.0.1:11434"
_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google_genai": "GOOGLE_API_KEY",
    "mistralai": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "together": "TOGETHER_API_KEY",
    "fireworks": "FIREWORKS_API_KEY",
    "xai": "XAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
}


def resolve_model(
    spec: ModelSpec, *, base_url: str | None = None, check: bool = True
) -> LanguageModelLike:
    """A chat model from a spec; a model object is returned as it is.

    - `embedded:<name>`: a bundled model on the in-process llama.cpp server.
    - `ollama:<name>`: `ChatOllama` with logprobs, at `base_url`, else `$OLLAMA_HOST`,
      else the local default; with `check`, the server is asked whether it runs and has
      the model, so a mistake is reported now rather than at the first step.
    - any other `provider:model` goes through `init_chat_model`; `base_url` points an
      OpenAI-compatible provider at another server (vLLM, llama.cpp, LM Studio...).
      Streaming usage is on, so no token goes uncounted.
    """
    if not isinstance(spec, str):
        return spec
    provider, sep, name = spec.strip().partition(":")
    if not sep or not provider or not name:
        raise ModelSpecError(
            f"model spec {spec!r} is not 'provider:model'; e.g. "
            "'embedded:qwen2.5-coder-0.5b', 'ollama:qwen2.5:0.5b' or 'openai:gpt-4o-mini'"
        )
    if provider == "embedded":
        from adaswitch_graph.embedded import embedded_chat_model

        return embedded_chat_model(name)
    if provider == "ollama":
        return _ollama(name, base_url, check)
    return _init_chat_model(provider, name, base_url)


def _init_chat_model(provider: str, name: str, base_url: str | None) -> LanguageModelLike:
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {}
    if provider in ("openai", "azure_openai"):
        kwargs["stream_usage"] = True
    if base_url:
        kwargs["base_url"] = base_url
    try:
        model: LanguageModelLike = init_chat_model(name, model_provider=provider, **kwargs)
        return model
    except ImportError as exc:
        raise ModelUnavailableError(f"provider {provider!r} is not installed: {exc}") from None
    except Exception as exc:
        text = str(exc)
        if text.startswith("Unsupported provider"):
            raise ModelSpecError(
                f"unknown provider {provider!r}; use embedded, ollama, openai, or another "
                "provider init_chat_model knows (anthropic, google_genai, mistralai, ...)"
            ) from None
        if "api_key" in text or "API key" in text or "credentials" in text.lower():
            env = _KEY_ENV.get(provider, f"{provider.upper()}_API_KEY")
            raise ModelUnavailableError(
                f"API key missing for {provider}:{name}: set {env}, or use a local model "
                "such as embedded:qwen2.5-coder-1.5b"
            ) from None
        raise


def ollama_host(base_url: str | None = None) -> str:
    """The Ollama URL: `base_url`, else `$OLLAMA_HOST`, else the local default.

    A missing port is filled in as the `ollama` client does: 11434 when no scheme is
    given, else the scheme's own (80, 443), so the up-front check asks the same server
    the model will call.
    """
    raw = (base_url or os.environ.get("OLLAMA_HOST") or OLLAMA_DEFAULT_HOST).strip().rstrip("/")
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest, default_port = "http", raw, 11434
    else:
        default_port = 443 if scheme == "https" else 80
    host, slash, path = rest.partition("/")
    if ":" not in host:
        host = f"{host}:{default_port}"
    return f"{scheme}://{host}{slash}{path}".replace("://0.0.0.0", "://127.0.0.1")


def _ollama(name: str, base_url: str | None, check: bool) -> LanguageModelLike:
    from langchain_ollama import ChatOllama

    host = ollama_host(base_url)
    if check:
        import httpx

        try:
            tags = httpx.get(f"{host}/api/tags", timeout=5.0).raise_for_status().json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ModelUnavailableError(
                f"Ollama is not reachable at {host} ({type(exc).__name__}): start it with "
                "`ollama serve`, or point OLLAMA_HOST / --local-base-url at where it runs"
            ) from None
        names = {m.get("name") for m in tags.get("models", [])} | {
            m.get("model") for m in tags.get("models", [])
        }
        if name not in names and f"{name}:latest" not in names:
            raise ModelUnavailableError(
                f"Ollama model {name!r} is not pulled at {host}: run `ollama pull {name}`"
            )
    return ChatOllama(
        model=name,
        base_url=host,
        temperature=0.0,
        num_predict=DEFAULT_MAX_TOKENS,
        logprobs=True,
        top_logprobs=TOP_LOGPROBS,
    )


def _unwrap(model: Any) -> Any:
    while isinstance(model, RunnableBinding):
        model = model.bound
    return model


def model_label(model: LanguageModelLike) -> str:
    """A short name of a model for traces and reports."""
    inner = _unwrap(model)
    for name in ("model_name", "model", "model_id"):
        value = getattr(inner, name, None)
        if isinstance(value, str) and value:
            return f"{type(inner).__name__}:{value}"
    return type(inner).__name__


def supports_prefill(model: LanguageModelLike) -> bool:
    """Whether the backend continues a trailing assistant message instead of answering
    it: llama.cpp and vLLM servers behind ChatOpenAI with a custom base URL, and Ollama.
    Hosted APIs (OpenAI's own, and unknown providers) get re-prompted instead."""
    inner = _unwrap(model)
    # By class name, subclasses included, so that neither integration is imported here.
    kinds = {cls.__name__ for cls in type(inner).__mro__}
    if "ChatOllama" in kinds:
        return True
    if "ChatOpenAI" in kinds:
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
                return with_settings(model, **{name: limit})
    return model


_ChatModel = TypeVar("_ChatModel", bound=BaseChatModel)


def with_settings(model: _ChatModel, **settings: Any) -> _ChatModel:
    """A copy of `model` with `settings` changed, and a cache key of its own.

    langchain-core keeps a model's serialized form, from which a call cache keys the
    model's replies, once it has been used; a `model_copy` of a used model inherits
    it, so the copy's replies would be looked up under the original's key (a reply
    limited to a few tokens and a full one, or two sampling seeds, taken for the same).
    """
    copy = model.model_copy(update=settings)
    copy.__dict__.pop("_serialized", None)
    return copy
