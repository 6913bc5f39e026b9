"""Where a bench system's cloud dollars go, and how many calls it could make to cost
what the cloud alone does.

    python benchmarks/cost_split.py runs/test.jsonl --system token-confirm:0.9:4:24

Over the items both the system and cloud alone finished, per question: cloud calls,
input tokens a call (those a backend did not report estimated from their characters, as
the bench does), output tokens, and the cloud's bill split into what it is sent and what
it writes, at the price of the cloud model the last run recorded (`--price IN,OUT`
overrides it). Then the break-even: the calls a question at which the system's cloud
bill would equal cloud alone's, with its input tokens a call and its output tokens
unchanged. The target counts only the tokens the cloud writes; a hosted cloud bills what
it is sent too.

Where the records count input tokens the bench's server read from its prompt cache
(the beginning of a prompt it had processed before), it says what share they are, and
with `--cached-price X` what each bill would be at a provider that bills cached input
tokens at $X per million. A hosted provider caches by its own rules (some only prompts
of 1024 tokens or more), so that is a bound, not its bill.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adaswitch_graph.bench import item_records, read_records
from adaswitch_graph.report import PRICES, cached_share, pooled, recorded_prices, run_models
from adaswitch_graph.state import estimated_input_tokens

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Bill:
    """One system's cloud side, per question."""

    calls: float
    input_tokens: float
    cached_tokens: float
    """Of `input_tokens`, those the backend said it read from its prompt cache."""
    cached_share: float | None
    """`report.cached_share` of the cloud's ledger (None when some records predate the
    count)."""
    output_tokens: float
    price: tuple[float, float]
    """USD per million input / output tokens."""

    @property
    def sent(self) -> float:
        """USD per 1000 questions for the tokens sent to the cloud."""
        return 1000 * self.price[0] * self.input_tokens / 1e6

    @property
    def written(self) -> float:
        """USD per 1000 questions for the tokens the cloud wrote."""
        return 1000 * self.price[1] * self.output_tokens / 1e6

    @property
    def total(self) -> float:
        return self.sent + self.written

    def total_with_cache(self, cached_price: float) -> float:
        """`total` with the cached input tokens at `cached_price` (USD per million)."""
        return self.total - 1000 * self.cached_tokens * (self.price[0] - cached_price) / 1e6


def bill(records: Sequence[Record], price: tuple[float, float]) -> Bill:
    """The cloud bill of `records` (one system's, one per item), per question."""
    n = len(records)
    cloud = pooled(records, "cloud")
    return Bill(
        calls=cloud["calls"] / n,
        input_tokens=estimated_input_tokens(cloud) / n,
        cached_tokens=cloud["cached_input_tokens"] / n,
        cached_share=cached_share(records, "cloud", cloud),
        output_tokens=cloud["output_tokens"] / n,
        price=price,
    )


def break_even(ours: Bill, alone: Bill) -> float | None:
    """The calls a question at which `ours` would cost what `alone` does, with its input
    tokens a call and its output unchanged (None when it makes no call or sends nothing)."""
    if not ours.calls or not ours.sent:
        return None
    sent_per_call = ours.sent / ours.calls
    return max(0.0, (alone.total - ours.written) / sent_per_call)


def split(
    records: Sequence[Record], system: str, price: tuple[float, float] | None = None
) -> tuple[int, tuple[float, float], Bill, Bill]:
    """The items both finished, the cloud's price, and the bills of `system` and cloud
    alone."""
    by: dict[str, dict[str, Record]] = {}
    for record in item_records(records):  # type: ignore[arg-type]
        by.setdefault(record["system"], {})[record["item"]] = record
    missing = {"cloud", system} - by.keys()
    if missing:
        raise SystemExit(f"the records hold no {', '.join(sorted(missing))} system; run them first")
    common = by["cloud"].keys() & by[system].keys()
    if not common:
        raise SystemExit(f"no item was finished by both cloud and {system}")
    if price is None:
        model = run_models(records)[1]
        price = {**PRICES, **recorded_prices(records)}.get(model)
        if price is None:
            raise SystemExit(f"no price for the cloud model {model!r}; give --price IN,OUT")
    ours = bill([by[system][i] for i in common], price)
    alone = bill([by["cloud"][i] for i in common], price)
    return len(common), price, ours, alone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", help="a bench's JSONL results with cloud alone in it")
    parser.add_argument("--system", required=True, help="e.g. token-confirm:0.9:4:24")
    parser.add_argument(
        "--price", help="IN,OUT: USD per million input/output tokens of the cloud model"
    )
    parser.add_argument(
        "--cached-price",
        type=float,
        help="USD per million input tokens read from a prompt cache, for a bill at a "
        "provider that discounts them (the records' cached counts are the bench "
        "server's own)",
    )
    args = parser.parse_args()
    price = None
    if args.price:
        try:
            tokens_in, tokens_out = (float(v) for v in args.price.split(","))
        except ValueError:
            raise SystemExit(f"bad --price {args.price!r}; write IN,OUT, e.g. 0.15,0.6") from None
        price = (tokens_in, tokens_out)
    n, price, ours, alone = split(read_records(args.results), args.system, price)
    shares = [
        (name, b.cached_share)
        for name, b in ((args.system, ours), ("cloud", alone))
        if b.cached_share is not None
    ]
    cached = len(shares) == 2 and bool(ours.cached_tokens or alone.cached_tokens)
    if args.cached_price is not None and not cached:
        raise SystemExit(
            "--cached-price: these records count no input tokens read from a prompt cache "
            "(a backend that reports none), or some of them were written before the bench "
            "counted them"
        )
    print(
        f"{n} items both finished; the cloud at ${price[0]:g} / ${price[1]:g} per million "
        "input / output tokens; $ per 1000 questions"
    )
    for name, b in ((args.system, ours), ("cloud", alone)):
        print(
            f"{name}: {b.calls:.1f} calls/q, {b.input_tokens / b.calls if b.calls else 0:.0f} "
            f"input tokens a call, {b.output_tokens:.0f} output tokens/q: "
            f"${b.sent:.3f} sent + ${b.written:.3f} written = ${b.total:.3f}"
        )
    even = break_even(ours, alone)
    if even is not None:
        print(
            f"{args.system} would cost what cloud alone does at {even:.1f} calls a question "
            f"(it makes {ours.calls:.1f})"
        )
    if cached:
        for name, share in shares:
            print(
                f"{name}: {share:.0%} of the input tokens the server reported were read "
                "from its prompt cache"
            )
    if args.cached_price is not None:
        print(
            f"with cached input tokens at ${args.cached_price:g} per million: "
            f"{args.system} ${ours.total_with_cache(args.cached_price):.3f}, "
            f"cloud ${alone.total_with_cache(args.cached_price):.3f}"
        )


if __name__ == "__main__":
    main()
