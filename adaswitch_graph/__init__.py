"""Local/cloud collaborative reasoning for LangGraph.

A small local model reasons step by step, checks each of its own steps, and hands only
the doubtful ones to a large cloud model.
"""

from adaswitch_graph.budget import Budget
from adaswitch_graph.chat_model import AdaSwitchChatModel
from adaswitch_graph.graph import create_adaswitch_agent, create_adaswitch_graph
from adaswitch_graph.londi import LondiPolicy
from adaswitch_graph.policies import (
    AlwaysCloud,
    AlwaysLocal,
    Policy,
    RandomPolicy,
    RandomTokenPolicy,
    SelfVerifyPolicy,
    StepView,
    TokenLevel,
    TokenPolicy,
)
from adaswitch_graph.prompts import AdaSwitchPrompts
from adaswitch_graph.state import AdaSwitchState, Step
from adaswitch_graph.trace import TraceWriter, read_trace, replay
from adaswitch_graph.verifier import Verifier

__all__ = [
    "AdaSwitchChatModel",
    "AdaSwitchPrompts",
    "AdaSwitchState",
    "AlwaysCloud",
    "AlwaysLocal",
    "Budget",
    "LondiPolicy",
    "Policy",
    "RandomPolicy",
    "RandomTokenPolicy",
    "SelfVerifyPolicy",
    "Step",
    "StepView",
    "TokenLevel",
    "TokenPolicy",
    "TraceWriter",
    "Verifier",
    "create_adaswitch_agent",
    "create_adaswitch_graph",
    "read_trace",
    "replay",
]
