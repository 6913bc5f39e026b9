"""`adaswitch calibrate` on the steps the real bundled 0.5B wrote in a bench run."""

from __future__ import annotations

import json
from pathlib import Path

from adaswitch_graph.verifier import Verifier
from tests.integration.test_real_models import cli

ITEMS = [
    {
        "question": "Tom has 3 apples and buys 5 more. Then he buys 4 more. How many apples "
        "does he have now?",
        "answer": "3 + 5 = <<3+5=8>>8 apples\n8 + 4 = <<8+4=12>>12 apples\n#### 12",
    },
    {
        "question": "A box holds 6 eggs. How many eggs are in 4 boxes and 2 more eggs?",
        "answer": "6 * 4 = <<6*4=24>>24 eggs\n24 + 2 = <<24+2=26>>26 eggs\n#### 26",
    },
    {
        "question": "Ann reads 12 pages a day for 3 days, then 5 pages. How many pages?",
        "answer": "12 * 3 = <<12*3=36>>36 pages\n36 + 5 = <<36+5=41>>41 pages\n#### 41",
    },
]


def test_calibrate_fits_on_the_real_local_models_steps(tmp_path: Path) -> None:
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps(i) + "\n" for i in ITEMS))
    run = tmp_path / "run.jsonl"
    args = ("--data", str(data), "--systems", "local", "--max-steps", "5", "--out", str(run))
    done = cli("bench", *args)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "mine.json"
    fitted = cli("calibrate", str(run), "--data", str(data), "--out", str(out))
    assert fitted.returncode == 0, fitted.stderr
    text = " ".join(fitted.stdout.split())
    assert "3 items," in text and "labelled from the reference" in text
    verifier = Verifier.load(out)
    # Fitted on the digit confidence the real model's log-probabilities gave each step.
    assert list(verifier.coefficients) == ["digits_logprob"]
    threshold = float(text.split("of these steps: ")[1].split()[0])
    assert 0.0 <= threshold <= 1.0
    assert f"--threshold {threshold:.3g}" in text
