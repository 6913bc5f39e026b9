"""The embedded backend: bundled models served in-process by llama.cpp (`xllamacpp`).

Each bundled model gets one OpenAI-compatible server on a free loopback port, started
on first use, shared by every chat model of the process that names it, and stopped
when the process exits. Servers have several parallel slots, so concurrent runs batch.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

from langchain_core.outputs import ChatGenerationChunk
from langchain_openai import ChatOpenAI

from adaswitch_graph.bundled import INSTALL_HINT, model_path
from adaswitch_graph.calls import CACHED_PROMPT_TOKENS, PROMPT_TOKENS
from adaswitch_graph.errors import ModelUnavailableError
from adaswitch_graph.models import DEFAULT_MAX_TOKENS, TOP_LOGPROBS

DEFAULT_LOCAL = "embedded:qwen2.5-coder-0.5b"
DEFAULT_CLOUD = "embedded:qwen2.5-coder-1.5b"
CTX_PER_SLOT = 2048
CTX_ENV = "ADASWITCH_CTX"
PROMPT_CACHE_MIB = 64


@dataclass
class EmbeddedServer:
    name: str
    url: str
    """Base URL of the OpenAI-compatible API (ends in /v1)."""
    handle: Any


_servers: dict[str, EmbeddedServer] = {}
_lock = threading.Lock()


def parallel_slots() -> int:
    """`$ADASWITCH_PARALLEL`, default 4: the measured sweet spot on 2 cores."""
    return _int_env("ADASWITCH_PARALLEL", 4)


def cpu_threads() -> int:
    """`$ADASWITCH_THREADS`, default every core: the threads each server computes on."""
    return _int_env("ADASWITCH_THREADS", os.cpu_count() or 2)


def context_per_slot() -> int:
    """`$ADASWITCH_CTX`, default 2048: the tokens a slot holds (prompt and reply;
    llama.cpp takes at least 256). A longer request fails with the server's "exceeds
    the available context size"; more costs memory, as llama.cpp sets aside each slot's
    cache up front."""
    return _int_env(CTX_ENV, CTX_PER_SLOT)


def prompt_cache_mib() -> int:
    """`$ADASWITCH_PROMPT_CACHE_MIB`, default 64: the MiB of prompt states each server
    keeps in RAM, so that a run whose slot another run took resumes without reading its
    prompt again; 0 keeps none. Each MiB is resident once filled, and a bench fills it."""
    return _int_env("ADASWITCH_PROMPT_CACHE_MIB", PROMPT_CACHE_MIB, least=0)


def _int_env(name: str, default: int, least: int = 1) -> int:
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = least - 1
    if value < least:
        kind = "a positive integer" if least == 1 else "0 or a positive integer"
        raise ValueError(f"{name} must be {kind}, got {raw!r}")
    return value


def embedded_server(name: str) -> EmbeddedServer:
    """The running server of a bundled model, started on first use."""
    with _lock:
        if name in _servers:
            return _servers[name]
        try:
            import xllamacpp
        except ImportError:
            raise ModelUnavailableError(
                f"the embedded backend needs xllamacpp and the bundled models; {INSTALL_HINT}"
            ) from None
        path = model_path(name)
        n_parallel = parallel_slots()
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.model_alias = name
        params.n_parallel = n_parallel
        params.n_ctx = context_per_slot() * n_parallel
        params.cpuparams.n_threads = cpu_threads()
        # llama.cpp keeps prompt states in RAM for reuse across slots, up to 8 GiB by
        # default; a bench's many prompts grew the process by ~0.8 GB.
        params.cache_ram_mib = prompt_cache_mib()
        params.verbosity = -1  # llama.cpp logs every request to stderr otherwise
        params.endpoint_metrics = True
        params.port = _free_port()
        handle = xllamacpp.Server(params)
        server = EmbeddedServer(name, f"http://127.0.0.1:{params.port}/v1", handle)
        _servers[name] = server
        return server


class EmbeddedChatOpenAI(ChatOpenAI):
    """`ChatOpenAI` that also reads the prompt's token count, and how many of them came
    from the prompt cache, off each streamed chunk (llama.cpp's per-token timings), so
    that a stream closed before its usage report still counts its input tokens."""

    def _convert_chunk_to_generation_chunk(
        self,
        chunk: dict[str, Any],
        default_chunk_class: type,
        base_generation_info: dict[str, Any] | None,
    ) -> ChatGenerationChunk | None:
        generation = super()._convert_chunk_to_generation_chunk(
            chunk, default_chunk_class, base_generation_info
        )
        timings = chunk.get("timings")
        if generation is not None and timings:
            # The same count on every chunk, which merging keeps once.
            cached = timings.get("cache_n", 0)
            metadata = generation.message.response_metadata
            metadata[PROMPT_TOKENS] = cached + timings.get("prompt_n", 0)
            metadata[CACHED_PROMPT_TOKENS] = cached
        return generation


def embedded_chat_model(name: str, **overrides: Any) -> ChatOpenAI:
    """A `ChatOpenAI` talking to the bundled model's embedded server: greedy, with
    per-token log-probabilities and usage."""
    server = embedded_server(name)
    settings: dict[str, Any] = {
        "model": name,
        "base_url": server.url,
        "api_key": "embedded",
        "temperature": 0.0,
        "max_tokens": DEFAULT_MAX_TOKENS,
        "logprobs": True,
        "top_logprobs": TOP_LOGPROBS,
        "stream_usage": True,
        "max_retries": 1,
        **overrides,
    }
    settings["extra_body"] = {"timings_per_token": True, **(settings.get("extra_body") or {})}
    return EmbeddedChatOpenAI(**settings)


@atexit.register
def stop_embedded_servers() -> None:
    """Stop every embedded server (dropping the handle stops it)."""
    with _lock:
        _servers.clear()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
