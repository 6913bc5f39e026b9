"""The summary of a benchmark: one row per system, as a table and as the frontier plot."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from adaswitch_graph.bench import item_records
from adaswitch_graph.state import USAGE_FIELDS, RoleUsage, estimated_input_tokens

PRICES: dict[str, tuple[float, float]] = {
    "embedded:qwen2.5-coder-0.5b": (0.0, 0.0),
    # The stand-in for a hosted model is priced like one (gpt-4o-mini's list price),
    # so the cost column reads as a cloud bill would.
    "embedded:qwen2.5-coder-1.5b": (0.15, 0.60),
}
"""USD per million (input, output) tokens; models not listed cost nothing."""

TARGET_GAP = 0.6
TARGET_SHARE = 0.4
"""The project's quality/cost target: a system recovers at least `TARGET_GAP` of the
local-to-cloud gap while the cloud writes at most `TARGET_SHARE` of the output tokens it
writes alone."""
_ANSWER_KEY_KINDS = ("oracle", "oracle-steps")


@dataclass(frozen=True)
class Row:
    system: str
    kind: str
    sweep: str | None
    n: int
    accuracy: float
    ci_low: float
    ci_high: float
    cloud_calls: float
    """Per question."""
    steps: float
    """Per question."""
    cloud_step_rate: float
    """Share of the steps the cloud wrote."""
    cloud_output_share: float | None
    """Cloud output tokens as a share of the cloud-alone run's (None without it)."""
    local_tokens: float
    """Local input + output tokens per question."""
    cloud_tokens: float
    """Cloud input + output tokens per question."""
    local_tokens_estimated: float
    """Of `local_tokens`, the input tokens estimated from characters the backend reported
    no tokens for (`RoleUsage.uncounted_input_chars`, at the tokens per character of the
    system's other calls to that side); they are priced in `cost_per_1k` too."""
    cloud_tokens_estimated: float
    """Of `cloud_tokens`, the same."""
    cloud_cached_share: float | None
    """Of the cloud input tokens the backend reported, the share it said it read from its
    prompt cache (0 when it reports none): tokens a provider that discounts cached input
    bills for less, which `cost_per_1k` does not. None when some of the records predate
    the count."""
    cloud_chars_sent: float
    """Characters sent to the cloud per question, every message of every call: the text
    that leaves the machine (fewer output tokens can cost more of it, in more calls)."""
    cost_per_1k: float
    """USD per 1000 questions."""
    items_per_min: float | None
    """None for a system that replayed any call from another system: it then times the
    call cache, not the system (`--no-reuse` times every system)."""
    gap_recovered: float | None
    reused: float
    """Share of the model calls answered from another system's identical call, over all
    the system's items (as items/min, which any such call leaves out)."""
    errors: int
    fixed: int | None = None
    """Questions local alone got wrong and this system right (None without local)."""
    lost: int | None = None
    """Questions local alone got right and this system wrong."""


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n == 0:
        return (0.0, 0.0)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarize(
    records: Sequence[Mapping[str, Any]],
    cloud_model: str = "",
    local_model: str = "",
    prices: Mapping[str, tuple[float, float]] | None = None,
    sweeps: Mapping[str, str] | None = None,
) -> list[Row]:
    """One row per system, over the items every system finished (so rows compare).

    Models are priced by `prices`, else by the prices the runs recorded, else by
    `PRICES`. `sweeps` names the sweep of a system where the records may not: a system
    first run alone and then named in a sweep keeps its first records, tagged with no
    sweep."""
    table = {**PRICES, **recorded_prices(records), **(prices or {})}
    local_price = table.get(local_model, (0.0, 0.0))
    cloud_price = table.get(cloud_model, (0.0, 0.0))
    by_system: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in item_records(records):  # type: ignore[arg-type]
        by_system[record["system"]].append(record)
    if not by_system:
        return []
    common = set.intersection(*({r["item"] for r in rs} for rs in by_system.values()))
    speed = _items_per_min(records)
    rows = []
    for system, all_records in by_system.items():
        rs = [r for r in all_records if r["item"] in common]
        reused = _reused(all_records)
        n = len(rs)
        correct = sum(bool(r["correct"]) for r in rs)
        steps = sum(r.get("steps", 0) for r in rs)
        cloud_steps = sum(_cloud_steps(r) for r in rs)
        local_use, cloud_use = pooled(rs, "local"), pooled(rs, "cloud")
        local_in, cloud_in = estimated_input_tokens(local_use), estimated_input_tokens(cloud_use)
        cost = _price(local_price, local_in, local_use) + _price(cloud_price, cloud_in, cloud_use)
        low, high = wilson(correct, n)
        rows.append(
            Row(
                system=system,
                kind=r_kind(rs),
                sweep=(sweeps or {}).get(system)
                or next((r["sweep"] for r in rs if r.get("sweep")), None),
                n=n,
                accuracy=correct / n if n else 0.0,
                ci_low=low,
                ci_high=high,
                cloud_calls=_mean(rs, "cloud_calls"),
                steps=steps / n if n else 0.0,
                cloud_step_rate=cloud_steps / steps if steps else 0.0,
                cloud_output_share=None,
                local_tokens=(local_in + local_use["output_tokens"]) / n,
                cloud_tokens=(cloud_in + cloud_use["output_tokens"]) / n,
                local_tokens_estimated=(local_in - local_use["input_tokens"]) / n,
                cloud_tokens_estimated=(cloud_in - cloud_use["input_tokens"]) / n,
                cloud_cached_share=cached_share(rs, "cloud", cloud_use),
                cloud_chars_sent=_mean(rs, "cloud_input_chars"),
                cost_per_1k=1000 * cost / n if n else 0.0,
                items_per_min=None if reused else speed.get(system),
                gap_recovered=None,
                reused=reused,
                errors=sum(1 for r in rs if r.get("error")),
            )
        )
    return _relative(rows, by_system, common)


def _cloud_steps(record: Mapping[str, Any]) -> int:
    if record.get("kind") == "cloud" or record.get("escalated"):
        return int(record.get("steps", 0))
    return sum(1 for s in record.get("trajectory", []) if s["author"] == "cloud")


def r_kind(records: Sequence[Mapping[str, Any]]) -> str:
    return str(records[0].get("kind", "")) if records else ""


def _relative(
    rows: list[Row], by_system: Mapping[str, Sequence[Mapping[str, Any]]], common: set[str]
) -> list[Row]:
    """Fill in the columns measured against the local-alone and cloud-alone rows."""
    kinds = {row.kind: row for row in rows}
    local, cloud = kinds.get("local"), kinds.get("cloud")
    cloud_out = (
        sum(r["cloud_output_tokens"] for r in by_system[cloud.system] if r["item"] in common)
        if cloud
        else 0
    )
    local_right = (
        {r["item"]: bool(r["correct"]) for r in by_system[local.system] if r["item"] in common}
        if local
        else {}
    )
    out = []
    for row in rows:
        fixed = lost = None
        if local_right:
            right_here = {r["item"]: bool(r["correct"]) for r in by_system[row.system]}
            fixed = sum(right_here[i] and not right for i, right in local_right.items())
            lost = sum(right and not right_here[i] for i, right in local_right.items())
        share = None
        if cloud_out:
            mine = sum(
                r["cloud_output_tokens"] for r in by_system[row.system] if r["item"] in common
            )
            share = mine / cloud_out
        gap = None
        if local and cloud and cloud.accuracy != local.accuracy:
            gap = (row.accuracy - local.accuracy) / (cloud.accuracy - local.accuracy)
        out.append(
            replace(row, cloud_output_share=share, gap_recovered=gap, fixed=fixed, lost=lost)
        )
    return out


def _reused(records: Sequence[Mapping[str, Any]]) -> float:
    calls = sum(r.get("local_calls", 0) + r.get("cloud_calls", 0) for r in records)
    return sum(r.get("cached_calls", 0) for r in records) / calls if calls else 0.0


def _mean(records: Sequence[Mapping[str, Any]], field: str) -> float:
    return sum(float(r.get(field, 0)) for r in records) / len(records) if records else 0.0


def recorded_prices(records: Sequence[Mapping[str, Any]]) -> dict[str, tuple[float, float]]:
    """The price overrides the runs in `records` were given, a later run's winning."""
    found: dict[str, tuple[float, float]] = {}
    for record in records:
        if record.get("meta"):
            found.update((model, tuple(p)) for model, p in record.get("prices", {}).items())
    return found


def run_models(records: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """The local and cloud model names of the last run that recorded them ("" for a run
    given model objects, or none)."""
    run: Mapping[str, Any] = next(
        (r for r in reversed(records) if r.get("meta") and "cloud" in r), {}
    )
    return run.get("local") or "", run.get("cloud") or ""


def pooled(records: Sequence[Mapping[str, Any]], role: str) -> dict[str, int]:
    """The usage ledger of `role` summed over `records`."""
    return {f: sum(int(r.get(f"{role}_{f}", 0)) for r in records) for f in USAGE_FIELDS}


def cached_share(
    records: Sequence[Mapping[str, Any]], role: str, usage: Mapping[str, int]
) -> float | None:
    """Of the input tokens `role`'s backend reported over `records` (`usage`, their
    `pooled` ledger), the share it said it read from its prompt cache (0 when it reported
    none). Estimated tokens are left out: nothing says whether they were cached. None when
    a record with input tokens has no count (it was written before the bench kept one):
    its cached tokens are not known."""
    if any(
        r.get(f"{role}_input_tokens") and f"{role}_cached_input_tokens" not in r for r in records
    ):
        return None
    return usage["cached_input_tokens"] / usage["input_tokens"] if usage["input_tokens"] else 0.0


def _price(price: tuple[float, float], tokens_in: float, usage: Mapping[str, int]) -> float:
    return (price[0] * tokens_in + price[1] * usage["output_tokens"]) / 1e6


def _items_per_min(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Items per minute of wall time, from the systems' run records (all sessions of a
    resumed run together; a stopped run's time ends with the last item it finished)."""
    items: dict[str, int] = defaultdict(int)
    seconds: dict[str, float] = defaultdict(float)
    for record in records:
        if record.get("meta"):
            items[record["system"]] += record["items_run"]
            seconds[record["system"]] += record["elapsed_s"]
    return {s: 60 * items[s] / seconds[s] for s in items if seconds[s] > 0}


COLUMNS = (
    "system",
    "n",
    "accuracy (95% CI)",
    "gap recovered",
    "fixed / lost vs local",
    "cloud calls/q",
    "steps/q",
    "cloud steps",
    "cloud out tok. vs cloud alone",
    "local tok./q",
    "cloud tok./q",
    "chars sent to cloud/q",
    "$/1k q",
    "items/min",
    "calls reused",
    "errors",
)


def row_cells(row: Row) -> list[str]:
    return [
        row.system,
        str(row.n),
        f"{row.accuracy:.1%} ({row.ci_low:.1%} to {row.ci_high:.1%})",
        "-" if row.gap_recovered is None else f"{row.gap_recovered:.0%}",
        "-" if row.fixed is None else f"{row.fixed} / {row.lost}",
        f"{row.cloud_calls:.2f}",
        f"{row.steps:.1f}",
        f"{row.cloud_step_rate:.0%}",
        "-" if row.cloud_output_share is None else f"{row.cloud_output_share:.0%}",
        tokens_text(row.local_tokens, row.local_tokens_estimated),
        tokens_text(row.cloud_tokens, row.cloud_tokens_estimated),
        f"{row.cloud_chars_sent:.0f}",
        f"{row.cost_per_1k:.3f}",
        "-" if row.items_per_min is None else f"{row.items_per_min:.1f}",
        # A few calls reused out of thousands still leave items/min out: not "0%".
        "<1%" if 0 < row.reused < 0.005 else f"{row.reused:.0%}",
        str(row.errors),
    ]


def tokens_text(tokens: float, estimated: float, cached: float = 0) -> str:
    """`tokens`, saying how many of them are estimates and how many came from a cache."""
    notes = [f"{n:.0f} {what}" for n, what in ((estimated, "est."), (cached, "cached")) if round(n)]
    return f"{tokens:.0f}" + (f" ({', '.join(notes)})" if notes else "")


def input_tokens_text(counts: RoleUsage) -> str:
    """A ledger's input tokens, those estimated from characters and those the backend
    read from its prompt cache said so."""
    tokens = estimated_input_tokens(counts)
    cached = counts.get("cached_input_tokens", 0)
    return tokens_text(tokens, tokens - counts["input_tokens"], cached)


def estimate_lines(rows: Sequence[Row]) -> list[str]:
    """Which rows count input tokens the backend never reported, and how."""
    systems = [r.system for r in rows if round(r.local_tokens_estimated + r.cloud_tokens_estimated)]
    if not systems:
        return []
    return [
        f"tokens marked 'est.' ({', '.join(systems)}): input tokens of calls the backend "
        f"reported none for (streams closed before the usage report: Ollama, OpenAI's API), "
        f"estimated from their characters at the tokens per character of the other calls; "
        f"$/1k q prices them"
    ]


def speed_lines(rows: Sequence[Row]) -> list[str]:
    """Which rows leave items/min out, and why."""
    untimed = [r.system for r in rows if r.items_per_min is None]
    if not untimed:
        return []
    return [
        f"items/min left out ({', '.join(untimed)}): a system with no timed run record "
        "(the cascade and oracle, made from local and cloud alone's records; a run killed "
        "before it wrote one) or with a call answered from the call cache, which would time "
        "the cache (--no-reuse times every system)"
    ]


def cost_lines(rows: Sequence[Row]) -> list[str]:
    """Each system's dollars as a multiple of the cloud alone's: the target counts the
    tokens the cloud writes, a hosted cloud also bills what it is sent, and a system
    that calls the cloud often can meet the one and cost more than the cloud alone."""
    cloud = next((r for r in rows if r.kind == "cloud"), None)
    others = [r for r in rows if r.kind not in ("local", "cloud")]
    if cloud is None or cloud.cost_per_1k <= 0 or not others:
        return []
    ratios = ", ".join(f"{r.system} {r.cost_per_1k / cloud.cost_per_1k:.2f}x" for r in others)
    lines = [
        f"$ against cloud alone's ${cloud.cost_per_1k:.3f} per 1000 questions, input and "
        f"output tokens at the price table: {ratios}"
    ]
    cached = [r for r in (cloud, *others) if r.cloud_cached_share]
    unknown = [r.system for r in (cloud, *others) if r.cloud_cached_share is None]
    if cached:
        shares = ", ".join(f"{r.system} {r.cloud_cached_share:.0%}" for r in cached)
        if unknown:
            shares += f"; not known for {', '.join(unknown)} (records from before the count)"
        lines.append(
            f"of the cloud's input tokens, its server read from its prompt cache: {shares} "
            "(priced in full above; a provider that discounts cached input bills them for less)"
        )
    return lines


def target_lines(rows: Sequence[Row]) -> list[str]:
    """Whether any system meets the target (those that read the answer key do not count),
    and where each sweep's line crosses `TARGET_SHARE`: the gap recovered on the straight
    line between the two swept thresholds around it (a sweep that does not reach across
    it gets no line)."""
    points = [
        (r, r.cloud_output_share, r.gap_recovered)
        for r in rows
        if r.cloud_output_share is not None and r.gap_recovered is not None
    ]
    if not points:
        return []
    meeting = [
        f"{r.system} ({gap:.0%} for {share:.0%})"
        for r, share, gap in points
        # The tolerance keeps a ratio of counts that is exactly on the edge (0.6 computed
        # as 0.5999...) on the side it is on.
        if r.kind not in _ANSWER_KEY_KINDS
        and gap >= TARGET_GAP - 1e-9
        and share <= TARGET_SHARE + 1e-9
    ]
    lines = [
        f"target (>= {TARGET_GAP:.0%} of the gap for <= {TARGET_SHARE:.0%} of cloud alone's "
        f"output tokens): " + (f"met by {', '.join(meeting)}" if meeting else "not met")
    ]
    # Rows have a gap and a share all or none (both come from the local and cloud rows).
    for sweep, members in _sweeps(rows).items():
        line = [(r, r.cloud_output_share or 0.0, r.gap_recovered or 0.0) for r in members]
        for (low, x0, y0), (high, x1, y1) in itertools.pairwise(line):
            if x0 <= TARGET_SHARE <= x1 and x1 > x0:
                gap = y0 + (y1 - y0) * (TARGET_SHARE - x0) / (x1 - x0)
                lines.append(
                    f"{sweep} sweep at {TARGET_SHARE:.0%} of cloud alone's output tokens: "
                    f"{gap:.0%} of the gap (on the line from {low.system} to {high.system})"
                )
                break
    return lines


def summary_lines(rows: Sequence[Row]) -> list[str]:
    """The lines printed below the table: estimated tokens, rows left untimed, the
    target check, $ against cloud alone."""
    return estimate_lines(rows) + speed_lines(rows) + target_lines(rows) + cost_lines(rows)


def _sweeps(rows: Sequence[Row]) -> dict[str, list[Row]]:
    """Each sweep's rows with a cloud output share, by that share; a sweep that reached
    one threshold is a point like any other, not a line, and is left out."""
    swept: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if row.sweep and row.cloud_output_share is not None:
            swept[row.sweep].append(row)
    return {
        sweep: sorted(members, key=lambda r: r.cloud_output_share or 0.0)
        for sweep, members in swept.items()
        if len(members) > 1
    }


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row_cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def plot_frontier(rows: Sequence[Row], path: str | Path, title: str = "") -> Path:
    """Accuracy against the cloud's output tokens (as % of cloud alone), one point per
    system, each sweep drawn as a line."""
    import matplotlib.pyplot as plt

    fig = frontier_figure(rows, title)
    target = Path(path)
    fig.savefig(target)
    plt.close(fig)
    return target


def frontier_figure(rows: Sequence[Row], title: str = "") -> Any:
    """The figure `plot_frontier` saves (a matplotlib `Figure`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    points = [r for r in rows if r.cloud_output_share is not None]
    sweeps = _sweeps(points)
    for sweep, members in sweeps.items():
        xs, ys = zip(*map(_point, members), strict=True)
        ax.plot(
            xs,
            ys,
            "-",
            alpha=0.6,
            label=f"{sweep} sweep",
        )
    colors = []
    for row in points:
        drawn = ax.errorbar(
            *_point(row),
            yerr=[[100 * (row.accuracy - row.ci_low)], [100 * (row.ci_high - row.accuracy)]],
            fmt="o",
            capsize=3,
            alpha=0.8,
        )
        colors.append(drawn.lines[0].get_color())
    ends = {r.kind: r.accuracy for r in rows}
    if "local" in ends and "cloud" in ends and ends["cloud"] > ends["local"]:
        floor = 100 * (ends["local"] + TARGET_GAP * (ends["cloud"] - ends["local"]))
        ax.fill_between(
            [0, 100 * TARGET_SHARE], floor, 100 * ends["cloud"] + 10, color="green", alpha=0.07
        )
        ax.annotate("target", (1, floor + 0.5), fontsize=8, color="green")
    ax.set_xlabel("cloud output tokens, % of the cloud-alone run")
    ax.set_ylabel("accuracy, %")
    ax.set_title(title or "quality/cost frontier")
    ax.grid(alpha=0.3)
    if sweeps:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    _label_points(ax, points, colors)
    return fig


def _point(row: Row) -> tuple[float, float]:
    """Where a system sits on the frontier: cloud output tokens and accuracy, in %."""
    return 100 * (row.cloud_output_share or 0.0), 100 * row.accuracy


_LABEL_OFFSETS = [(dx, dy) for dy in (5, -12, 16, -23, 27, -34) for dx in (6, -6)]
"""Where a point's label may go, in points from the point, in order of preference."""


def _label_points(ax: Any, points: Sequence[Row], colors: Sequence[Any]) -> None:
    """Name each point, in its colour (a label between two points is then still read
    right), where the label covers no other label, point or error bar and stays inside
    the axes (the first such place of `_LABEL_OFFSETS`; the least covered one when there
    is none)."""
    from matplotlib.transforms import Bbox

    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    taken = []
    for row in points:
        x, _ = _point(row)
        (x0, y0), (x1, y1) = ax.transData.transform([(x, 100 * row.ci_low), (x, 100 * row.ci_high)])
        # The marker and the error bar with its caps, a few pixels wide.
        taken.append(Bbox([[x0 - 5, min(y0, y1) - 5], [x1 + 5, max(y0, y1) + 5]]))
    for row, color in zip(points, colors, strict=True):
        xy = _point(row)
        best: tuple[float, Any] | None = None
        for dx, dy in _LABEL_OFFSETS:
            label = ax.annotate(
                row.system,
                xy,
                textcoords="offset points",
                xytext=(dx, dy),
                ha="left" if dx > 0 else "right",
                fontsize=8,
                color=color,
            )
            box = label.get_window_extent(renderer)
            # A label partly outside the axes is clipped by the figure's edge.
            outside = box.width * box.height - _overlap(box, frame)
            covered = outside + sum(_overlap(box, other) for other in taken)
            if best is None or covered < best[0]:
                if best is not None:
                    best[1].remove()
                best = (covered, label)
            else:
                label.remove()
            if covered == 0:
                break
        assert best is not None
        taken.append(best[1].get_window_extent(renderer))


def _overlap(a: Any, b: Any) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return float(max(width, 0.0) * max(height, 0.0))


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve of `scores` for `labels` (ties count half); None when
    one class is missing."""
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not positives or not negatives:
        return None
    wins = sum((p > q) + 0.5 * (p == q) for p in positives for q in negatives)
    return wins / (len(positives) * len(negatives))
