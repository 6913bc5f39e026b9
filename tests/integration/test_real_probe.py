"""benchmarks/probe_hidden_states.py reads real hidden states off the bundled 0.5B."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.test_calibrate import write_run
from tests.test_probe import probe


def test_states_come_from_the_local_model_and_are_kept(tmp_path: Path) -> None:
    data, run = write_run(tmp_path)
    path = tmp_path / "states.npz"
    args = (str(run), "--data-dir", str(data), "--states", str(path), "--components", "1")
    done = probe(*args)
    assert done.returncode == 0, done.stderr
    assert "states: 20/20 items" in done.stdout
    states = np.load(path)["states"]
    assert states.shape == (40, 896)  # one per local step; Qwen2.5-0.5B's hidden size
    assert np.isfinite(states).all()
    assert len({row.tobytes() for row in states}) == 40  # every prefix reads differently
    # A second run reads the kept states instead of starting the model again.
    again = probe(*args)
    assert again.returncode == 0, again.stderr
    assert "states:" not in again.stdout
    assert "probe, 1 components:" in again.stdout
