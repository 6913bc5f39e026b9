"""The graph as LangGraph's server serves it: `langgraph dev` (see `langgraph.json`).

The models come from the run's `configurable` (`local_model`, `cloud_model`,
`threshold`), else from `$ADASWITCH_LOCAL` / `$ADASWITCH_CLOUD`, else the bundled pair.
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.runnables import RunnableConfig

from adaswitch_graph.embedded import DEFAULT_CLOUD, DEFAULT_LOCAL
from adaswitch_graph.graph import create_adaswitch_agent
from adaswitch_graph.policies import DEFAULT_THRESHOLD, SelfVerifyPolicy


def make_graph(config: RunnableConfig) -> Any:
    """The compiled graph for one run's configuration."""
    settings = config.get("configurable") or {}
    local = settings.get("local_model") or os.environ.get("ADASWITCH_LOCAL", DEFAULT_LOCAL)
    cloud = settings.get("cloud_model") or os.environ.get("ADASWITCH_CLOUD", DEFAULT_CLOUD)
    threshold = float(settings.get("threshold", DEFAULT_THRESHOLD))
    return create_adaswitch_agent(local, cloud, policy=SelfVerifyPolicy(threshold))
