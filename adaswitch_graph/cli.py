"""The `adaswitch` command: ask a question, list the bundled models, draw the graph."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import signal
from functools import partial
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from langchain_core.messages import HumanMessage
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from adaswitch_graph.budget import Budget
from adaswitch_graph.calibration import DEFAULT_FLAG_SHARE, FEATURES
from adaswitch_graph.datasets import DATA_ENV
from adaswitch_graph.embedded import DEFAULT_CLOUD, DEFAULT_LOCAL
from adaswitch_graph.errors import AdaSwitchError
from adaswitch_graph.graph import (
    DEFAULT_MAX_STEPS,
    DEFAULT_SAMPLES,
    create_adaswitch_graph,
    drawing,
)
from adaswitch_graph.models import resolve_model
from adaswitch_graph.nodes.prepare import question_from_messages
from adaswitch_graph.policies import SelfVerifyPolicy, parse_policy
from adaswitch_graph.state import Usage
from adaswitch_graph.trace import TraceWriter
from adaswitch_graph.verifier import Verifier

DEFAULT_BENCH_LIMIT = 50
DEFAULT_SYSTEMS = "local,cloud,selfverify,random,cascade"

app = typer.Typer(
    help="Local/cloud collaborative reasoning: a small local model reasons step by step "
    "and hands only its doubtful steps to a cloud model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)


def fail(problem: Exception | str) -> NoReturn:
    """End the command with the one-line `error:` a user acts on."""
    errors.print(f"[bold red]error:[/] {escape(str(problem))}")
    raise typer.Exit(1) from None


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to solve.")],
    local: Annotated[str, typer.Option(help="Local model spec.")] = DEFAULT_LOCAL,
    cloud: Annotated[str, typer.Option(help="Cloud model spec.")] = DEFAULT_CLOUD,
    local_base_url: Annotated[
        str | None, typer.Option(help="Server of the local model (Ollama, vLLM...).")
    ] = None,
    cloud_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible server of the cloud model.")
    ] = None,
    policy: Annotated[
        str,
        typer.Option(
            help="selfverify[:THRESHOLD[:MAX_QUESTION_CHARS]], selfverify-retry, "
            "selfverify-handover, token[:TAU[:K[:MAX_SWITCHES]]], token-confirm (the same "
            "spec), local, cloud, random:RATE or londi[:POLICY_JSON] (learned; see "
            "fit-londi)."
        ),
    ] = "selfverify",
    threshold: Annotated[
        float | None, typer.Option(help="Error probability at which a step goes to the cloud.")
    ] = None,
    max_cloud_calls: Annotated[int | None, typer.Option(min=0)] = None,
    max_cloud_tokens: Annotated[int | None, typer.Option(min=0)] = None,
    max_steps: Annotated[int, typer.Option(min=1)] = DEFAULT_MAX_STEPS,
    judge: Annotated[
        bool, typer.Option(help="Also ask the local model's yes/no verdict on each step.")
    ] = False,
    samples: Annotated[
        int,
        typer.Option(min=0, help="Sample each step this many times, for the disagreement signal."),
    ] = 0,
    verifier: Annotated[
        Path | None, typer.Option(help="A verifier JSON (default: the shipped one).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON result instead of the live view.")
    ] = False,
    trace: Annotated[
        Path | None, typer.Option(help="Append the run's events to this JSONL trace file.")
    ] = None,
) -> None:
    """Solve QUESTION, showing each step as it is produced."""
    try:
        question_from_messages([HumanMessage(content=question)])
        chosen = parse_policy(policy)
        if threshold is not None:
            if not isinstance(chosen, SelfVerifyPolicy):
                raise AdaSwitchError("--threshold applies to the selfverify policies only")
            chosen = dataclasses.replace(chosen, threshold=threshold)
        graph = create_adaswitch_graph(
            resolve_model(local, base_url=local_base_url),
            resolve_model(cloud, base_url=cloud_base_url),
            policy=chosen,
            budget=Budget(max_cloud_calls=max_cloud_calls, max_cloud_tokens=max_cloud_tokens),
            max_steps=max_steps,
            judge=judge,
            samples=samples,
            verifier=Verifier.load(verifier) if verifier else None,
        ).compile()
        callbacks = [TraceWriter(trace)] if trace else []
        result = _run(graph, question, live=not as_json, config={"callbacks": callbacks})
    except (AdaSwitchError, ValueError) as exc:
        fail(exc)
    except Exception as exc:
        if (failure := model_failure(exc)) is None:
            raise
        fail(failure)
    if as_json:
        payload = {
            "question": question,
            "final_answer": result["final_answer"],
            "steps": result["steps"],
            "usage": result["usage"],
            "cloud_output_share": cloud_output_share(result["usage"]),
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    console.print(Text.assemble("\n", ("Answer: ", "bold"), result["final_answer"]))
    console.print(usage_table(result["usage"]))


MODEL_CLIENTS = frozenset(
    {"openai", "anthropic", "ollama", "httpx", "httpx2", "httpcore"}
    | {"langchain_openai", "langchain_anthropic", "langchain_ollama"}
)
"""Packages whose errors are a model call failing (a server down, a key refused), not a
fault of this one."""


def model_failure(exc: Exception) -> str | None:
    """One line on a model call that failed, or None for an error of another kind."""
    package = type(exc).__module__.split(".")[0]
    if package not in MODEL_CLIENTS and not isinstance(exc, ConnectionError | TimeoutError):
        return None
    # LangGraph notes the node an error came from.
    tasks = (re.search(r"task with name '(\w+)'", note) for note in getattr(exc, "__notes__", []))
    node = next((f" in {task[1]}" for task in tasks if task), "")
    return (
        f"a model call failed{node}: {type(exc).__name__}: {exc} (is the model's server "
        "running at its base URL, and is its API key valid?)"
    )


def _run(graph: Any, question: str, live: bool, config: dict[str, Any]) -> dict[str, Any]:
    inputs = {"messages": [("user", question)]}
    if not live:
        return dict(graph.invoke(inputs, config))
    result: dict[str, Any] = {}
    with console.status("writing the next step...") as status:
        for mode, chunk in graph.stream(inputs, config, stream_mode=["custom", "values"]):
            if mode == "values":
                result = chunk
                continue
            event = chunk["event"]
            if event == "flagged" and chunk["decision"] == "cloud":
                status.update(f"step {chunk['index']} flagged: asking the cloud model...")
            elif event == "flagged" and chunk["decision"] == "retry":
                status.update(f"step {chunk['index']} flagged: the local model retries...")
            elif event == "assisted" and chunk["assisted"] and chunk.get("continued"):
                status.update(f"step {chunk['index']}: the local model goes on...")
            elif event == "assisted" and chunk["assisted"] and chunk["draft"]:
                console.print(Text(f"  local draft: {chunk['draft']}", style="dim strike"))
            elif event == "merged":
                console.print(step_line(chunk))
                status.update("writing the next step...")
    return result


def step_line(event: dict[str, Any]) -> Text:
    """One merged step, coloured by author, with its error probability."""
    p = event.get("error_probability")
    if event["author"] == "cloud":
        tag = ("cloud", "bold magenta")
    elif event["flagged"]:
        tag = ("local", "bold yellow")  # flagged but kept: budget spent or cloud failed
    else:
        tag = ("local", "bold green")
    # A step both models wrote shows the cloud's parts in the cloud's colour.
    parts = [
        (s["text"], "magenta" if s["author"] == "cloud" else "") for s in event.get("spans", [])
    ]
    return Text.assemble(
        tag,
        f"  p={p:.2f}  " if p is not None else "  p=  -   ",
        (f"Step {event['index']}: ", "bold"),
        *(parts or [event["text"]]),
    )


def cloud_output_share(usage: Usage) -> float:
    """The cloud's share of the output tokens (characters when tokens were not reported)."""
    local, cloud = usage.get("local"), usage.get("cloud")
    if not cloud:
        return 0.0
    key = (
        "output_tokens"
        if cloud["output_tokens"] or (local and local["output_tokens"])
        else "output_chars"
    )
    total = cloud[key] + (local[key] if local else 0)  # type: ignore[literal-required]
    return cloud[key] / total if total else 0.0  # type: ignore[literal-required]


def usage_table(usage: Usage) -> Table:
    from adaswitch_graph.report import input_tokens_text

    table = Table(title="usage", title_justify="left")
    for column in ("side", "calls", "input tokens", "output tokens", "chars sent"):
        table.add_column(column, justify="right" if column != "side" else "left")
    for role in ("local", "cloud"):
        counts = usage.get(role)
        if counts:
            table.add_row(
                role,
                str(counts["calls"]),
                input_tokens_text(counts),
                str(counts["output_tokens"]),
                str(counts["input_chars"]),
            )
        else:
            table.add_row(role, "0", "0", "0", "0")
    table.caption = f"cloud wrote {cloud_output_share(usage):.0%} of the output tokens"
    return table


@app.command()
def bench(
    dataset: Annotated[
        str, typer.Option(help="gsm8k, gsm8k-train, svamp, strategyqa or gym:<task>.")
    ] = "gsm8k",
    data: Annotated[
        Path | None, typer.Option(help="A JSONL file of items, instead of --dataset.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help=f"Folder holding the datasets (default ${DATA_ENV})."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"Items to run [default: {DEFAULT_BENCH_LIMIT}]; with --report-only, "
            "summarize only these items of --out (default: all).",
        ),
    ] = None,
    offset: Annotated[int, typer.Option(min=0, help="Items to skip first.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of gym items and random switching.")] = 0,
    systems: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: local, cloud, a policy spec (sampled-SPEC samples "
            "every local step, judged-SPEC has the local model judge each one, "
            "reprompted-SPEC asks the cloud afresh for the step instead of having it "
            "continue), random, random-spend, cascade, oracle, oracle-steps. With "
            "--report-only, summarize only these and --sweep's (and local and cloud "
            "alone) [default: "
            f"{DEFAULT_SYSTEMS}; with --report-only, every system in --out]."
        ),
    ] = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option(
            help="A threshold sweep, e.g. selfverify:0.2,0.3,0.4 or token:0.5,0.7:8 (repeatable)."
        ),
    ] = None,
    match: Annotated[
        str | None,
        typer.Option(
            help="The AdaSwitch system random, random-spend and cascade match (default: first)."
        ),
    ] = None,
    local: Annotated[str, typer.Option(help="Local model spec.")] = DEFAULT_LOCAL,
    cloud: Annotated[str, typer.Option(help="Cloud model spec.")] = DEFAULT_CLOUD,
    local_base_url: Annotated[str | None, typer.Option()] = None,
    cloud_base_url: Annotated[str | None, typer.Option()] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Items run at once.")] = 4,
    max_steps: Annotated[int, typer.Option(min=1)] = DEFAULT_MAX_STEPS,
    samples: Annotated[
        int, typer.Option(min=1, help="Sampled versions of each step, for sampled-SPEC.")
    ] = DEFAULT_SAMPLES,
    out: Annotated[Path | None, typer.Option(help="Results JSONL (resumed if it exists).")] = None,
    reuse: Annotated[
        bool, typer.Option(help="Share identical model calls between systems.")
    ] = True,
    price: Annotated[
        list[str] | None,
        typer.Option(
            help="MODEL=IN,OUT: USD per million input/output tokens (repeatable; "
            "recorded with the run, for later summaries)."
        ),
    ] = None,
    verifier: Annotated[
        Path | None, typer.Option(help="A verifier JSON (default: the shipped one).")
    ] = None,
    report_only: Annotated[
        bool,
        typer.Option(
            help="Summarize --out without running anything; with --offset or --limit, only "
            "those items (items/min stays the whole run's)."
        ),
    ] = False,
) -> None:
    """Run several systems on the same items and compare accuracy and cloud spend."""
    from adaswitch_graph.bench import (
        BenchSetup,
        of_systems,
        parse_sweep,
        parse_system,
        read_records,
        records_of,
    )
    from adaswitch_graph.datasets import load_items

    results = out or Path(f"bench-{(data.stem if data else dataset).replace(':', '-')}.jsonl")
    try:
        prices = dict(_parse_price(p) for p in price or [])
        named = systems or ("" if report_only else DEFAULT_SYSTEMS)
        chosen = [parse_system(s) for s in named.split(",") if s.strip()]
        for spec in sweep or []:
            chosen += parse_sweep(spec)
        select = partial(
            load_items, str(data) if data else dataset, data_dir=data_dir, offset=offset, seed=seed
        )
        if not report_only:
            items = select(limit=limit or DEFAULT_BENCH_LIMIT)
            setup = BenchSetup(
                local=resolve_model(local, base_url=local_base_url),
                cloud=resolve_model(cloud, base_url=cloud_base_url),
                model_names=(local, cloud),
                prices=prices,
                concurrency=concurrency,
                max_steps=max_steps,
                match=match,
                reuse=reuse,
                seed=seed,
                verifier=Verifier.load(verifier) if verifier else None,
                samples=samples,
            )
            _bench_with_progress(items, chosen, results, setup)
        elif not results.exists():
            raise AdaSwitchError(f"--report-only: {results} does not exist")
        records = read_records(results)
        if report_only and chosen:
            records = of_systems(records, {s.name for s in chosen})
        part = ""
        if report_only and (offset or limit):
            # The same selection a run with these options makes, so a summary of part of
            # a run names its items the way the run did.
            picked = select(limit=limit)
            records = records_of(records, picked)
            part = f"items-{offset + 1}-{offset + len(picked)}"
    except (AdaSwitchError, ValueError) as exc:
        fail(exc)
    sweeps = {s.name: s.sweep for s in chosen if s.sweep}
    _print_report(records, results, local, cloud, prices, sweeps, ran=not report_only, part=part)


def _parse_price(spec: str) -> tuple[str, tuple[float, float]]:
    model, _, values = spec.rpartition("=")
    try:
        tokens_in, tokens_out = (float(v) for v in values.split(","))
    except ValueError:
        raise ValueError(
            f"bad --price {spec!r}; write MODEL=IN,OUT, e.g. openai:gpt-4o=2.5,10"
        ) from None
    if not model:
        raise ValueError(f"bad --price {spec!r}: no model before '='")
    return model, (tokens_in, tokens_out)


def _bench_with_progress(items: Any, chosen: Any, results: Path, setup: Any) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from adaswitch_graph.bench import arun_bench

    columns = (
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=errors) as bar:
        tasks: dict[str, Any] = {}

        def update(system: str, done: int, total: int) -> None:
            if system not in tasks:
                tasks[system] = bar.add_task(system, total=total)
            bar.update(tasks[system], completed=done)

        async def until_stopped() -> None:
            # Ctrl-C and SIGTERM stop a bench by cancelling it: the run then records its
            # time and memory instead of dying before it could. Ctrl-C is set here too,
            # not left to asyncio's own handling, which a process that has replaced
            # Python's SIGINT handler does not get.
            loop = asyncio.get_running_loop()
            task = asyncio.current_task()
            assert task is not None
            with contextlib.suppress(NotImplementedError):  # no such handlers on Windows
                for stop in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(stop, task.cancel)
            await arun_bench(items, chosen, results, setup, progress=update)

        try:
            asyncio.run(until_stopped())
        except (KeyboardInterrupt, asyncio.CancelledError):
            bar.stop()
            errors.print(
                f"stopped: the items finished are kept in {results}; the same command runs the rest"
            )
            raise typer.Exit(130) from None


def _print_report(
    records: list[dict[str, Any]],
    results: Path,
    local: str,
    cloud: str,
    prices: dict[str, tuple[float, float]],
    sweeps: dict[str, str],
    ran: bool,
    part: str = "",
) -> None:
    """Print and write the summary of `records`; `part` names the items they were cut to,
    and its files go beside the whole run's instead of over them."""
    from adaswitch_graph.bench import peak_rss_mb
    from adaswitch_graph.report import (
        COLUMNS,
        markdown_table,
        plot_frontier,
        row_cells,
        summarize,
        summary_lines,
    )

    rows = summarize(records, cloud_model=cloud, local_model=local, prices=prices, sweeps=sweeps)
    if not rows:
        fail(f"{results} holds no finished items" + (f" among {part}" if part else ""))
    name = f"{results.name}, {part}" if part else results.name
    title = f"{results.parent / name} ({rows[0].n} items each)"
    table = Table(title=title, title_justify="left")
    for column in COLUMNS:
        if column == "system":
            table.add_column(column, no_wrap=True)
        elif column.startswith("accuracy"):
            table.add_column(column, justify="right", no_wrap=True)
        else:
            table.add_column(column, justify="right", overflow="fold")
    for row in rows:
        table.add_row(*row_cells(row))
    base = results.with_name(f"{results.stem}-{part}{results.suffix}") if part else results
    markdown = base.with_suffix(".md")
    text = markdown_table(rows)
    notes = summary_lines(rows)
    if part and any(row.items_per_min is not None for row in rows):
        notes.insert(0, f"items/min: the whole run's, not {part}'s (runs are timed, items not)")
    markdown.write_text(text + "".join(f"\n{line}\n" for line in notes))
    if _fits(table):
        console.print(table)
    else:
        # Narrower than the table (a small terminal, or output sent to a file, which rich
        # takes as 80 columns), rich would squeeze most columns to nothing.
        typer.echo(f"{title}\n{text}")
    for line in notes:
        typer.echo(line)
    plot = plot_frontier(rows, base.with_suffix(".png"), title=name)
    # A results file gathers runs of several processes (resumed, appended, run before a
    # fix): the peak of one of them says nothing about this one.
    if ran:
        console.print(f"peak RSS of this bench process: {peak_rss_mb():.0f} MB")
    elif peaks := [r["peak_rss_mb"] for r in records if "peak_rss_mb" in r]:
        console.print(
            f"peak RSS recorded by the last run in {results.name}: {peaks[-1]:.0f} MB "
            f"(highest of its {len(peaks)} run records: {max(peaks):.0f} MB)"
        )
    console.print(f"wrote {markdown} and {plot}")


def _fits(table: Table) -> bool:
    """Whether `table` shows in full at the console's width."""
    unbounded = console.options.update(max_width=10_000)
    return Measurement.get(console, unbounded, table).maximum <= console.width


@app.command()
def calibrate(
    results: Annotated[
        Path, typer.Argument(help="Bench results with the local model alone (--systems local).")
    ],
    out: Annotated[Path | None, typer.Option(help="Where to write the verifier JSON.")] = None,
    system: Annotated[str, typer.Option(help="The system whose local steps to fit on.")] = "local",
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help=f"Folder of the datasets, for the worked solutions (default ${DATA_ENV})."
        ),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="The JSONL file the bench ran (its --data), if any.")
    ] = None,
    features: Annotated[
        str, typer.Option(help="Comma-separated step signals to weigh.")
    ] = ",".join(FEATURES),
    flag_share: Annotated[
        float, typer.Option(min=0.01, max=0.99, help="Share of the steps the threshold flags.")
    ] = DEFAULT_FLAG_SHARE,
) -> None:
    """Fit the verifier to your local model: its steps in a bench run, labelled from the
    items' worked solutions (run it on GSM8K train, not on the items you measure on)."""
    from adaswitch_graph.calibration import calibrate as fit_verifier

    if not results.exists():
        fail(
            f"{results} does not exist; make it with: adaswitch bench --dataset gsm8k-train "
            f"--limit 240 --systems local --local SPEC --out {results}"
        )
    try:
        found = fit_verifier(
            results,
            system=system,
            data_dir=data_dir,
            data=data,
            features=[f.strip() for f in features.split(",") if f.strip()],
            flag_share=flag_share,
        )
    except (AdaSwitchError, ValueError) as exc:
        fail(exc)
    weights = ", ".join(f"{f} {c:+.3f}" for f, c in found.verifier.coefficients.items())
    held_out = found.cross_validated_step_auroc
    console.print(
        f"{found.items} items, {found.steps} local steps, {found.labelled} labelled from the "
        f"reference ({found.wrong} wrong)\n"
        f"verifier: {weights}, intercept {found.verifier.intercept:+.3f}\n"
        f"step AUROC against the labels: {_auroc(found.step_auroc)} in sample, "
        f"{_auroc(held_out)} cross-validated (5 folds of the items)\n"
        f"threshold flagging {found.flag_share:.0%} of these steps: {found.threshold:.3g}",
        highlight=False,
    )
    if found.labelled < FEW_LABELLED:
        errors.print(
            f"warning: only {found.labelled} labelled steps; the fit and its threshold are "
            "rough (240 GSM8K train items give about 800)",
            highlight=False,
        )
    if out is None:
        console.print("(not written: --out FILE writes it)")
        return
    found.verifier.save(out)
    console.print(
        f"wrote {out}; use it with --verifier {out} --threshold {found.threshold:.3g} "
        "(adaswitch ask, adaswitch bench) or Verifier.load in Python",
        highlight=False,
    )


FEW_LABELLED = 200
"""Fewer labelled steps than this make a rough fit: the warning says so."""


@app.command("fit-londi")
def fit_londi_command(
    results: Annotated[
        Path,
        typer.Argument(help="Bench results of a system that switched at random (random:RATE)."),
    ],
    system: Annotated[str, typer.Option(help="The system whose runs to learn from.")],
    out: Annotated[Path | None, typer.Option(help="Where to write the policy JSON.")] = None,
    cost: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="What a cloud call costs, in right answers (0, LONDI-B: only the budget "
            "limits the calls).",
        ),
    ] = 0.0,
    max_calls: Annotated[
        int, typer.Option(min=0, help="The hard budget of cloud calls a question.")
    ] = 2,
) -> None:
    """Learn a LONDI-B switching policy by fitted Q-iteration from the runs of a system
    that switched at random (run it on GSM8K train, not on the items you measure on)."""
    from adaswitch_graph.bench import item_records, read_records
    from adaswitch_graph.londi import LONDI_FEATURES, fit_londi

    if not results.exists():
        fail(
            f"{results} does not exist; make it with: adaswitch bench --dataset gsm8k-train "
            f"--limit 160 --systems random:0.4 --out {results}"
        )
    try:
        records = [r for r in item_records(read_records(results)) if r["system"] == system]
    except AdaSwitchError as exc:
        fail(exc)
    if not records:
        fail(f"{results} has no records of system {system!r}")
    try:
        found = fit_londi(records, cost=cost, max_calls=max_calls)
    except ValueError as exc:
        fail(exc)
    policy = found.policy
    width = max(map(len, LONDI_FEATURES))
    weights = "\n".join(
        f"  {name:<{width}}  accept {a:+.3f}  cloud {c:+.3f}"
        for name, a, c in zip(LONDI_FEATURES, policy.accept, policy.cloud, strict=True)
    )
    console.print(
        f"{found.episodes} episodes ({found.skipped} left out), {found.transitions} steps, "
        f"{found.switched:.0%} of them switched by the exploration\n"
        f"Q weights:\n{weights}\n"
        f"the learned policy switches on {found.switches:.0%} of these steps",
        highlight=False,
    )
    if out is None:
        console.print("(not written: --out FILE writes it)")
        return
    policy.save(out, results=str(results), system=system, episodes=found.episodes)
    console.print(
        f"wrote {out}; use it with --policy londi:{out} (adaswitch ask) or "
        f"--systems londi:{out} (adaswitch bench)",
        highlight=False,
    )


def _auroc(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@app.command()
def pool(
    results: Annotated[
        list[Path], typer.Argument(help="Results files of benches on different items.")
    ],
    out: Annotated[Path, typer.Option(help="The pooled results file to write (a new file).")],
) -> None:
    """Pool the results of benches run apart (held-out sets of one dataset) into one
    results file, for `adaswitch bench --report-only --out OUT` and the scripts in
    benchmarks/ to summarize as one run."""
    from collections import Counter

    from adaswitch_graph.pool import pool_results

    try:
        records = pool_results(results, out)
    except (AdaSwitchError, OSError) as exc:
        fail(exc)
    counts = Counter(r["system"] for r in records if not r.get("meta"))
    systems = ", ".join(f"{system} {n}" for system, n in counts.items())
    console.print(
        f"wrote {out}: items of each system from {len(results)} files: {systems}\n"
        f"summarize it with: adaswitch bench --report-only --out {out}",
        highlight=False,
    )


@app.command()
def models() -> None:
    """List the bundled models and whether they are installed and ready."""
    from adaswitch_graph.bundled import BUNDLED

    table = Table()
    for column in ("spec", "model", "installed", "joined + verified"):
        table.add_column(column)
    for name, model in BUNDLED.items():
        installed = model.installed()
        ready = installed and model.ready()
        table.add_row(
            f"embedded:{name}",
            model.description,
            "[green]yes[/]" if installed else "[red]no[/]",
            "[green]yes[/]" if ready else ("no (on first use)" if installed else "-"),
        )
    console.print(table)


@app.command()
def graph() -> None:
    """Print the graph as Mermaid."""
    typer.echo(drawing().draw_mermaid())


trace_app = typer.Typer(help="Look at trace files and bench results.", no_args_is_help=True)
app.add_typer(trace_app, name="trace")


@trace_app.command("view")
def trace_view(
    file: Annotated[Path, typer.Argument(help="A trace (ask --trace) or bench results JSONL.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="The HTML file (default FILE.html).")
    ] = None,
) -> None:
    """Write one self-contained HTML page showing FILE."""
    from adaswitch_graph.bench import read_records
    from adaswitch_graph.trace import read_trace
    from adaswitch_graph.viewer import bench_html, trace_html

    target = output or file.with_suffix(".html")
    try:
        kind = _file_kind(file)
        if kind == "bench":
            page = bench_html(read_records(file), title=file.name)
        else:
            page = trace_html(read_trace(file), title=file.name)
    except (AdaSwitchError, ValueError, OSError) as exc:
        fail(exc)
    target.write_text(page, encoding="utf-8")
    console.print(f"wrote {target}")


@trace_app.command("mermaid")
def trace_mermaid_command(
    file: Annotated[Path, typer.Argument(help="A trace file (ask --trace).")],
    run: Annotated[int, typer.Option(min=1, help="Which run of the file (1 = first).")] = 1,
) -> None:
    """Print a run's executed path as a Mermaid flowchart."""
    from adaswitch_graph.trace import read_trace
    from adaswitch_graph.viewer import trace_mermaid

    try:
        if _file_kind(file) != "trace":
            raise AdaSwitchError(f"{file} holds bench results, not a trace; use `trace view`")
        runs = read_trace(file)
        if not 1 <= run <= len(runs):
            raise AdaSwitchError(f"{file} holds {len(runs)} run(s); --run {run} is not one")
    except (AdaSwitchError, ValueError, OSError) as exc:
        fail(exc)
    typer.echo(trace_mermaid(runs[run - 1]), nl=False)


def _file_kind(file: Path) -> str:
    """ "trace" or "bench", from the first record of the file."""
    if not file.is_file():
        raise AdaSwitchError(f"{file} does not exist")
    for line in file.read_text(encoding="utf-8").splitlines():
        try:
            first = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(first, dict) and "event" in first:
            return "trace"
        if isinstance(first, dict) and "system" in first:
            return "bench"
        break
    raise AdaSwitchError(f"{file} is neither a trace (ask --trace) nor bench results")
