"""Does the local model's hidden state tell its wrong steps from right ones better than
its token confidence? A linear probe, cross-validated on a local-alone bench run.

For each local step, the bundled 0.5B reads the prompt and the solution up to the end
of that step, and llama.cpp returns the last token's final hidden state. Those states
are reduced to their first K principal components (fitted without labels), and a
logistic probe on them is cross-validated by item against the reference step labels of
`calibrate_verifier.py`, alone and next to the shipped verifier's feature (`digits_logprob`):

    python benchmarks/probe_hidden_states.py runs/train.jsonl --data-dir DIR \\
        --states runs/train-states.npz

Computing the states takes one forward pass per step (about 45 minutes for 240 GSM8K
items on 2 cores); `--states` keeps them, and a re-run reads them back.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
from calibrate_verifier import step_parser, step_rows
from langchain_core.messages import convert_to_openai_messages

from adaswitch_graph.bundled import model_path
from adaswitch_graph.calibration import (
    FEATURES,
    STEP_AUROC,
    Row,
    cross_validated,
    local_steps,
    local_text,
)
from adaswitch_graph.datasets import Item
from adaswitch_graph.embedded import DEFAULT_LOCAL, _free_port, cpu_threads
from adaswitch_graph.prompts.local import LOCAL_PROMPT
from adaswitch_graph.steps import render_steps


def contexts(path: str, system: str, items: Mapping[str, Item]) -> list[tuple[str, str]]:
    """The question and the solution up to the end of the step, for each local step that
    `steps_of` yields, in its order."""
    return [
        (items[record["item"]].question, render_steps(_drafted(record["trajectory"], n)))
        for record, n in local_steps(path, system)
    ]


def _drafted(trajectory: Sequence[Any], n: int) -> list[Any]:
    """The steps before step n, and step n as the local model drafted it."""
    return [*trajectory[:n], {**trajectory[n], "text": local_text(trajectory[n])}]


def hidden_states(steps: Sequence[tuple[str, str]]) -> np.ndarray:
    """The last-token final hidden state of the bundled local model after the prompt of
    each question and the solution so far, from an embedding-only llama.cpp server."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path(DEFAULT_LOCAL.removeprefix("embedded:")))
    params.embedding = True
    params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_LAST
    params.embd_normalize = -1  # the raw state; the probe standardises it
    params.n_ctx = 4096
    params.n_batch = params.n_ubatch = 2048
    params.cpuparams.n_threads = cpu_threads()
    params.verbosity = -1
    params.port = _free_port()
    server = xllamacpp.Server(params)
    base = f"http://127.0.0.1:{params.port}"
    vectors: list[list[float]] = []
    # One request per item: its steps share the question, so the prompt is rendered once.
    per_item = [(q, [p for _, p in group]) for q, group in groupby(steps, key=itemgetter(0))]
    for n, (question, prefixes) in enumerate(per_item):
        messages = convert_to_openai_messages(LOCAL_PROMPT.format_messages(question=question))
        head = _post(f"{base}/apply-template", {"messages": messages})["prompt"]
        data = _post(f"{base}/v1/embeddings", {"input": [head + p for p in prefixes]})
        vectors += [row["embedding"] for row in data["data"]]
        print(f"  states: {n + 1}/{len(per_item)} items", flush=True)
    del server  # stops it
    return np.array(vectors, dtype=np.float32)


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def with_components(rows: Sequence[Row], states: np.ndarray, k: int) -> list[Row]:
    """`rows` with the first `k` principal components of their states as signals
    `pc1`..`pck` (standardised states; no labels are used)."""
    z = (states - states.mean(0)) / (states.std(0) + 1e-6)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    scores = z @ vt[:k].T
    return [
        replace(r, signals={**r.signals, **{f"pc{j + 1}": float(v) for j, v in enumerate(s)}})
        for r, s in zip(rows, scores, strict=True)
    ]


def main() -> None:
    parser = step_parser(__doc__)
    parser.add_argument("--states", help="NPZ that keeps the hidden states between runs")
    parser.add_argument("--components", default="8,16,32,64", help="values of K to try")
    args = parser.parse_args()

    items, rows = step_rows(args)
    if missing := sorted({r.item for r in rows} - items.keys()):
        raise SystemExit(
            f"no GSM8K or SVAMP item {missing[0]} (and {len(missing) - 1} more); "
            "is --data-dir right?"
        )
    if args.states and Path(args.states).exists():
        states = np.load(args.states)["states"].astype(np.float64)
    else:
        states = hidden_states(contexts(args.records, args.system, items))
        if args.states:
            np.savez(args.states, states=states)
    if len(states) != len(rows):
        raise SystemExit(
            f"{args.states} holds {len(states)} states for {len(rows)} steps; it was made "
            "from another run: delete it to recompute"
        )
    print(f"{args.cv}-fold cross-validated AUROC of step p vs step wrong (reference):")
    baseline = cross_validated(rows, FEATURES, "steps", args.cv)
    print(f"  {','.join(FEATURES)}: {baseline[STEP_AUROC]:.3f}")
    for k in (int(v) for v in args.components.split(",")):
        probe = with_components(rows, states, k)
        pcs = tuple(f"pc{j + 1}" for j in range(k))
        alone = cross_validated(probe, pcs, "steps", args.cv)[STEP_AUROC]
        both = cross_validated(probe, (*pcs, *FEATURES), "steps", args.cv)[STEP_AUROC]
        print(f"  probe, {k} components: {alone:.3f}; with {','.join(FEATURES)}: {both:.3f}")


if __name__ == "__main__":
    main()
