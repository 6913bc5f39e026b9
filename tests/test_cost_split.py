"""benchmarks/cost_split.py: where a system's cloud dollars go, against cloud alone's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.test_calibrate import run_script, write_jsonl


def item(system: str, n: int, **cloud: int) -> dict[str, Any]:
    return {"system": system, "item": f"test-{n}", "correct": True, "error": None} | {
        f"cloud_{field}": value for field, value in cloud.items()
    }


def write_bench(tmp_path: Path, meta: dict[str, Any]) -> Path:
    """Cloud alone: 2 calls, 200 input and 40 output tokens a question. The system: 10
    calls, 1000 input tokens (one item's all estimated from 2000 characters the backend
    reported no tokens for) and 10 output tokens a question."""
    rows = [meta]
    for n in range(2):
        rows.append(item("cloud", n, calls=2, input_tokens=200, output_tokens=40))
    rows.append(item("token", 0, calls=10, input_tokens=1000, output_tokens=10, input_chars=2000))
    # 1000 tokens in the 2000 counted characters: the 2000 uncounted are 1000 more.
    rows.append(
        item(
            "token",
            1,
            calls=10,
            input_tokens=0,
            output_tokens=10,
            input_chars=2000,
            uncounted_input_chars=2000,
        )
    )
    rows.append(item("token", 2, calls=99, input_tokens=99))  # cloud alone never ran it
    results = tmp_path / "bench.jsonl"
    write_jsonl(results, rows)
    return results


def test_the_bill_splits_into_sent_and_written_and_finds_the_break_even(tmp_path: Path) -> None:
    # A price the run recorded (--price) is the one used.
    meta = {"meta": True, "system": "cloud", "cloud": "m", "prices": {"m": [1.0, 2.0]}}
    done = run_script("cost_split.py", str(write_bench(tmp_path, meta)), "--system", "token")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("2 items both finished; the cloud at $1 / $2 per million")
    # Per 1000 questions: 1000 * 1 * 1000 / 1e6 sent, 1000 * 2 * 10 / 1e6 written.
    assert lines[1] == (
        "token: 10.0 calls/q, 100 input tokens a call, 10 output tokens/q: "
        "$1.000 sent + $0.020 written = $1.020"
    )
    assert lines[2] == (
        "cloud: 2.0 calls/q, 100 input tokens a call, 40 output tokens/q: "
        "$0.200 sent + $0.080 written = $0.280"
    )
    # $0.1 a call sent: (0.28 - 0.02) / 0.1 calls cost what cloud alone does.
    assert lines[3] == (
        "token would cost what cloud alone does at 2.6 calls a question (it makes 10.0)"
    )


def test_an_unpriced_cloud_must_be_given_a_price(tmp_path: Path) -> None:
    results = write_bench(tmp_path, {"meta": True, "system": "cloud", "cloud": "mystery"})
    done = run_script("cost_split.py", str(results), "--system", "token")
    assert done.returncode != 0
    assert "no price for the cloud model 'mystery'; give --price IN,OUT" in done.stderr
    done = run_script("cost_split.py", str(results), "--system", "token", "--price", "1,2")
    assert done.returncode == 0, done.stderr
    assert "= $1.020" in done.stdout
    done = run_script("cost_split.py", str(results), "--system", "nope", "--price", "1,2")
    assert "the records hold no nope system" in done.stderr


def write_cached(tmp_path: Path, **second: int) -> Path:
    """Cloud alone: 200 input tokens a question, 50 of them cached. The system: 1000
    reported for one item, 800 of them cached, and its other item's usage `second`."""
    rows: list[dict[str, Any]] = [
        {"meta": True, "system": "cloud", "cloud": "m", "prices": {"m": [1.0, 2.0]}}
    ]
    for n in range(2):
        rows.append(item("cloud", n, calls=2, input_tokens=200, cached_input_tokens=50))
    rows.append(item("token", 0, calls=10, input_tokens=1000, cached_input_tokens=800))
    rows.append(item("token", 1, calls=10, **second))
    results = tmp_path / "bench.jsonl"
    write_jsonl(results, rows)
    return results


def test_cached_input_tokens_are_shown_and_priced_at_a_cached_price(tmp_path: Path) -> None:
    # The system's second item's input is all estimated: its share is of the reported
    # tokens, as in the bench summary, but its bill counts them all.
    results = write_cached(tmp_path, input_chars=4000, uncounted_input_chars=4000)
    done = run_script("cost_split.py", str(results), "--system", "token")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == [
        "token: 80% of the input tokens the server reported were read from its prompt cache",
        "cloud: 25% of the input tokens the server reported were read from its prompt cache",
    ]
    done = run_script("cost_split.py", str(results), "--system", "token", "--cached-price", "0.1")
    assert done.returncode == 0, done.stderr
    # Per 1000 questions, 400 and 50 tokens at $0.1 a million instead of $1.
    assert done.stdout.splitlines()[-1] == (
        "with cached input tokens at $0.1 per million: token $0.640, cloud $0.155"
    )


def test_a_cached_price_needs_records_that_count_cached_tokens(tmp_path: Path) -> None:
    meta = {"meta": True, "system": "cloud", "cloud": "m", "prices": {"m": [1.0, 2.0]}}
    results = write_bench(tmp_path, meta)
    done = run_script("cost_split.py", str(results), "--system", "token")
    assert done.returncode == 0, done.stderr
    assert "prompt cache" not in done.stdout
    done = run_script("cost_split.py", str(results), "--system", "token", "--cached-price", "0.1")
    assert done.returncode != 0
    assert "--cached-price: these records count no input tokens read from a prompt cache" in (
        done.stderr
    )


def test_records_from_before_the_cached_count_give_no_share(tmp_path: Path) -> None:
    results = write_cached(tmp_path, input_tokens=1000)  # written before the count
    done = run_script("cost_split.py", str(results), "--system", "token")
    assert done.returncode == 0, done.stderr
    assert "prompt cache" not in done.stdout
    done = run_script("cost_split.py", str(results), "--system", "token", "--cached-price", "0.1")
    assert done.returncode != 0
    assert "some of them were written before the bench counted them" in done.stderr
