"""benchmarks/probe_hidden_states.py on stored states: the cross-validated probe, and
states that do not belong to the run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from tests.test_calibrate import run_script, write_run


def probe(*args: str) -> subprocess.CompletedProcess[str]:
    # The real-model test reads 40 prefixes off the 0.5B, which takes minutes on a busy
    # 2-core machine.
    return run_script("probe_hidden_states.py", *args, timeout=900)


def states(tmp_path: Path, rows: int, signal: float = 1.0) -> Path:
    """States of `write_run`'s 40 steps in its order (two per item, the second computes;
    even items' are wrong): the label times `signal` along a direction shared by half the
    dimensions (so that it is the first principal component), over overlapping noise."""
    rng = np.random.default_rng(0)
    x = rng.normal(scale=0.5, size=(rows, 6))
    for n in range(rows // 2):
        x[2 * n + 1, :3] += signal if n % 2 == 0 else -signal
    path = tmp_path / "states.npz"
    np.savez(path, states=x)
    return path


def probe_auroc(stdout: str, components: int) -> float:
    found = re.search(rf"probe, {components} components: (\d\.\d+)", stdout)
    assert found, stdout
    return float(found.group(1))


def test_the_probe_finds_the_label_only_where_the_states_carry_it(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    figures = {}
    for signal in (1.0, 0.0):
        path = states(tmp_path, 40, signal)
        args = [str(run), "--data-dir", str(data), "--states", str(path), "--components", "1"]
        done = probe(*args)
        assert done.returncode == 0, done.stderr
        assert "digits_logprob: 1.000" in done.stdout  # the synthetic run's baseline
        figures[signal] = probe_auroc(done.stdout, 1)
    assert figures[1.0] >= 0.8
    assert figures[0.0] <= 0.7


def test_states_of_another_run_are_refused(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    path = states(tmp_path, 38)
    done = probe(str(run), "--data-dir", str(data), "--states", str(path))
    assert done.returncode != 0
    assert "holds 38 states for 40 steps" in done.stderr


def test_without_the_reference_it_says_what_is_missing(tmp_path: Path) -> None:
    _, run = write_run(tmp_path)
    done = probe(str(run), "--data-dir", str(tmp_path / "nowhere"))
    assert done.returncode != 0
    assert "no GSM8K or SVAMP item train-0" in done.stderr
