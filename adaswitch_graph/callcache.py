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
from typing import Any

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
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
    return json.dumps(rows)


def _loads(text: str) -> list[Generation]:
    rows = json.loads(text)
    messages = messages_from_dict([row["message"] for row in rows])
    return [
        ChatGeneration(message=message, generation_info=row["info"])
        for message, row in zip(messages, rows, strict=True)
    ]
