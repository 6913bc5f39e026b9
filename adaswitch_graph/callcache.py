"""A persistent cache of chat-model calls, so benchmark systems share the work they share.

Systems that differ only in when they escalate (a threshold sweep, local alone beside
AdaSwitch) send the same prompts up to the first step where a decision differs;
with greedy decoding the replies are the same too, so each is computed once. A cached
reply carries the usage it had when it was made, so every system is still charged for
every call it makes. Kept in SQLite beside the results, it also lets an interrupted
benchmark resume mid-item.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import message_to_dict, messages_from_dict
from langchain_core.outputs import ChatGeneration, Generation

_LOOPBACK_PORT = re.compile(r"(https?://(?:127\.0\.0\.1|localhost)):\d+")

hits: ContextVar[list[int] | None] = ContextVar("adaswitch_cache_hits", default=None)
"""A counter the running task sets to learn how many of its calls were cached."""


class CallCache(BaseCache):
    """Chat generations keyed by prompt and model settings, in a SQLite file
    (`":memory:"` for none)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS calls "
                "(prompt TEXT, llm TEXT, reply TEXT, PRIMARY KEY (prompt, llm))"
            )

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        with self._lock:
            row = self._db.execute(
                "SELECT reply FROM calls WHERE prompt = ? AND llm = ?",
                (prompt, _model_key(llm_string)),
            ).fetchone()
        if row is None:
            return None
        counter = hits.get()
        if counter is not None:
            counter[0] += 1
        return _loads(row[0])

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO calls VALUES (?, ?, ?)",
                (prompt, _model_key(llm_string), _dumps(return_val)),
            )

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        # In the caller's task, so the hit is counted in its context.
        return self.lookup(prompt, llm_string)

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        self.update(prompt, llm_string, return_val)

    def clear(self, **kwargs: Any) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM calls")

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


_Model = TypeVar("_Model", bound=BaseChatModel)

_NOT_SETTINGS = {"cache", "callbacks", "callback_manager", "verbose", "tags", "metadata"}
"""Fields of a chat model that do not change its replies."""

_keyed: dict[type[BaseChatModel], type[BaseChatModel]] = {}


def keyed_by_settings(model: _Model) -> _Model:
    """A copy of `model` that a call cache keys by its class and settings.

    langchain-core keys the calls of a model that is not serializable (ChatOllama) by
    its class alone: two of them, a local and a cloud model, or one with an output
    limit and one without, would be served each other's replies. The copy is of a
    subclass whose cache key holds every field that can change a reply; its copies
    (an output limit, a sampling seed) keep the subclass, so are keyed apart too.
    """
    cls = type(model)
    if cls in _keyed.values():
        return model
    if cls not in _keyed:
        _keyed[cls] = _keyed_class(cls)
    copy = model.model_copy()
    # The same fields and private state (a client made by a validator): only the
    # class, so its cache key, changes.
    object.__setattr__(copy, "__class__", _keyed[cls])
    return copy


def _keyed_class(cls: type[BaseChatModel]) -> type[BaseChatModel]:
    name = f"{cls.__module__}.{cls.__qualname__}"

    def _get_llm_string(self: BaseChatModel, stop: list[str] | None = None, **kwargs: Any) -> str:
        settings = self.model_dump(exclude=_NOT_SETTINGS)
        key = {"class": name, "settings": settings, "stop": stop, "call": kwargs}
        return json.dumps(key, sort_keys=True, default=repr)

    return type(cls.__name__, (cls,), {"_get_llm_string": _get_llm_string})


def _model_key(llm_string: str) -> str:
    # An embedded server listens on a new loopback port each run; the model name and
    # settings, not the port, say which replies are the same.
    return _LOOPBACK_PORT.sub(r"\1", llm_string)


def _dumps(generations: Sequence[Generation]) -> str:
    rows = []
    for generation in generations:
        if not isinstance(generation, ChatGeneration):
            raise TypeError("CallCache holds chat generations only")
        rows.append(
            {"message": message_to_dict(generation.message), "info": generation.generation_info}
        )
    return json.dumps(rows, default=_plain)


def _plain(value: Any) -> Any:
    # A client's own types in a reply's metadata (Ollama's `Logprob`s) are pydantic
    # models; their readers take the dicts they dump to as well.
    dump = getattr(value, "model_dump", None)
    if not callable(dump):
        raise TypeError(f"a {type(value).__name__} in a reply cannot be cached")
    return dump()


def _loads(text: str) -> list[Generation]:
    rows = json.loads(text)
    messages = messages_from_dict([row["message"] for row in rows])
    return [
        ChatGeneration(message=message, generation_info=row["info"])
        for message, row in zip(messages, rows, strict=True)
    ]
