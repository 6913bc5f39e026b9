"""`create_adaswitch_graph`: the AdaSwitch inference loop as a LangGraph `StateGraph`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.tools import BaseTool, tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from adaswitch_graph.budget import Budget
from adaswitch_graph.context import GraphContext
from adaswitch_graph.models import ModelSpec, resolve_model, supports_prefill
from adaswitch_graph.nodes import (
    CLOUD_ASSIST,
    FINALIZE,
    LOCAL_REASON,
    MERGE,
    PREPARE,
    SELF_VERIFY,
    TOOLS,
    build_cloud_assist,
    build_finalize,
    build_local_reason,
    build_prepare,
    build_self_verify,
    build_tools,
    has_actions,
    merge,
)
from adaswitch_graph.policies import (
    Policy,
    SelfVerifyPolicy,
    TokenLevel,
    TokenPolicy,
    takes_over,
)
from adaswitch_graph.prompts import AdaSwitchPrompts
from adaswitch_graph.signals import SAMPLE_FEATURE
from adaswitch_graph.state import AdaSwitchState, Step
from adaswitch_graph.steps import restates
from adaswitch_graph.verifier import JUDGE_FEATURE, Verifier

DEFAULT_SAMPLES = 3
"""Sampled versions of a step where sampling is asked for without a number: with the
draft itself, as many calls as the embedded server has slots."""
DEFAULT_MAX_STEPS = 12
SUPERSTEPS_PER_STEP = 7
"""local_reason, self_verify, a retry of both, cloud_assist, tools, merge."""


class AdaSwitchGraph(StateGraph):  # type: ignore[type-arg]
    """A `StateGraph` whose compiled graph allows the supersteps `max_steps` needs
    (LangGraph's default recursion limit of 25 covers only a few steps). A
    `recursion_limit` given at invoke time still wins."""

    recursion_limit: int = 25

    def compile(self, *args: Any, **kwargs: Any) -> CompiledStateGraph[Any, Any, Any, Any]:
        compiled = (
            super().compile(*args, **kwargs).with_config(recursion_limit=self.recursion_limit)
        )
        # StateGraph.compile builds a CompiledStateGraph; ours only adds the batch fix.
        compiled.__class__ = AdaSwitchCompiledGraph
        return compiled


class AdaSwitchCompiledGraph(CompiledStateGraph):  # type: ignore[type-arg]
    """`batch` and `abatch` fill every input's config with LangChain's default
    recursion limit, which would override the graph's own; here a config that sets
    none gets the graph's."""

    def _own_limit(self, config: Any) -> Any:
        if isinstance(config, list):
            return [self._own_limit(c) for c in config]
        config = dict(config or {})
        config.setdefault("recursion_limit", self.config["recursion_limit"])  # type: ignore[index]
        return config

    def batch(self, inputs: Any, config: Any = None, **kwargs: Any) -> Any:
        return super().batch(inputs, self._own_limit(config), **kwargs)

    async def abatch(self, inputs: Any, config: Any = None, **kwargs: Any) -> Any:
        return await super().abatch(inputs, self._own_limit(config), **kwargs)


def create_adaswitch_graph(
    local_model: ModelSpec,
    cloud_model: ModelSpec,
    *,
    policy: Policy | TokenLevel | None = None,
    budget: Budget | None = None,
    prompts: AdaSwitchPrompts | dict[str, Any] | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    verifier: Verifier | None = None,
    judge: bool = False,
    samples: int = 0,
    prefill: bool | None = None,
    cloud_prefill: bool | None = None,
    state_schema: type[Any] | None = None,
    tools: Sequence[BaseTool | Callable[..., Any]] = (),
) -> AdaSwitchGraph:
    """Build the AdaSwitch graph (uncompiled).

    The local model writes one step at a time; `self_verify` turns the step's signals
    into an error probability; the `policy` accepts the step, sends it to the cloud
    model, or lets the local model retry it once; `merge` appends it; `finalize` states
    the answer.

    Args:
        local_model: the small model (a chat model or an `init_chat_model` spec string).
        cloud_model: the large model, called only for flagged steps.
        policy: decides per step; default `SelfVerifyPolicy()`.
        budget: hard caps on cloud calls and cloud output tokens per run.
        prompts: `AdaSwitchPrompts` or a dict overriding some of its templates.
        max_steps: steps after which the local model is asked for the answer.
        verifier: turns signals into an error probability; default the shipped one.
            One that weighs `p_correct_judge` or `sample_disagreement` needs the option
            that records it (`judge`, `samples`); the graph refuses to build otherwise.
        judge: also ask the local model's yes/no judgement of each step (one more
            short local call per step). The default verifier then is the one fitted
            with it (`Verifier.default(judged=True)`); a verifier passed with it must
            use `p_correct_judge`. Steps from a model that returns no log-probabilities
            are always judged this way.
        samples: also sample each local step this many times (temperature 0.8, one
            seed each, concurrently with the step) and record `sample_disagreement`,
            the share of those versions that miss a number the step computes. The
            default verifier then is the one fitted with it
            (`Verifier.default(sampled=True)`); a verifier passed with it must use
            `sample_disagreement`. Costs k more local calls a step.
        prefill: whether the local backend continues a trailing assistant message;
            detected from the model when None.
        cloud_prefill: the same for the cloud backend; when True the cloud continues
            the solution so far, else it is asked afresh for the step (`prompts.cloud`).
            Either way the default prompts do not show it the local draft.
        state_schema: a state class extending `AdaSwitchState`.
        tools: LangChain tools (or plain functions, made tools) a step may call by
            ending with `Action: name[input]`; the graph then gains a `tools` node, and
            each observation joins the trajectory after the step that asked for it.
    """
    if policy is not None and not isinstance(policy, (Policy, TokenLevel)):
        raise TypeError(
            f"policy must have a decide(view) method (or, to switch inside a step, `k` "
            f"and a handover_at(view) method), got {type(policy).__name__}; use "
            "SelfVerifyPolicy(threshold=...), AlwaysLocal(), AlwaysCloud(), "
            "RandomPolicy(rate), TokenPolicy() or your own"
        )
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 0:
        raise ValueError(f"samples must be an int >= 0 (0: none), got {samples!r}")
    schema = state_schema or AdaSwitchState
    if not (isinstance(schema, type) and issubclass(schema, dict)) or not set(
        AdaSwitchState.__annotations__
    ) <= set(_annotations(schema)):
        raise TypeError("state_schema must be a TypedDict that extends AdaSwitchState")
    if verifier is None:
        verifier = Verifier.default(sampled=samples > 0, judged=judge)
    verifier.check_recorded(
        {f for f, on in ((SAMPLE_FEATURE, samples > 0), (JUDGE_FEATURE, judge)) if on}
    )
    local = resolve_model(local_model)
    cloud = resolve_model(cloud_model)
    prefill = supports_prefill(local) if prefill is None else prefill
    cloud_prefill = supports_prefill(cloud) if cloud_prefill is None else cloud_prefill
    if isinstance(policy, TokenLevel) and not (prefill and cloud_prefill):
        raise ValueError(
            f"{type(policy).__name__} switches models inside a step, so both must continue "
            "the assistant's own message (llama.cpp, vLLM and Ollama do; detected: "
            f"local {prefill}, cloud {cloud_prefill}); pass prefill=True and "
            "cloud_prefill=True if your backends do, or use a step-level policy"
        )
    ctx = GraphContext(
        tools=_tools_by_name(tools),
        local=local,
        cloud=cloud,
        policy=policy or SelfVerifyPolicy(),
        budget=budget or Budget(),
        verifier=verifier,
        prompts=AdaSwitchPrompts.coerce(prompts),
        max_steps=max_steps,
        prefill=prefill,
        cloud_prefill=cloud_prefill,
        judge=judge,
        samples=samples,
    )

    def next_step(state: AdaSwitchState) -> str:
        # A step the policy sends to the cloud whatever its draft says needs no draft;
        # one the budget cannot pay for is drafted, and kept local after self_verify.
        usage = state.get("usage") or {}
        if takes_over(ctx.policy, state["steps"]) and not ctx.budget.exhausted(usage):
            return CLOUD_ASSIST
        return LOCAL_REASON

    def after_local(state: AdaSwitchState) -> str:
        draft = state.get("draft")
        # An empty step means the model had nothing more to say (unless it was stopped
        # at its first token, for the cloud to write it).
        return SELF_VERIFY if draft and (draft["text"] or draft.get("open")) else FINALIZE

    def after_verify(state: AdaSwitchState) -> str:
        draft = state.get("draft")
        decision = draft["decision"] if draft else "accept"
        if decision == "cloud":
            return CLOUD_ASSIST
        # An open draft accepted: the local model was stopped early and goes on.
        if decision == "retry" or (draft and draft.get("open")):
            return LOCAL_REASON
        return after_step(state)

    def after_step(state: AdaSwitchState) -> str:
        return TOOLS if ctx.tools and has_actions(state) else MERGE

    def after_cloud(state: AdaSwitchState) -> str:
        # No draft: the cloud failed on a step it was to write alone; the local model
        # drafts it instead. An open one: the local model goes on with the step.
        draft = state.get("draft")
        return after_step(state) if draft and not draft.get("open") else LOCAL_REASON

    def after_merge(state: AdaSwitchState) -> str:
        steps = state["steps"]
        if steps[-1]["final"] or len(steps) >= ctx.max_steps or looping(steps):
            return FINALIZE
        return next_step(state)

    builder = AdaSwitchGraph(schema)
    builder.recursion_limit = (SUPERSTEPS_PER_STEP + _switch_supersteps(ctx)) * max_steps + 5
    builder.add_node(PREPARE, build_prepare(ctx))
    builder.add_node(LOCAL_REASON, build_local_reason(ctx))
    builder.add_node(SELF_VERIFY, build_self_verify(ctx))
    builder.add_node(CLOUD_ASSIST, build_cloud_assist(ctx))
    builder.add_node(MERGE, merge)
    builder.add_node(FINALIZE, build_finalize(ctx))
    builder.add_edge(START, PREPARE)
    builder.add_conditional_edges(PREPARE, next_step, [LOCAL_REASON, CLOUD_ASSIST])
    builder.add_conditional_edges(LOCAL_REASON, after_local, [SELF_VERIFY, FINALIZE])
    to_merge = [MERGE, TOOLS] if ctx.tools else [MERGE]
    builder.add_conditional_edges(
        SELF_VERIFY, after_verify, [*to_merge, CLOUD_ASSIST, LOCAL_REASON]
    )
    builder.add_conditional_edges(CLOUD_ASSIST, after_cloud, [*to_merge, LOCAL_REASON])
    if ctx.tools:
        builder.add_node(TOOLS, build_tools(ctx))
        builder.add_edge(TOOLS, MERGE)
    builder.add_conditional_edges(MERGE, after_merge, [LOCAL_REASON, CLOUD_ASSIST, FINALIZE])
    builder.add_edge(FINALIZE, END)
    return builder


def create_adaswitch_agent(
    local_model: ModelSpec,
    cloud_model: ModelSpec,
    *,
    checkpointer: Checkpointer = None,
    name: str | None = "adaswitch",
    debug: bool = False,
    **kwargs: Any,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """`create_adaswitch_graph(...)` compiled; keyword arguments go to it."""
    builder = create_adaswitch_graph(local_model, cloud_model, **kwargs)
    return builder.compile(checkpointer=checkpointer, name=name, debug=debug)


def _switch_supersteps(ctx: GraphContext) -> int:
    """Supersteps a step may add by switching models inside it: each switch runs
    self_verify, cloud_assist and local_reason once more."""
    # A token-level policy of one's own that does not say gets TokenPolicy's allowance.
    max_switches = getattr(ctx.token_level, "max_switches", TokenPolicy.max_switches)
    return 3 * max_switches if ctx.token_level is not None else 0


def looping(steps: Sequence[Step]) -> bool:
    """The last step restates an earlier one and stood: a local model would go on
    restating it, a cloud model cycle through the same few steps, until the prompt
    outgrew the model's context; so the run ends here."""
    return restates(steps[-1]["text"], steps[:-1])


def drawing() -> Any:
    """The graph's drawable form (`get_graph()`), built with placeholder models: its
    shape does not depend on the models, so none is started to draw it."""
    from langchain_core.language_models import GenericFakeChatModel

    placeholder = GenericFakeChatModel(messages=iter(()))
    return create_adaswitch_graph(placeholder, placeholder).compile().get_graph()


def _tools_by_name(tools: Sequence[BaseTool | Callable[..., Any]]) -> dict[str, BaseTool]:
    made = [t if isinstance(t, BaseTool) else tool(t) for t in tools]
    names = [t.name for t in made]
    if len(set(names)) != len(names):
        raise ValueError(f"two tools share a name in {names}; tool names must be unique")
    return {t.name: t for t in made}


def _annotations(cls: type) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        merged.update(getattr(base, "__annotations__", {}))
    return merged
