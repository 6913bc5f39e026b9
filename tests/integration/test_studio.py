"""`langgraph dev` serves the graph named in langgraph.json, and a run through its API
returns the trajectory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_langgraph_dev_serves_the_graph(tmp_path: Path) -> None:
    beside = Path(sys.executable).parent / "langgraph"
    cli = str(beside) if beside.exists() else shutil.which("langgraph")
    if cli is None:
        pytest.fail("langgraph-cli is not installed: pip install -e '.[embedded,dev]'")
    port = free_port()
    env = {
        **os.environ,
        "ADASWITCH_LOCAL": "embedded:smollm2-135m",
        "ADASWITCH_CLOUD": "embedded:smollm2-135m",
    }
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [cli, "dev", "--no-browser", "--no-reload", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "langgraph dev did not start"
            time.sleep(1)
        run = {
            "assistant_id": "adaswitch",
            "input": {"messages": [{"role": "user", "content": "What is 2 + 3?"}]},
            "config": {"configurable": {"threshold": 0.99}},
        }
        done = httpx.post(f"{base}/runs/wait", json=run, timeout=600)
        assert done.status_code == 200, done.text
        state = done.json()
        assert state["question"] == "What is 2 + 3?"
        assert state["steps"] and state["steps"][0]["author"] == "local"
        assert state["final_answer"] is not None
        assert state["messages"][-1]["type"] == "ai"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        shutil.rmtree(ROOT / ".langgraph_api", ignore_errors=True)
