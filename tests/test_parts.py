"""Policies, budget, verifier, signals and the step text format."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from adaswitch_graph import (
    AdaSwitchPrompts,
    AlwaysCloud,
    AlwaysLocal,
    Budget,
    RandomPolicy,
    SelfVerifyPolicy,
    Step,
    StepView,
    Verifier,
)
from adaswitch_graph.policies import describe_policy, parse_policy, policy_from_description
from adaswitch_graph.signals import confidence_signals, judge_p_correct, token_logprobs
from adaswitch_graph.state import (
    CHARS_PER_TOKEN,
    empty_usage,
    estimated_input_tokens,
    merge_usage,
)
from adaswitch_graph.steps import clean_step, extract_answer


def view(
    p_error: float | None, index: int = 1, retried: bool = False, question: str = "q"
) -> StepView:
    step = Step(
        index=index, text="x", author="local", draft="x", signals={},
        error_probability=p_error, decision=None, flagged=False, assisted=False,
        retried=retried, final=False,
    )  # fmt: skip
    return StepView(question=question, step=step, steps=[], cloud_calls=0)


def test_self_verify_policy_threshold_and_retry() -> None:
    policy = SelfVerifyPolicy(threshold=0.3)
    assert policy.decide(view(0.29)) == "accept"
    assert policy.decide(view(0.3)) == "cloud"
    assert policy.decide(view(None)) == "accept"
    retrying = SelfVerifyPolicy(threshold=0.3, retry=True)
    assert retrying.decide(view(0.9)) == "retry"
    assert retrying.decide(view(0.9, retried=True)) == "cloud"
    with pytest.raises(ValueError, match="threshold"):
        SelfVerifyPolicy(threshold=1.5)


def test_self_verify_policy_gives_long_questions_no_cloud_call() -> None:
    policy = SelfVerifyPolicy(threshold=0.5, max_question_chars=12)
    assert policy.decide(view(0.9, question="a" * 12)) == "cloud"
    assert policy.decide(view(0.9, question="a" * 13)) == "accept"
    assert SelfVerifyPolicy(threshold=0.5).decide(view(0.9, question="a" * 1000)) == "cloud"


def test_baselines() -> None:
    assert AlwaysLocal().decide(view(0.99)) == "accept"
    assert AlwaysCloud().decide(view(0.0)) == "cloud"


def test_random_policy_is_reproducible_and_near_its_rate() -> None:
    policy = RandomPolicy(rate=0.3, seed=7)
    decisions = [policy.decide(view(None, index=i)) for i in range(1, 2001)]
    assert decisions == [policy.decide(view(None, index=i)) for i in range(1, 2001)]
    assert 0.26 < decisions.count("cloud") / len(decisions) < 0.34
    assert RandomPolicy(rate=0.0).decide(view(None)) == "accept"
    assert RandomPolicy(rate=1.0).decide(view(None)) == "cloud"
    with pytest.raises(ValueError, match="rate"):
        RandomPolicy(rate=-0.1)


def test_parse_policy() -> None:
    assert parse_policy("selfverify:0.3") == SelfVerifyPolicy(0.3)
    assert parse_policy("selfverify-retry:0.4") == SelfVerifyPolicy(0.4, retry=True)
    assert parse_policy("selfverify-handover:0.6") == SelfVerifyPolicy(0.6, handover=True)
    with pytest.raises(ValueError, match="exclude each other"):
        SelfVerifyPolicy(0.5, retry=True, handover=True)
    assert parse_policy("selfverify:0.3:300") == SelfVerifyPolicy(0.3, max_question_chars=300)
    assert parse_policy("selfverify::300") == SelfVerifyPolicy(max_question_chars=300)
    with pytest.raises(ValueError, match="max_question_chars must be a positive"):
        parse_policy("selfverify:0.3:0")
    assert parse_policy("random:0.2") == RandomPolicy(0.2)
    assert parse_policy("local") == AlwaysLocal()
    assert parse_policy("cloud") == AlwaysCloud()
    with pytest.raises(ValueError, match="unknown policy spec"):
        parse_policy("oracle")
    with pytest.raises(ValueError, match="bad policy spec"):
        parse_policy("selfverify:high")


def test_policies_round_trip_through_their_trace_description() -> None:
    handover = SelfVerifyPolicy(0.6, handover=True)
    assert policy_from_description(describe_policy(handover)) == handover
    # Traces written before `handover` existed still replay.
    older = {"type": "SelfVerifyPolicy", "threshold": 0.43, "retry": False}
    assert policy_from_description(older) == SelfVerifyPolicy(0.43)


def test_budget() -> None:
    usage = {"cloud": {"calls": 2, "output_tokens": 50}}
    assert Budget().exhausted(usage) is None  # type: ignore[arg-type]
    assert Budget(max_cloud_calls=3).exhausted(usage) is None  # type: ignore[arg-type]
    assert "2 of 2 cloud calls" in Budget(max_cloud_calls=2).exhausted(usage)  # type: ignore[arg-type,operator]
    assert Budget(max_cloud_tokens=60).remaining_tokens(usage) == 10  # type: ignore[arg-type]
    assert "50 cloud output tokens" in Budget(max_cloud_tokens=50).exhausted(usage)  # type: ignore[arg-type,operator]
    with pytest.raises(ValueError, match="max_cloud_calls"):
        Budget(max_cloud_calls=-1)


def counts(
    calls: int, tin: int, tout: int, cin: int, cout: int, uncounted: int = 0, cached: int = 0
) -> dict[str, int]:
    return {
        "calls": calls,
        "input_tokens": tin,
        "output_tokens": tout,
        "input_chars": cin,
        "output_chars": cout,
        "uncounted_input_chars": uncounted,
        "cached_input_tokens": cached,
    }


def test_merge_usage() -> None:
    a = {
        "local": {
            "calls": 1,
            "input_tokens": 5,
            "output_tokens": 2,
            "input_chars": 9,
            "output_chars": 3,
        }
    }
    b = {"local": counts(1, 1, 1, 1, 1, 1, 1), "cloud": counts(1, 7, 4, 20, 8, cached=5)}
    merged = merge_usage(a, b)  # type: ignore[arg-type]
    assert merged["local"] == counts(2, 6, 3, 10, 4, 1, 1)
    assert merged["cloud"]["cached_input_tokens"] == 5
    assert merged["cloud"]["input_chars"] == 20
    assert a["local"]["calls"] == 1  # the reducer does not mutate its inputs
    # A ledger written before `uncounted_input_chars` and `cached_input_tokens` existed
    # merges as having none.
    old = merge_usage(a, {})["local"]  # type: ignore[arg-type]
    assert old["uncounted_input_chars"] == old["cached_input_tokens"] == 0


def test_uncounted_characters_are_counted_at_the_rate_of_the_counted_ones() -> None:
    # 300 characters in calls that reported 100 tokens; 150 more in calls that did not.
    usage = {"input_tokens": 100, "input_chars": 450, "uncounted_input_chars": 150}
    assert estimated_input_tokens(usage) == pytest.approx(150)
    assert estimated_input_tokens({**usage, "uncounted_input_chars": 0}) == 100
    # No call reported any: CHARS_PER_TOKEN characters a token.
    nothing = {"input_tokens": 0, "input_chars": 400, "uncounted_input_chars": 400}
    assert estimated_input_tokens(nothing) == 400 / CHARS_PER_TOKEN
    assert estimated_input_tokens(empty_usage()) == 0


def test_verifier_default_is_monotone_in_confidence() -> None:
    verifier = Verifier.default()
    sure = confidence_signals(
        [{"token": " 12", "logprob": -0.01, "top_logprobs": [{"token": " 13", "logprob": -6.0}]}]
    )
    unsure = confidence_signals(
        [{"token": " 12", "logprob": -1.5, "top_logprobs": [{"token": " 13", "logprob": -0.4}]}]
    )
    # local_reason adds the signals read off the text and the step's place to these.
    added = {"arith_errors": 0.0, "first_step": 0.0}
    p_sure, p_unsure = (verifier.error_probability({**s, **added}) for s in (sure, unsure))
    assert p_sure is not None and p_unsure is not None and 0 < p_sure < p_unsure < 1
    assert set(verifier.coefficients) <= {*sure, *added}  # it can score every step
    assert verifier.error_probability({}) is None


def test_verifier_fit_separates_and_round_trips(tmp_path: object) -> None:
    rng = random.Random(0)
    rows, labels = [], []
    for _ in range(400):
        wrong = rng.random() < 0.4
        low = rng.gauss(-4 if wrong else -1, 1)
        rows.append({"min_logprob": low, "mean_logprob": low / 5})
        labels.append(wrong)
    fitted = Verifier.fit(rows, labels, meta={"source": "synthetic"})
    p_wrong = [fitted.error_probability(r) for r, w in zip(rows, labels, strict=True) if w]
    p_right = [fitted.error_probability(r) for r, w in zip(rows, labels, strict=True) if not w]
    assert sum(p_wrong) / len(p_wrong) > 0.6 > 0.3 > sum(p_right) / len(p_right)  # type: ignore[arg-type]
    path = tmp_path / "v.json"  # type: ignore[operator]
    fitted.save(path)
    assert Verifier.load(path) == fitted
    with pytest.raises(ValueError, match="as many labels"):
        Verifier.fit(rows, labels[:-1])


def test_token_logprobs_in_both_wire_formats() -> None:
    openai = AIMessage(
        content="a", response_metadata={"logprobs": {"content": [{"token": "a", "logprob": -1.0}]}}
    )
    ollama = AIMessage(
        content="a", response_metadata={"logprobs": [{"token": "a", "logprob": -2.0}]}
    )
    assert token_logprobs(openai) == [{"token": "a", "logprob": -1.0}]
    assert token_logprobs(ollama) == [{"token": "a", "logprob": -2.0}]
    assert token_logprobs(AIMessage(content="a")) is None


def test_confidence_signals_skip_whitespace_tokens() -> None:
    signals = confidence_signals(
        [
            {"token": "4", "logprob": -0.5},
            {"token": "\n", "logprob": -6.0},
            {"token": "2", "logprob": -1.5},
        ]
    )
    assert signals == {
        "min_logprob": -1.5,
        "mean_logprob": -1.0,
        "n_tokens": 2.0,
        "min_digit_logprob": -1.5,
        "digits_logprob": -2.0,
        "low_token_share": 0.5,
        "mean_margin": 0.0,
    }


def test_confidence_signals_of_numbers_and_margins() -> None:
    signals = confidence_signals(
        [
            {"token": "so", "logprob": -2.0, "top_logprobs": [
                {"token": "so", "logprob": -2.0}, {"token": "then", "logprob": -2.5}]},
            {"token": " 12", "logprob": -0.1, "top_logprobs": [
                {"token": " 12", "logprob": -0.1}, {"token": " 13", "logprob": -3.1}]},
        ]
    )  # fmt: skip
    assert signals["min_digit_logprob"] == -0.1  # the words' doubt is not the number's
    assert signals["digits_logprob"] == -0.1
    assert confidence_signals([{"token": "so", "logprob": -2.0}])["digits_logprob"] == 0.0
    assert signals["mean_margin"] == 0.5 * (0.5 + 3.0)
    assert signals["low_token_share"] == 0.5


def test_judge_verdicts() -> None:
    tops = [
        {"token": "Yes", "logprob": math.log(0.2)},
        {"token": " no", "logprob": math.log(0.6)},
        {"token": "maybe", "logprob": math.log(0.1)},
    ]
    lp = {"content": [{"token": "Yes", "logprob": math.log(0.2), "top_logprobs": tops}]}
    assert judge_p_correct(
        AIMessage(content="Yes", response_metadata={"logprobs": lp})
    ) == pytest.approx(0.25)
    assert judge_p_correct(AIMessage(content="No, step 2 is wrong")) == 0.0
    assert judge_p_correct(AIMessage(content="**Correct**")) == 1.0
    assert judge_p_correct(AIMessage(content="Hmm")) is None


@pytest.mark.parametrize(
    ("raw", "prefix", "expected"),
    [
        ("Step 1: 2 + 2 = 4.\n", "Step 1:", "2 + 2 = 4."),
        (" 2 + 2 = 4.", "Step 1:", "2 + 2 = 4."),
        ("**Step 3:** 5 * 3 = 15\nStep 4: more", "", "5 * 3 = 15"),
        ("Corrected Step 2: 10 - 4 = 6", "", "10 - 4 = 6"),
        ("### Step 2. x = 1\n### Step 3. y", "", "x = 1"),
        ("prior\nStep 2: a", "prior\nStep 2:", "a"),
        # a re-prompted model echoing the request for the next step, then writing it
        (
            "50 / 60 = 0.83 hours\n\nWrite Step 3. Calculate pay.\n12 * 0.83",
            "",
            "50 / 60 = 0.83 hours",
        ),
        ("24 clips\nWrite only Step 3, as 'Step 3: ...'.\n72", "", "24 clips"),
        # a line that only mentions steps is not a marker
        ("5 in all\nStep 1, 2 and 3 give 5", "", "5 in all\nStep 1, 2 and 3 give 5"),
    ],
)
def test_clean_step(raw: str, prefix: str, expected: str) -> None:
    assert clean_step(raw, prefix) == expected


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("48 + 24 = 72\nAnswer: 72", "72"),
        ("**Final Answer:** $1,080", "$1,080"),
        ("so #### 18", "18"),
        ("thus \\boxed{3.5}", "3.5"),
        ("The answer is: yes.", "yes."),
        ("Answer: 4\nAnswer: 5", "5"),
        ("48 + 24 = 72", None),
        ("Answer:\n", None),
    ],
)
def test_extract_answer(text: str, answer: str | None) -> None:
    assert extract_answer(text) == answer


def test_token_logprobs_from_ollama_client_objects() -> None:
    from ollama._types import Logprob, TokenLogprob

    entry = Logprob(token="4", logprob=-0.3, top_logprobs=[TokenLogprob(token="4", logprob=-0.3)])
    message = AIMessage(content="4", response_metadata={"logprobs": [entry]})
    assert token_logprobs(message) == [
        {"token": "4", "logprob": -0.3, "top_logprobs": [{"token": "4", "logprob": -0.3}]}
    ]
    assert judge_p_correct(AIMessage(content="yes", response_metadata={"logprobs": [entry]})) == 1.0


def test_request_stops_come_from_the_prompts_request_lines() -> None:
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

    def human(text: str, **kwargs: Any) -> ChatPromptTemplate:
        return ChatPromptTemplate.from_messages([("human", text)], **kwargs)

    assert AdaSwitchPrompts().request_stops() == ["\nWrite Step ", "\nWrite only Step "]
    same = human("{question}\n{solution}\n  Write Step {index}.")
    assert AdaSwitchPrompts(cloud=same).request_stops() == ["\nWrite Step ", "\nWrite only Step "]
    assert AdaSwitchPrompts(cloud=same, local_next=same).request_stops() == ["\nWrite Step "]
    mustache = human("{{question}}\nNow, step {{index}} please", template_format="mustache")
    assert AdaSwitchPrompts(cloud=mustache).request_stops()[0] == "\nNow, step "
    history = ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history"), ("human", "Go {index}")]
    )
    assert AdaSwitchPrompts(cloud=history).request_stops()[0] == "\nGo "
    # No step number, a number that begins its line, the marker every step has anyway,
    # and a step number the template does not show as it is: no stop of their own.
    for odd in (
        human("{question}\nContinue."),
        human("{question}\n{index}. ..."),
        human("{question}\nStep {index}:"),
        human("{{question}}\nGo {{index.number}}", template_format="mustache"),
    ):
        assert AdaSwitchPrompts(cloud=odd).request_stops() == ["\nWrite only Step "]
