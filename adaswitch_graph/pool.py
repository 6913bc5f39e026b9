"""Pooling bench results run apart (held-out sets of one dataset, run on other days or
machines) into one results file, which `adaswitch bench --report-only` summarizes as a
single run over all their items."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adaswitch_graph.bench import item_records, read_records
from adaswitch_graph.errors import AdaSwitchError


def pool_results(paths: Sequence[str | Path], out: str | Path) -> list[dict[str, Any]]:
    """Write the records of the results files `paths` to the new file `out`; returns them.

    Each file gives its last record of each (system, item), as `read_records` reads it,
    and all its run records: the pooled summary then times each system over every run
    and prices the models the runs name. Nothing is written when `out` exists (it may be
    a run's results), a file is missing or holds no item, two files hold the same
    (system, item) (it would count twice, or one of them would be dropped unseen), or
    the files' runs name different models (their rows would not compare)."""
    target = Path(out)
    if target.exists():
        raise AdaSwitchError(f"{target} exists; give --out a new file (the pooled results)")
    if len({Path(p).resolve() for p in paths}) < len(paths):
        raise AdaSwitchError("a results file is given twice; give each once")
    seen: dict[tuple[str, str], Path] = {}
    pooled: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for path in map(Path, paths):
        if not path.exists():
            raise AdaSwitchError(f"{path} does not exist; give the results files of benches")
        records = read_records(path)
        items = item_records(records)
        if not items:
            raise AdaSwitchError(f"{path} holds no finished item; is it a bench results file?")
        for record in items:
            key = (record["system"], record["item"])
            if key in seen:
                raise AdaSwitchError(
                    f"{path} and {seen[key]} both hold {key[0]} on item {key[1]}: pool the "
                    "results of benches on different items (--offset), or summarize one file"
                )
            seen[key] = path
        pooled += items
        runs += [r for r in records if r.get("meta")]
    _check_models(runs)
    pooled += runs
    # Written whole under another name first, so a failure midway leaves no `out` that a
    # later pool would refuse or a summary would read as complete.
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text("".join(json.dumps(r) + "\n" for r in pooled), encoding="utf-8")
    partial.replace(target)
    return pooled


def _check_models(runs: Sequence[dict[str, Any]]) -> None:
    # A run given model objects records no names ("" or none): it is not counted against
    # the others.
    for role in ("local", "cloud"):
        names = sorted({r[role] for r in runs if r.get(role)})
        if len(names) > 1:
            raise AdaSwitchError(
                f"the runs pooled used different {role} models ({', '.join(names)}); "
                "pool results of the same pair of models"
            )
