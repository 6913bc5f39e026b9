"""`adaswitch bench`: several systems on the same items, one JSONL record per item.

Systems (`parse_system`):

- `local`, `cloud`: one model alone, with the graph's own step-by-step prompt;
- any policy spec (`selfverify:0.3`, `selfverify-retry:0.3`, `selfverify-handover:0.6`,
  `random:0.2`): AdaSwitch; `token:0.7:8`: the token-level switch (`TokenPolicy`),
  `token-confirm:0.7:8` the same with `confirm=True`;
- `reprompted-` before a policy spec: the same, with the cloud asked afresh for the
  flagged step (as a hosted API is asked) instead of continuing the solution (as the
  embedded server, vLLM and Ollama do);
- `random`: `RandomPolicy` at the rate of steps the matched AdaSwitch system sent to
  the cloud, computed from its records (matched to a token-level system:
  `RandomTokenPolicy` at its switches per local output token, with its `k` and
  `confirm`);
- `random-spend`: the same random switching at the rate that spends the matched
  system's cloud output tokens: `random`'s rate scaled by the ratio of the two systems'
  cloud output tokens on the items both finished (the same rate need not spend the
  same: a confirming switch drawn at random mostly lands where the cloud agrees, and
  confirms in a token);
- `cascade`: the query-level cascade (local answers the whole question; the least
  confident questions, by the minimum token log-probability of the local solution, go
  to the cloud whole) escalating until it has spent the matched system's cloud output
  tokens; `oracle`: the same cascade escalating exactly the questions local got wrong.
  Both are assembled from the `local` and `cloud` records: with greedy decoding, running
  them would repeat the same calls;
- `oracle-steps`: AdaSwitch with the answer key as its policy (`ReferencePolicy`): the
  cloud takes exactly the steps that compute a number the item's worked solution does
  not have (GSM8K, SVAMP). A ceiling: how far a perfect step signal would go with this pair.

Records are appended as items finish; a re-run with the same output file skips every
(system, item) already recorded without an error. Model calls go through a `CallCache`
beside the output, so systems that share a prefix of calls (a threshold sweep) compute
it once and an interrupted item resumes from its last finished call (serializable
models only: the cache keys a call by the model's serialized settings).
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from langchain_core.language_models import BaseChatModel, LanguageModelLike
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from adaswitch_graph.callcache import CallCache, hits, keyed_by_settings
from adaswitch_graph.datasets import Item
from adaswitch_graph.errors import AdaSwitchError
from adaswitch_graph.graph import DEFAULT_MAX_STEPS, DEFAULT_SAMPLES, create_adaswitch_graph
from adaswitch_graph.models import resolve_model, with_settings
from adaswitch_graph.policies import (
    AlwaysLocal,
    Policy,
    RandomPolicy,
    RandomTokenPolicy,
    SelfVerifyPolicy,
    StepView,
    TokenLevel,
    TokenPolicy,
    describe_policy,
    parse_policy,
)
from adaswitch_graph.scoring import score, step_is_right
from adaswitch_graph.state import USAGE_FIELDS, Decision, Usage
from adaswitch_graph.verifier import Verifier

SystemKind = Literal[
    "local", "cloud", "adaswitch", "random", "random-spend", "oracle-steps", "cascade", "oracle"
]
DERIVED: tuple[SystemKind, ...] = ("cascade", "oracle")
RUN_ORDER: tuple[SystemKind, ...] = (
    "local",
    "cloud",
    "adaswitch",
    "random",
    "random-spend",
    "oracle-steps",
    *DERIVED,
)
PLAIN_SYSTEMS = tuple(kind for kind in get_args(SystemKind) if kind != "adaswitch")
"""The systems named by their kind alone; every other spec is a policy."""
SAMPLED = "sampled-"
JUDGED = "judged-"
REPROMPTED = "reprompted-"
Progress = Callable[[str, int, int], None]
"""Called with (system, items done, items in all) as items finish."""


@dataclass(frozen=True)
class System:
    name: str
    kind: SystemKind
    policy: Policy | None = None
    sweep: str | None = None
    """The sweep it belongs to, drawn as one line on the frontier plot."""
    sampled: bool = False
    """Its local steps are sampled `BenchSetup.samples` times (`sampled-` specs)."""
    judged: bool = False
    """The local model also judges each of its steps yes/no (`judged-` specs)."""
    reprompted: bool = False
    """The cloud is asked afresh for a flagged step instead of continuing the solution
    (`reprompted-` specs): what a cloud that cannot continue a message is asked."""


def parse_system(spec: str, sweep: str | None = None) -> System:
    """A system from its spec: `local`, `cloud`, `random`, `random-spend`, `cascade`,
    `oracle`, `oracle-steps`, or a policy spec (`selfverify:0.3`, `selfverify-retry:0.3`,
    `selfverify-handover:0.6`, `random:0.2`, `londi`, `londi:PATH`); `sampled-` before a
    policy spec samples every local step (`sampled-selfverify:0.5`, or `sampled-local`
    for the local model alone), `judged-` has the local model judge each of its steps
    (`judged-local`), and `reprompted-` has the cloud asked afresh for the step rather
    than continue the solution (`reprompted-selfverify:0.44`); they combine
    (`judged-sampled-local`)."""
    name = spec.strip().lower()
    if name in PLAIN_SYSTEMS:
        return System(name, name)  # type: ignore[arg-type]
    # The policy spec keeps its case: it may end in a file's path (londi:PATH).
    policy, options = spec.strip(), set[str]()
    prefixes = (SAMPLED, JUDGED, REPROMPTED)
    while prefix := next((p for p in prefixes if policy.lower().startswith(p)), None):
        policy, options = policy[len(prefix) :], options | {prefix}
    try:
        parsed = parse_policy(policy)
    except ValueError as exc:
        if not str(exc).startswith("unknown"):
            raise
        raise ValueError(
            f"{exc}; or a system of the bench: {', '.join(PLAIN_SYSTEMS)}; a policy may "
            f"follow {', '.join(prefixes)}"
        ) from None
    return System(
        name,
        "adaswitch",
        parsed,
        sweep,
        sampled=SAMPLED in options,
        judged=JUDGED in options,
        reprompted=REPROMPTED in options,
    )


def parse_sweep(spec: str) -> list[System]:
    """`selfverify:0.1,0.2,0.3` → one AdaSwitch system per threshold, as one sweep;
    `selfverify:0.3,0.4:300` gives each the same `max_question_chars`, and
    `token:0.5,0.7:8` each token-level system the same `k` (and `token:0.5,0.7:8:16` the
    same `max_switches`)."""
    policy, sep, values = spec.strip().lower().partition(":")
    values, _, chars = values.partition(":")
    chars = chars.strip()
    thresholds = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not thresholds:
        raise ValueError(
            f"bad sweep {spec!r}; write it as POLICY:T1,T2,...[:MAX_QUESTION_CHARS or :K] "
            "e.g. selfverify:0.2,0.4"
        )
    gate = f":{chars}" if chars else ""
    setting = f"questions <= {chars} chars"
    if policy.startswith("token"):
        k, _, most = chars.partition(":")
        setting = f"k={k}, at most {most} switches a step" if most else f"k={k}"
    sweep = f"{policy}, {setting}" if chars else policy
    return [parse_system(f"{policy}:{t}{gate}", sweep=sweep) for t in thresholds]


@dataclass(frozen=True)
class BenchSetup:
    local: str | LanguageModelLike
    cloud: str | LanguageModelLike
    concurrency: int = 4
    max_steps: int = DEFAULT_MAX_STEPS
    match: str | None = None
    """The AdaSwitch system whose spend `random`, `random-spend` and `cascade` match
    (default: the first AdaSwitch system)."""
    reuse: bool = True
    """Share identical model calls between systems through the call cache."""
    seed: int = 0
    verifier: Verifier | None = None
    """The verifier of the AdaSwitch systems (default: the shipped one for each)."""
    samples: int = DEFAULT_SAMPLES
    """Sampled versions of each local step for `sampled-` systems."""
    model_names: tuple[str | None, str | None] | None = None
    """The (local, cloud) model specs each run records, for a summary to price them
    (default: `local` and `cloud` where they are specs, not model objects)."""
    prefill: bool | None = None
    """Whether both backends continue the assistant's own message (detected from the
    models when None); token-level systems need it."""
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """USD per million (input, output) tokens by model spec, over the built-in table:
    each run records them, and a later summary of its results prices with them."""


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of a results file, the last one of each (system, item) winning; a
    line cut short by an interrupted write is skipped. Raises `AdaSwitchError` at a
    record that is not a bench's (a trace, another program's JSONL)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    meta: list[dict[str, Any]] = []
    file = Path(path)
    if not file.exists():
        return []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("meta"):
            meta.append(record)
        elif isinstance(record, dict) and {"system", "item"} <= record.keys():
            latest[(record["system"], record["item"])] = record
        else:
            raise AdaSwitchError(
                f"{file} line {number} is not a bench record (it has no system and item): "
                "give the results file of adaswitch bench --out"
            )
    return [*latest.values(), *meta]


def item_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if not r.get("meta")]


def records_of(records: Iterable[dict[str, Any]], items: Iterable[Item]) -> list[dict[str, Any]]:
    """The records of a run cut to `items`: their item records and every run record."""
    wanted = {item.id for item in items}
    return [r for r in records if r.get("meta") or r["item"] in wanted]


def of_systems(records: Iterable[dict[str, Any]], names: Iterable[str]) -> list[dict[str, Any]]:
    """The records of a run cut to the systems `names` and local and cloud alone (the
    references of the gap and the token share), with every run record."""
    wanted = {*names, "local", "cloud"}
    return [r for r in records if r.get("meta") or r["system"] in wanted]


def run_bench(
    items: Sequence[Item],
    systems: Sequence[System],
    out: str | Path,
    setup: BenchSetup,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Run `systems` on `items`, appending to `out`; returns all records in `out`."""
    return asyncio.run(arun_bench(items, systems, out, setup, progress))


async def arun_bench(
    items: Sequence[Item],
    systems: Sequence[System],
    out: str | Path,
    setup: BenchSetup,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """`run_bench`, awaited."""
    _check_systems(systems, setup, items)
    if setup.concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {setup.concurrency}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cache = CallCache(out.with_suffix(".calls.sqlite")) if setup.reuse else None
    local = _with_cache(resolve_model(setup.local), cache)
    cloud = _with_cache(resolve_model(setup.cloud), cache)
    # random needs the matched system's records, random-spend random's as well, and the
    # derived ones everything else.
    ordered = sorted(systems, key=lambda s: RUN_ORDER.index(s.kind))
    try:
        with out.open("a", encoding="utf-8") as sink:
            if _ends_mid_line(out):
                sink.write("\n")  # an interrupted write left half a record: end it there
            for system in ordered:
                if system.kind in DERIVED:
                    continue
                policy = system.policy
                if system.kind in ("random", "random-spend"):
                    policy = _random_like(systems, setup, out, items, system.kind)
                if system.kind == "oracle-steps":
                    policy = ReferencePolicy(items)
                await _run_system(system, policy, items, local, cloud, setup, sink, progress)
            for system in ordered:
                if system.kind in DERIVED:
                    _write_derived(system, out, items, _matched(systems, setup), sink)
    finally:
        if cache is not None:
            cache.close()
    return read_records(out)


def _ends_mid_line(path: Path) -> bool:
    with path.open("rb") as file:
        if file.seek(0, 2) == 0:
            return False
        file.seek(-1, 2)
        return file.read(1) != b"\n"


def _check_systems(systems: Sequence[System], setup: BenchSetup, items: Sequence[Item]) -> None:
    if not systems:
        raise ValueError("no systems to run; e.g. --systems local,cloud,selfverify:0.3")
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise ValueError(f"a system is listed twice in {names}")
    kinds = {s.kind for s in systems}
    needs_match = kinds & {"random", "random-spend", "cascade"}
    if needs_match and not any(s.kind == "adaswitch" for s in systems):
        raise ValueError(
            f"{sorted(needs_match)} match the spend of an AdaSwitch system; "
            "list one too, e.g. selfverify:0.3"
        )
    if "random-spend" in kinds and "random" not in kinds:
        raise ValueError("random-spend scales the rate of random by its spend; list random too")
    if kinds & set(DERIVED) and not {"local", "cloud"} <= kinds:
        raise ValueError("cascade and oracle are built from the local and cloud runs; list both")
    if "oracle-steps" in kinds and not any(item.solution for item in items):
        raise ValueError(
            "oracle-steps reads the items' worked solutions, and these items have none "
            "(GSM8K's and SVAMP's have them)"
        )
    if setup.match is not None and setup.match not in names:
        raise ValueError(f"--match {setup.match!r} is not one of the systems {names}")


class ReferencePolicy:
    """The step-level oracle: the cloud takes exactly the steps that compute a number
    the item's worked solution does not have (`scoring.step_is_right`). It reads the
    answer key, so it only measures how far a perfect step signal would go."""

    def __init__(self, items: Sequence[Item]) -> None:
        self._by_question = {item.question.strip(): item for item in items}

    def decide(self, view: StepView) -> Decision:
        item = self._by_question.get(view.question.strip())
        wrong = item is not None and step_is_right(view.step["text"], item) is False
        return "cloud" if wrong else "accept"


def _matched(systems: Sequence[System], setup: BenchSetup) -> str:
    if setup.match is not None:
        return setup.match
    return next(s.name for s in systems if s.kind == "adaswitch")


def _with_cache(model: LanguageModelLike, cache: CallCache | None) -> LanguageModelLike:
    if cache is None or not isinstance(model, BaseChatModel):
        return model
    if not model.is_lc_serializable():
        model = keyed_by_settings(model)
    return with_settings(model, cache=cache)


async def _run_system(
    system: System,
    policy: Policy | None,
    items: Sequence[Item],
    local: LanguageModelLike,
    cloud: LanguageModelLike,
    setup: BenchSetup,
    sink: Any,
    progress: Progress | None,
) -> None:
    done_before = {
        r["item"]
        for r in item_records(read_records(sink.name))
        if r["system"] == system.name and not r.get("error")
    }
    todo = [item for item in items if item.id not in done_before]
    if system.kind == "cloud":
        # The cloud model alone: it writes every step, with the local model's prompt.
        graph = create_adaswitch_graph(
            cloud, cloud, policy=AlwaysLocal(), max_steps=setup.max_steps, prefill=setup.prefill
        )
    else:
        graph = create_adaswitch_graph(
            local,
            cloud,
            policy=policy or AlwaysLocal(),
            max_steps=setup.max_steps,
            # The local baseline decides nothing, so it needs none of a verifier's signals.
            verifier=setup.verifier if system.kind == "adaswitch" else None,
            samples=setup.samples if system.sampled else 0,
            judge=system.judged,
            prefill=setup.prefill,
            cloud_prefill=False if system.reprompted else setup.prefill,
        )
    # The checkpoints keep what a run had done when it failed: its steps and its usage
    # (the cloud calls it made) still reach the record.
    compiled = graph.compile(checkpointer=InMemorySaver())
    done = len(items) - len(todo)
    if progress:
        progress(system.name, done, len(items))
    if not todo:
        return
    slots = asyncio.Semaphore(setup.concurrency)
    started = last_finished = time.perf_counter()

    async def one(item: Item) -> None:
        nonlocal done, last_finished
        async with slots:
            record = await _run_item(compiled, system, policy, item)
        sink.write(json.dumps(record) + "\n")
        sink.flush()
        done += 1
        last_finished = time.perf_counter()
        if progress:
            progress(system.name, done, len(items))

    try:
        await asyncio.gather(*(one(item) for item in todo))
    finally:
        # A run stopped midway (Ctrl-C, a cancelled task) records its time and memory
        # too; the items it had not finished are run again on resume, so its time ends
        # with the last item it finished: the time spent on the others is spent again.
        finished = done - (len(items) - len(todo))
        ended = time.perf_counter() if finished == len(todo) else last_finished
        _write_run_record(system, setup, sink, finished, len(todo), ended - started)


def _write_run_record(
    system: System, setup: BenchSetup, sink: Any, finished: int, todo: int, elapsed: float
) -> None:
    names = setup.model_names or tuple(
        spec if isinstance(spec, str) else None for spec in (setup.local, setup.cloud)
    )
    meta: dict[str, Any] = {
        "meta": True,
        "system": system.name,
        "items_run": finished,
        "elapsed_s": round(elapsed, 3),
        "concurrency": setup.concurrency,
        "peak_rss_mb": peak_rss_mb(),
        # The summary prices the models by name (`adaswitch trace view` reads them here).
        "local": names[0],
        "cloud": names[1],
    }
    if finished < todo:
        meta["interrupted"] = True
    if setup.prices:
        meta["prices"] = {model: list(price) for model, price in setup.prices.items()}
    sink.write(json.dumps(meta) + "\n")
    sink.flush()


async def _run_item(
    compiled: Any, system: System, policy: Policy | None, item: Item
) -> dict[str, Any]:
    counter = [0]
    hits.set(counter)
    started = time.perf_counter()
    record: dict[str, Any] = {
        "system": system.name,
        "kind": system.kind,
        "sweep": system.sweep,
        "item": item.id,
        "question": item.question,
        "gold": item.answer,
    }
    if policy is not None:
        record["policy"] = describe_policy(policy)
    if isinstance(policy, RandomPolicy | RandomTokenPolicy):
        record["rate"] = policy.rate
    if isinstance(policy, SelfVerifyPolicy):
        record["threshold"] = policy.threshold
    if isinstance(policy, TokenPolicy):
        record.update(tau=policy.tau, k=policy.k)
    config: RunnableConfig = {"configurable": {"thread_id": f"{system.name}\x00{item.id}"}}
    try:
        result = await compiled.ainvoke({"messages": [("user", item.question)]}, config)
    except Exception as exc:  # one bad item must not end the benchmark
        last = (await compiled.aget_state(config)).values
        record.update(error=f"{type(exc).__name__}: {exc}", correct=False, score=0.0)
        record.update(_outcome(last, system.kind), answer=None)
    else:
        credit = score(item, result["final_answer"])
        record.update(_outcome(result, system.kind), answer=result["final_answer"])
        record.update(score=credit, correct=credit >= 1.0, error=None)
    finally:
        await compiled.checkpointer.adelete_thread(config["configurable"]["thread_id"])
    record.update(wall_s=round(time.perf_counter() - started, 3), cached_calls=counter[0])
    return record


def _outcome(state: dict[str, Any], kind: SystemKind) -> dict[str, Any]:
    """The steps and usage of a run's (last) state."""
    steps = state.get("steps") or []
    return {
        "steps": len(steps),
        "trajectory": [_step_summary(s) for s in steps],
        **_usage_fields(state.get("usage") or {}, kind),
    }


def _step_summary(step: Any) -> dict[str, Any]:
    return {
        "index": step["index"],
        "author": step["author"],
        "text": step["text"],
        "draft": step["draft"],
        "signals": step["signals"],
        "error_probability": step["error_probability"],
        "flagged": step["flagged"],
        "decision": step["decision"],
        "retried": step["retried"],
        **({"spans": step["spans"]} if "spans" in step else {}),
    }


def _usage_fields(usage: Usage, kind: SystemKind) -> dict[str, int]:
    roles = {"local": usage.get("local"), "cloud": usage.get("cloud")}
    if kind == "cloud":  # the cloud model ran in the local role
        roles = {"local": None, "cloud": usage.get("local")}
    fields: dict[str, int] = {}
    for role, counts in roles.items():
        for name in USAGE_FIELDS:
            value: Any = counts.get(name, 0) if counts else 0
            fields[f"{role}_{name}"] = int(value)
    return fields


def _random_like(
    systems: Sequence[System],
    setup: BenchSetup,
    out: Path,
    items: Sequence[Item],
    kind: SystemKind = "random",
) -> Policy:
    """Random switching at the rate the matched system switched: per step
    (`RandomPolicy`), or, against a token-level policy, per local token with the same
    `k` (`RandomTokenPolicy`); for `random-spend`, at that rate scaled to the matched
    system's cloud output tokens."""
    name = _matched(systems, setup)
    matched = next(s.policy for s in systems if s.name == name)
    done = item_records(records_of(read_records(out), items))
    per = "local_output_tokens" if isinstance(matched, TokenLevel) else "steps"
    rate = _cloud_rate(done, name, per)
    if kind == "random-spend":
        rate = min(1.0, rate * _spend_ratio(done, name))
    if isinstance(matched, TokenLevel):
        max_switches = getattr(matched, "max_switches", RandomTokenPolicy.max_switches)
        confirm = getattr(matched, "confirm", False)
        return RandomTokenPolicy(rate, matched.k, max_switches, setup.seed, confirm)
    return RandomPolicy(rate, setup.seed)


def _spend_ratio(records: Iterable[dict[str, Any]], matched: str) -> float:
    """The matched system's cloud output tokens over `random`'s, on the items both
    finished without an error."""
    spent: dict[str, dict[str, int]] = {matched: {}, "random": {}}
    for r in records:
        if r["system"] in spent and not r.get("error"):
            spent[r["system"]][r["item"]] = r["cloud_output_tokens"]
    both = spent[matched].keys() & spent["random"].keys()
    theirs = sum(spent["random"][i] for i in both)
    if not theirs:
        raise AdaSwitchError(
            f"random-spend scales random's rate by its cloud output tokens, and random has "
            f"none on items {matched!r} also finished; run more items"
        )
    return sum(spent[matched][i] for i in both) / theirs


def _cloud_rate(records: Iterable[dict[str, Any]], matched: str, per: str) -> float:
    """The matched system's cloud calls per draft step, or per local output token."""
    records = [r for r in records if r["system"] == matched]
    units: int = sum(r.get(per, 0) for r in records)
    if not records or not units:
        raise AdaSwitchError(f"no finished items of {matched!r} to match the random rate to")
    calls: int = sum(r["cloud_calls"] for r in records)
    return min(1.0, calls / units)


def _write_derived(
    system: System, out: Path, items: Sequence[Item], matched: str, sink: Any
) -> None:
    records = item_records(read_records(out))
    by = {(r["system"], r["item"]): r for r in records}
    ids = [i.id for i in items if ("local", i.id) in by and ("cloud", i.id) in by]
    if not ids:
        raise AdaSwitchError(
            f"{system.name} needs finished local and cloud records of the same items"
        )
    if system.kind == "oracle":
        escalated = {i for i in ids if not by[("local", i)]["correct"]}
    else:
        target = sum(by[(matched, i)]["cloud_output_tokens"] for i in ids if (matched, i) in by)
        escalated = cascade_escalations(
            [
                (i, local_confidence(by[("local", i)]), by[("cloud", i)]["cloud_output_tokens"])
                for i in ids
            ],
            target,
        )
    for i in ids:
        local, cloud = by[("local", i)], by[("cloud", i)]
        up = i in escalated
        previous = by.get((system.name, i))
        record = {k: v for k, v in local.items() if k.startswith("local_")}
        record.update({k: (v if up else 0) for k, v in cloud.items() if k.startswith("cloud_")})
        chosen = cloud if up else local
        record.update(
            system=system.name,
            kind=system.kind,
            sweep=None,
            item=i,
            question=local.get("question"),
            gold=local["gold"],
            answer=chosen.get("answer"),
            score=chosen["score"],
            correct=chosen["correct"],
            error=local.get("error") or (cloud.get("error") if up else None),
            steps=chosen.get("steps", 0),
            escalated=up,
            confidence=local_confidence(local),
            wall_s=local["wall_s"] + (cloud["wall_s"] if up else 0.0),
            cached_calls=0,
        )
        if record != previous:  # a resumed run adds only what changed
            sink.write(json.dumps(record) + "\n")
    sink.flush()


def local_confidence(record: dict[str, Any]) -> float:
    """The cascade's confidence in a local solution: its lowest token log-probability."""
    values = [
        s["signals"]["min_logprob"]
        for s in record.get("trajectory", [])
        if "min_logprob" in s["signals"]
    ]
    return min(values) if values else -math.inf


def cascade_escalations(
    candidates: Sequence[tuple[str, float, int]], target_tokens: float
) -> set[str]:
    """The items a cascade escalates: least confident first, while the cloud output
    tokens spent stay nearest to `target_tokens`."""
    chosen: set[str] = set()
    spent = 0
    for item, _, tokens in sorted(candidates, key=lambda c: c[1]):
        if abs(spent + tokens - target_tokens) > abs(spent - target_tokens):
            break
        chosen.add(item)
        spent += tokens
    return chosen


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (the embedded models run in it)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
