"""Seeing a run: the executed path as Mermaid, and one self-contained HTML page for a
trace file or a bench results file (no network: styles, script and the graph's SVG are
inline)."""

from __future__ import annotations

import difflib
import html
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

from adaswitch_graph.state import Usage, merge_usage
from adaswitch_graph.trace import TraceRun

EVENT_NODE = {
    "started": "prepare",
    "drafted": "local_reason",
    "verified": "self_verify",
    "assisted": "cloud_assist",
    "tool": "tools",
    "merged": "merge",
    "final": "finalize",
}
"""The node that emits each event: the executed path is read off the events."""


def executed_path(run: TraceRun) -> list[str]:
    path = ["__start__"]
    for event in run.events:
        node = EVENT_NODE.get(event["event"])
        if node is not None and path[-1] != node:
            path.append(node)
    if run.of("final"):
        path.append("__end__")
    return path


def _short(text: str, limit: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _mermaid_label(text: str) -> str:
    return html.escape(_short(text), quote=False).replace('"', "#quot;")


def trace_mermaid(run: TraceRun) -> str:
    """The run's steps as a Mermaid flowchart: local and cloud steps styled apart, each
    corrected draft beside the step that replaced it."""
    lines = ["flowchart TD", f'  q["Question: {_mermaid_label(run.question)}"]:::question']
    previous = "q"
    drafts = {e["index"]: e for e in run.of("drafted")}
    for merged in run.of("merged"):
        index = merged["index"]
        p = merged.get("error_probability")
        tag = f" (p={p:.2f})" if p is not None else ""
        node = f"s{index}"
        style = (
            merged["author"] if not (merged["flagged"] and merged["author"] == "local") else "kept"
        )
        lines.append(f'  {node}["Step {index}{tag}: {_mermaid_label(merged["text"])}"]:::{style}')
        lines.append(f"  {previous} --> {node}")
        for n, use in enumerate(merged.get("tool_calls") or []):
            label = _mermaid_label(f"{use['tool']}[{use['input']}] = {use['output']}")
            lines.append(f'  t{index}_{n}[/"{label}"/]:::tool')
            lines.append(f"  {node} --- t{index}_{n}")
        if merged["author"] == "cloud" and index in drafts and not merged.get("spans"):
            lines.append(f'  d{index}["draft: {_mermaid_label(drafts[index]["text"])}"]:::draft')
            lines.append(f"  d{index} -. flagged, replaced by the cloud .-> {node}")
        previous = node
    if run.final_answer is not None:
        lines.append(f'  answer(["Answer: {_mermaid_label(run.final_answer)}"]):::question')
        lines.append(f"  {previous} --> answer")
    lines += [
        "  classDef question fill:#eef2ff,stroke:#4338ca",
        "  classDef local fill:#ecfdf5,stroke:#047857",
        "  classDef cloud fill:#f5f3ff,stroke:#7c3aed,stroke-width:2px",
        "  classDef kept fill:#fffbeb,stroke:#b45309",
        "  classDef tool fill:#f0f9ff,stroke:#0369a1",
        "  classDef draft fill:#f3f4f6,stroke:#9ca3af,stroke-dasharray:4 3,color:#6b7280",
    ]
    return "\n".join(lines) + "\n"


# --- the graph as inline SVG --------------------------------------------------------

LAYOUT = {
    "__start__": (260, 30),
    "prepare": (260, 95),
    "local_reason": (260, 160),
    "self_verify": (260, 225),
    "cloud_assist": (420, 290),
    "tools": (110, 290),
    "merge": (260, 355),
    "finalize": (260, 420),
    "__end__": (260, 485),
}
NODE_W, NODE_H = 120, 34


def graph_svg(edges: Iterable[tuple[str, str]], taken: Mapping[tuple[str, str], int]) -> str:
    """The graph's nodes and edges, the edges the run took drawn bold with their count."""
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 560 520" class="graph" '
        'role="img" aria-label="the graph with the executed path highlighted">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="context-stroke"/></marker></defs>',
    ]
    visited = {n for edge in taken for n in edge}
    for source, target in edges:
        (x1, y1), (x2, y2) = LAYOUT.get(source, (40, 30)), LAYOUT.get(target, (40, 30))
        count = taken.get((source, target), 0)
        cls = "edge taken" if count else "edge"
        if y2 < y1:  # a loop back up: around the left side
            bend = 100 - 18 * (y1 - y2) / 65
            d = f"M{x1 - NODE_W / 2},{y1} C{bend},{y1} {bend},{y2} {x2 - NODE_W / 2},{y2}"
            label_at = (bend + 8, (y1 + y2) / 2)
        else:
            d = f"M{x1},{y1 + NODE_H / 2} L{x2},{y2 - NODE_H / 2}"
            label_at = ((x1 + x2) / 2 + 8, (y1 + y2) / 2)
        parts.append(
            f'<path class="{cls}" d="{d}" marker-end="url(#arrow)">'
            f"<title>{source} → {target}: taken {count} times</title></path>"
        )
        if count:
            parts.append(
                f'<text class="count" x="{label_at[0]:.0f}" y="{label_at[1]:.0f}">{count}x</text>'
            )
    for name, (x, y) in LAYOUT.items():
        cls = "node visited" if name in visited else "node"
        if name == "cloud_assist":
            cls += " cloudnode"
        parts.append(
            f'<g class="{cls}"><rect x="{x - NODE_W / 2}" y="{y - NODE_H / 2}" width="{NODE_W}" '
            f'height="{NODE_H}" rx="8"/><text x="{x}" y="{y + 4}">{name}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def taken_edges(path: Sequence[str]) -> Counter[tuple[str, str]]:
    return Counter(pairwise(path))


def graph_edges() -> list[tuple[str, str]]:
    """The edges of the AdaSwitch graph, read off the graph itself."""
    from adaswitch_graph.graph import drawing

    return [(e.source, e.target) for e in drawing().edges]


# --- HTML ----------------------------------------------------------------------------

CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f8fafc;color:#0f172a}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 6px} h2{font-size:18px;margin:28px 0 10px}
.meta{color:#475569;font-size:13px} .answer{font-size:18px;margin:10px 0}
.layout{display:grid;grid-template-columns:minmax(0,1fr) 300px;gap:24px}
.step{background:#fff;border:1px solid #e2e8f0;border-left:6px solid #059669;
 border-radius:8px;padding:10px 14px;margin:10px 0}
.step.cloud{border-left-color:#7c3aed;background:#faf5ff}
.step.kept{border-left-color:#d97706}
.step .head{display:flex;gap:10px;align-items:center;font-size:13px;color:#475569}
.badge{border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;color:#fff}
.badge.local{background:#059669} .badge.cloud{background:#7c3aed}
.badge.flagged{background:#d97706} .badge.error{background:#dc2626}
.text{white-space:pre-wrap;margin:6px 0}
.part.cloud{background:#ede9fe;color:#5b21b6;border-radius:3px}
.bar{position:relative;width:160px;height:10px;background:#e2e8f0;border-radius:5px}
.bar .fill{position:absolute;left:0;top:0;bottom:0;border-radius:5px;background:#64748b}
.bar .fill.over{background:#dc2626}
.bar .threshold{position:absolute;top:-3px;bottom:-3px;width:2px;background:#0f172a}
.diff{font-family:ui-monospace,monospace;font-size:13px;background:#f1f5f9;
 border-radius:6px;padding:6px 8px;white-space:pre-wrap}
del{background:#fee2e2;color:#991b1b} ins{background:#dcfce7;color:#166534;text-decoration:none}
table{border-collapse:collapse;background:#fff;font-size:13px}
td,th{border:1px solid #e2e8f0;padding:4px 8px;text-align:right}
td{white-space:nowrap}
td:first-child,th:first-child{text-align:left}
.wide{overflow-x:auto} .frontier svg{max-width:100%;height:auto}
tr.right td.ok{color:#047857} tr.wrong td.ok{color:#b91c1c}
svg.graph{width:100%;background:#fff;border:1px solid #e2e8f0;border-radius:8px}
.node rect{fill:#f1f5f9;stroke:#94a3b8} .node text{font-size:12px;text-anchor:middle}
.node.visited rect{fill:#ecfdf5;stroke:#059669;stroke-width:2}
.node.cloudnode.visited rect{fill:#f5f3ff;stroke:#7c3aed}
.edge{fill:none;stroke:#cbd5e1;stroke-width:1.5}
.edge.taken{stroke:#0f172a;stroke-width:3} .count{font-size:11px;fill:#0f172a}
.observation{font-family:ui-monospace,monospace;font-size:13px;color:#0369a1}
details{margin:4px 0} summary{cursor:pointer;color:#334155;font-size:13px}
"""

SCRIPT = """
document.querySelectorAll('[data-filter]').forEach(function (box) {
  box.addEventListener('input', function () {
    var needle = box.value.toLowerCase();
    document.querySelectorAll(box.dataset.filter).forEach(function (row) {
      row.style.display = row.textContent.toLowerCase().includes(needle) ? '' : 'none';
    });
  });
});
document.body.dataset.ready = 'yes';
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><main>{body}</main>"
        f"<script>{SCRIPT}</script></body></html>"
    )


def word_diff(before: str, after: str) -> str:
    """The words removed from `before` and added in `after`, as <del>/<ins> HTML."""
    a, b = before.split(" "), after.split(" ")
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b).get_opcodes():
        if op in ("delete", "replace"):
            out.append(f"<del>{html.escape(' '.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{html.escape(' '.join(b[j1:j2]))}</ins>")
        if op == "equal":
            out.append(html.escape(" ".join(a[i1:i2])))
    return " ".join(out)


def _bar(p: float | None, threshold: float | None) -> str:
    if p is None:
        return "<span class='meta'>p = n/a</span>"
    over = threshold is not None and p >= threshold
    mark = (
        f"<div class='threshold' style='left:{100 * threshold:.1f}%' "
        f"title='threshold {threshold:.2f}'></div>"
        if threshold is not None
        else ""
    )
    return (
        f"<div class='bar' title='error probability {p:.3f}'>"
        f"<div class='fill{' over' if over else ''}' style='width:{100 * p:.1f}%'></div>"
        f"{mark}</div>"
        f"<span>p = {p:.2f}</span>"
    )


def _tokens(usage: Mapping[str, Any] | None, latency: float | None) -> str:
    parts = []
    for role, counts in (usage or {}).items():
        parts.append(f"{role} {counts.get('input_tokens', 0)}→{counts.get('output_tokens', 0)} tok")
    if latency is not None:
        parts.append(f"{latency:.2f} s")
    return " · ".join(parts)


def step_card(step: Mapping[str, Any], threshold: float | None, extra: str = "") -> str:
    """One step: author, error probability against the threshold, text, and the diff of
    the draft and the cloud's step when the cloud replaced it."""
    author = step["author"]
    kept = step.get("flagged") and author == "local"
    cls = "cloud" if author == "cloud" else ("kept" if kept else "local")
    badges = f"<span class='badge {author}'>{author}</span>"
    if step.get("flagged"):
        badges += "<span class='badge flagged'>flagged</span>"
    if step.get("cloud_error"):
        badges += (
            f"<span class='badge error' title='{html.escape(step['cloud_error'])}'>kept</span>"
        )
    observations = "".join(
        f"<div class='observation'>{html.escape(use['tool'])}[{html.escape(use['input'])}] → "
        f"{html.escape(use['output'])}</div>"
        for use in step.get("tool_calls") or []
    )
    diff = ""
    text = html.escape(step["text"])
    if step.get("spans"):  # both models wrote it: the cloud's parts marked in place
        text = "".join(
            f"<span class='part {s['author']}' title='{s['author']}'>"
            f"{html.escape(s['text'])}</span>"
            for s in step["spans"]
        )
    elif author == "cloud" and step.get("draft") is not None:
        diff = (
            "<details open><summary>what the cloud changed (local draft → cloud step)</summary>"
            f"<div class='diff'>{word_diff(step['draft'], step['text'])}</div></details>"
        )
    return (
        f"<div class='step {cls}' id='step-{step['index']}'><div class='head'>"
        f"<strong>Step {step['index']}</strong>{badges}"
        f"{_bar(step.get('error_probability'), threshold)}<span>{extra}</span></div>"
        f"<div class='text'>{text}</div>{observations}{diff}</div>"
    )


def _trace_steps(run: TraceRun) -> list[tuple[dict[str, Any], str]]:
    drafted: dict[int, list[dict[str, Any]]] = {}
    for e in run.of("drafted"):
        drafted.setdefault(e["index"], []).append(e)
    assisted = {e["index"]: e for e in run.of("assisted")}
    verified = {e["index"]: e for e in run.of("verified")}
    steps = []
    for merged in run.of("merged"):
        i = merged["index"]
        draft_events = drafted.get(i, [])
        cloud = assisted.get(i)
        step = {
            **merged,
            "draft": draft_events[0]["text"] if draft_events else None,
            "cloud_error": (cloud or {}).get("cloud_error") or verified.get(i, {}).get("reason"),
        }
        extra = " · ".join(
            x
            for x in [
                *(f"draft: {_tokens(d.get('usage'), d.get('latency_s'))}" for d in draft_events),
                f"cloud: {_tokens(cloud.get('usage'), cloud.get('latency_s'))}" if cloud else "",
            ]
            if x
        )
        steps.append((step, extra))
    return steps


def _side_totals(events: Sequence[Mapping[str, Any]]) -> str:
    from adaswitch_graph.report import input_tokens_text

    usage: Usage = {}
    seconds: defaultdict[str, float] = defaultdict(float)
    for event in events:
        usage = merge_usage(usage, event.get("usage"))
        for role in event.get("usage") or {}:
            seconds[role] += event.get("latency_s", 0.0)
    rows = []
    for role, t in sorted(usage.items()):
        rows.append(
            f"<tr><td>{role}</td><td>{t['calls']}</td><td>{input_tokens_text(t)}</td>"
            f"<td>{t['output_tokens']}</td><td>{t['input_chars']}</td>"
            f"<td>{seconds[role]:.2f}</td></tr>"
        )
    return (
        "<table class='totals'><tr><th>side</th><th>calls</th><th>input tok</th>"
        f"<th>output tok</th><th>chars sent</th><th>model time s</th></tr>{''.join(rows)}</table>"
    )


def trace_html(runs: Sequence[TraceRun], title: str = "adaswitch trace") -> str:
    """One page for the runs of a trace file."""
    edges = graph_edges()
    sections = []
    for number, run in enumerate(runs, 1):
        policy = run.started.get("policy", {})
        threshold = policy.get("threshold")
        steps = "".join(step_card(step, threshold, extra) for step, extra in _trace_steps(run))
        model_events = run.of("drafted", "verified", "assisted")
        svg = graph_svg(edges, taken_edges(executed_path(run)))
        sections.append(
            f"<section class='run' id='run-{number}'>"
            f"<h1>{html.escape(run.question)}</h1>"
            f"<div class='meta'>local {html.escape(str(run.started.get('local_model')))} · "
            f"cloud {html.escape(str(run.started.get('cloud_model')))} · policy "
            f"{html.escape(json.dumps(policy))}</div>"
            f"<div class='answer'>Answer: <strong>{html.escape(run.final_answer or '(none)')}"
            f"</strong></div><div class='layout'><div>{steps}<h2>Per side</h2>"
            f"{_side_totals(model_events)}</div><div><h2>Executed path</h2>{svg}</div></div>"
            "</section>"
        )
    return _page(title, "".join(sections) or "<p>The trace holds no run.</p>")


def bench_summary(records: Sequence[Mapping[str, Any]]) -> str:
    """The summary `adaswitch bench` prints for these records, as HTML: its table, the
    lines below it and the frontier plot (inline SVG). Costs are priced for the models
    the last run recorded, with the `--price` overrides the runs recorded."""
    from adaswitch_graph.report import (
        COLUMNS,
        frontier_figure,
        row_cells,
        run_models,
        summarize,
        summary_lines,
    )

    local, cloud = run_models(records)
    rows = summarize(records, cloud, local)
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(column)}</th>" for column in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row_cells(row)) + "</tr>"
        for row in rows
    )
    lines = summary_lines(rows)
    if not cloud:
        lines.append(
            "costs: these runs record no name for the cloud model (they were given a model "
            "object, or ran before runs recorded names), so it is not priced"
        )
    verdict = "".join(f"<p class='meta'>{html.escape(line)}</p>" for line in lines)
    return (
        f"<h2>summary ({rows[0].n} items each)</h2><div class='wide'><table class='summary'>"
        f"<tr>{head}</tr>{body}</table></div>{verdict}"
        f"<div class='frontier'>{_svg(frontier_figure(rows))}</div>"
    )


def _svg(figure: Any) -> str:
    """A matplotlib figure as an inline `<svg>` element, with no metadata block (whose
    namespaces would be the page's only URLs)."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    keys = ("Creator", "Date", "Format", "Type")
    figure.savefig(buffer, format="svg", metadata=dict.fromkeys(keys))
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def bench_html(records: Sequence[Mapping[str, Any]], title: str = "adaswitch bench") -> str:
    """One page for a bench results file: the summary, then a table of items, each
    linking to its steps."""
    items = [r for r in records if not r.get("meta")]
    rows, details = [], []
    for n, r in enumerate(items):
        anchor = f"item-{n}"
        verdict = "right" if r.get("correct") else "wrong"
        link = f"<a href='#{anchor}'>{html.escape(r['system'])}</a>"
        cells = [
            r["item"],
            "✓" if r.get("correct") else "✗",
            r.get("answer"),
            r.get("gold"),
            r.get("steps", 0),
            r.get("cloud_calls", 0),
            r.get("local_output_tokens", 0),
            r.get("cloud_output_tokens", 0),
            f"{r.get('wall_s', 0):.1f}",
            r.get("error") or "",
        ]
        tds = "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
        rows.append(f"<tr class='{verdict} item'><td>{link}</td>{tds}</tr>")
        cards = "".join(step_card(s, r.get("threshold")) for s in r.get("trajectory", []))
        if not cards and r.get("escalated") is not None:
            how = "escalated to the cloud" if r["escalated"] else "answered locally"
            cards = f"<p class='meta'>{how} (assembled from the local and cloud runs)</p>"
        heading = html.escape(f"{r['system']} · {r['item']}")
        outcome = html.escape(f"{verdict}: {r.get('answer')} (gold {r.get('gold')})")
        question = f"<p>{html.escape(r['question'])}</p>" if r.get("question") else ""
        details.append(
            f"<section id='{anchor}'><h2>{heading} <span class='meta'>{outcome}</span></h2>"
            f"{question}{cards}<a href='#top' class='meta'>back to the table</a></section>"
        )
    header = "".join(
        f"<th>{h}</th>"
        for h in (
            "system", "item", "right", "answer", "gold", "steps", "cloud calls",
            "local out tok", "cloud out tok", "wall s", "error",
        )
    )  # fmt: skip
    body = (
        f"<h1 id='top'>{html.escape(title)}</h1>{bench_summary(records)}"
        f"<h2>items</h2><p class='meta'>{len(items)} records · "
        "<input data-filter='tr.item' placeholder='filter rows'></p>"
        f"<table><tr>{header}</tr>{''.join(rows)}</table>{''.join(details)}"
    )
    return _page(title, body)
