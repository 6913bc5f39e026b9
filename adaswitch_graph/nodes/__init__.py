"""The graph's nodes, one a module. Node names are constants, as they appear in
`get_graph()`."""

from adaswitch_graph.nodes.cloud_assist import CLOUD_ASSIST, build_cloud_assist
from adaswitch_graph.nodes.finalize import FINALIZE, build_finalize
from adaswitch_graph.nodes.local_reason import LOCAL_REASON, build_local_reason
from adaswitch_graph.nodes.merge import MERGE, merge
from adaswitch_graph.nodes.prepare import PREPARE, build_prepare
from adaswitch_graph.nodes.self_verify import SELF_VERIFY, build_self_verify
from adaswitch_graph.nodes.tools import TOOLS, build_tools, has_actions

__all__ = [
    "CLOUD_ASSIST",
    "FINALIZE",
    "LOCAL_REASON",
    "MERGE",
    "PREPARE",
    "SELF_VERIFY",
    "TOOLS",
    "build_cloud_assist",
    "build_finalize",
    "build_local_reason",
    "build_prepare",
    "build_self_verify",
    "build_tools",
    "has_actions",
    "merge",
]
