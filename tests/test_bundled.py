"""Joining bundled model parts: verified, idempotent, and a corrupt file refused."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from adaswitch_graph import bundled
from adaswitch_graph.errors import ModelUnavailableError


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bundled.BundledModel:
    parts = []
    for i, content in enumerate([b"GGUF-part-one|", b"part-two|", b"part-three"], start=1):
        part = tmp_path / "pkg" / f"part{i:02d}.bin"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(content)
        parts.append(part)
    whole = b"".join(p.read_bytes() for p in parts)
    model = bundled.BundledModel(
        name="tiny",
        description="test",
        packages=("json",),  # any importable module: part_files is patched below
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )
    monkeypatch.setitem(bundled.BUNDLED, "tiny", model)
    monkeypatch.setattr(bundled.BundledModel, "part_files", lambda self: parts)
    monkeypatch.setenv("ADASWITCH_CACHE", str(tmp_path / "cache"))
    return model


def test_join_verifies_and_is_reused(fake_model: bundled.BundledModel) -> None:
    path = bundled.model_path("tiny")
    assert path.read_bytes() == b"GGUF-part-one|part-two|part-three"
    assert fake_model.ready()
    mtime = path.stat().st_mtime_ns
    assert bundled.model_path("tiny") == path
    assert path.stat().st_mtime_ns == mtime  # not joined again
    assert [p.name for p in path.parent.iterdir() if p.suffix == ".part"] == []


def test_corrupt_parts_are_refused(fake_model: bundled.BundledModel) -> None:
    fake_model.part_files()[1].write_bytes(b"part-TWO|")
    with pytest.raises(ModelUnavailableError, match="corrupt"):
        bundled.model_path("tiny")
    assert not fake_model.cached_path().exists()
    assert list(fake_model.cached_path().parent.glob("*.part")) == []


def test_a_file_changed_after_joining_is_checked_again(fake_model: bundled.BundledModel) -> None:
    path = bundled.model_path("tiny")
    path.write_bytes(b"tampered")
    assert not fake_model.ready()
    assert bundled.model_path("tiny").read_bytes() == b"GGUF-part-one|part-two|part-three"


def test_parts_are_joined_in_numeric_order(tmp_path: Path) -> None:
    names = ["part10.bin", "part2.bin", "part01.bin"]
    assert sorted((tmp_path / n for n in names), key=bundled._part_number) == [
        tmp_path / "part01.bin",
        tmp_path / "part2.bin",
        tmp_path / "part10.bin",
    ]


def test_server_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from adaswitch_graph.embedded import (
        context_per_slot,
        cpu_threads,
        parallel_slots,
        prompt_cache_mib,
    )

    monkeypatch.setenv("ADASWITCH_PARALLEL", "2")
    monkeypatch.setenv("ADASWITCH_THREADS", "1")
    monkeypatch.setenv("ADASWITCH_CTX", "4096")
    assert (parallel_slots(), cpu_threads(), context_per_slot()) == (2, 1, 4096)
    monkeypatch.delenv("ADASWITCH_PARALLEL")
    monkeypatch.delenv("ADASWITCH_CTX")
    assert (parallel_slots(), context_per_slot()) == (4, 2048)
    for bad in ("0", "two"):
        monkeypatch.setenv("ADASWITCH_THREADS", bad)
        with pytest.raises(ValueError, match="ADASWITCH_THREADS must be a positive integer"):
            cpu_threads()
    # The prompt cache may be turned off, but not made negative.
    assert prompt_cache_mib() == 64
    monkeypatch.setenv("ADASWITCH_PROMPT_CACHE_MIB", "0")
    assert prompt_cache_mib() == 0
    monkeypatch.setenv("ADASWITCH_PROMPT_CACHE_MIB", "-1")
    with pytest.raises(ValueError, match="PROMPT_CACHE_MIB must be 0 or a positive integer"):
        prompt_cache_mib()


def test_the_embedded_chat_model_reads_the_prompt_length_and_cached_part_off_every_chunk() -> None:
    from langchain_core.messages import AIMessageChunk
    from pydantic import SecretStr

    from adaswitch_graph.calls import CACHED_PROMPT_TOKENS, PROMPT_TOKENS
    from adaswitch_graph.embedded import EmbeddedChatOpenAI

    model = EmbeddedChatOpenAI(model="m", base_url="http://127.0.0.1:9/v1", api_key=SecretStr("-"))

    def timings(n: int) -> dict[str, int]:
        return {"cache_n": 26, "prompt_n": 8, "predicted_n": n}

    chunks: list[dict[str, Any]] = [  # as llama.cpp streams them with timings_per_token
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]},
        {"choices": [{"index": 0, "delta": {"content": "Hi"}}], "timings": timings(1)},
        {"choices": [{"index": 0, "delta": {"content": "!"}}], "timings": timings(2)},
    ]
    generations = [model._convert_chunk_to_generation_chunk(c, AIMessageChunk, {}) for c in chunks]
    assert all(g is not None for g in generations)
    message = generations[0].message + generations[1].message + generations[2].message  # type: ignore[union-attr]
    assert message.text == "Hi!"
    assert message.response_metadata[PROMPT_TOKENS] == 34
    assert message.response_metadata[CACHED_PROMPT_TOKENS] == 26
