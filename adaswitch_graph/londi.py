"""LONDI-B (Chen et al., 2024): a step-level switching policy learned by reinforcement
learning, with a hard budget on cloud calls in its state.

At each draft step the controller sees the state `(error probability of the draft, the
step's place, the share of its budget of cloud calls spent, the chance that the steps
before it are right)` and chooses between two actions: accept the step, or switch,
the cloud taking the step. Each action has a value `Q(s, a)` linear in the state; the
policy switches when switching is worth more and budget is left. LONDI-B puts the
budget in the state, so the values learn that a call spent early is a call missing
later, and never calls past it.

The values are learned offline by fitted Q-iteration from bench runs that switch at
random (the exploration): the return of an episode is 1 for a right final answer, less
`cost` for each cloud call (none by default: the budget is the constraint). Fit one to
a pair of models with `adaswitch fit-londi` (`fit_londi`); `LondiPolicy.default()` is
the one fitted on the bundled pair's GSM8K train items."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from adaswitch_graph.policies import StepView
    from adaswitch_graph.state import Decision

LONDI_FEATURES = (
    "bias",
    "error_probability",
    "position",
    "budget_spent",
    "right_so_far",
    "error_probability*right_so_far",
    "error_probability*position",
    "error_probability*budget_spent",
)
"""The state a value is linear in: a constant, the draft's error probability, its place
(step index / `POSITION_SCALE`, at most 1), the share of `max_calls` spent, the chance
that the steps before it are right (the product of one minus the error probability of
each step the local model wrote; the cloud's count as right), and the error probability
times each of the other three: what a wrong draft loses is what the rest of the
solution is worth. Without `right_so_far` a spent budget would stand for earlier steps
being right, and the values would learn to spend it for that."""
POSITION_SCALE = 8
RIDGE = 1e-3
"""The ridge penalty of each regression of fitted Q-iteration (the states are few)."""


def right_so_far(steps: Sequence[Mapping[str, Any]]) -> float:
    """The chance that `steps` are all right, by their error probabilities (the
    cloud's steps, and steps without one, count as right)."""
    return math.prod(map(_chance_right, steps))


def _chance_right(step: Mapping[str, Any]) -> float:
    p = step.get("error_probability")
    return 1.0 - p if step["author"] == "local" and p is not None else 1.0


def state_features(
    error_probability: float, index: int, used: int, max_calls: int, so_far: float
) -> np.ndarray:
    """The state of a draft step as `LONDI_FEATURES`."""
    spent = min(used / max_calls, 1.0) if max_calls else 1.0
    place = min(index / POSITION_SCALE, 1.0)
    p = error_probability
    return np.array([1.0, p, place, spent, so_far, p * so_far, p * place, p * spent])


@dataclass(frozen=True)
class LondiPolicy:
    """Switch to the cloud when the learned value of having it take the step exceeds
    that of accepting the draft, and fewer than `max_calls` cloud calls were made in
    the run (the calls are its budget's, apart from any `Budget` of the graph).

    `accept` and `cloud` are the weights of `Q(s, accept)` and `Q(s, cloud)` over
    `LONDI_FEATURES`; `cost` is what each cloud call cost in the fitted return (kept to
    say what the values mean). A draft without an error probability is accepted.
    """

    accept: Sequence[float]
    cloud: Sequence[float]
    max_calls: int = 2
    cost: float = 0.0

    def __post_init__(self) -> None:
        for name in ("accept", "cloud"):
            weights = tuple(float(w) for w in getattr(self, name))
            if len(weights) != len(LONDI_FEATURES):
                raise ValueError(
                    f"LondiPolicy.{name} needs {len(LONDI_FEATURES)} weights "
                    f"({', '.join(LONDI_FEATURES)}), got {len(weights)}"
                )
            object.__setattr__(self, name, weights)
        if not isinstance(self.max_calls, int) or self.max_calls < 0:
            raise ValueError(f"max_calls must be an int >= 0, got {self.max_calls!r}")

    def decide(self, view: StepView) -> Decision:
        p = view.step.get("error_probability")
        if p is None:
            return "accept"
        used = view.cloud_calls
        so_far = right_so_far(view.steps)
        state = state_features(p, view.step["index"], used, self.max_calls, so_far)
        return "cloud" if self.switches(state, used) else "accept"

    @property
    def advantage_weights(self) -> np.ndarray:
        """`cloud - accept`: the weights of `Q(s, cloud) - Q(s, accept)`."""
        return np.subtract(self.cloud, self.accept)

    def advantage(self, error_probability: float, index: int, used: int, so_far: float) -> float:
        """`Q(s, cloud) - Q(s, accept)` at the state of a draft step."""
        state = state_features(error_probability, index, used, self.max_calls, so_far)
        return float(state @ self.advantage_weights)

    def switches(self, states: np.ndarray, used: np.ndarray | int) -> np.ndarray:
        """Whether it switches at each state (`LONDI_FEATURES`, one a row) after `used`
        cloud calls: the cloud's value is higher and budget is left."""
        cloud_better: np.ndarray = states @ self.advantage_weights > 0
        return cloud_better & (np.asarray(used) < self.max_calls)

    @classmethod
    def default(cls) -> LondiPolicy:
        """The policy shipped with the package, fitted on the bundled pair."""
        text = resources.files("adaswitch_graph").joinpath("londi.json").read_text()
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> LondiPolicy:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except FileNotFoundError:
            raise ValueError(
                f"no LONDI policy at {path}; fit one with adaswitch fit-londi"
            ) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path} is not a LONDI policy file: {exc}") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LondiPolicy:
        features = tuple(data.get("features", LONDI_FEATURES))
        if features != LONDI_FEATURES:
            raise ValueError(
                f"its weights are over the features {', '.join(features)}, this version's "
                f"are {', '.join(LONDI_FEATURES)}; fit it again with adaswitch fit-londi"
            )
        return cls(data["accept"], data["cloud"], data["max_calls"], data.get("cost", 0.0))

    def save(self, path: str | Path, **meta: Any) -> None:
        """Write the policy as JSON, with `meta` (how it was fitted) beside it."""
        data = {**asdict(self), "features": LONDI_FEATURES, "meta": meta}
        Path(path).write_text(json.dumps(data, indent=2) + "\n")


@dataclass(frozen=True)
class Transition:
    """One draft step of an episode: its state, the cloud calls made before it,
    whether the cloud took it, and the state of the next draft (None after the last
    step, whose episode earned `reward`)."""

    state: np.ndarray
    used: int
    switched: bool
    next_state: np.ndarray | None
    reward: float


@dataclass(frozen=True)
class LondiFit:
    """A fitted policy, with what it was fitted on."""

    policy: LondiPolicy
    episodes: int
    transitions: int
    switched: float
    """The share of the transitions where the exploration switched."""
    switches: float
    """The share of the fitted states where the learned policy switches."""
    skipped: int
    """Episodes left out: an error, or a step without an error probability."""


def episodes(
    records: Iterable[Mapping[str, Any]], max_calls: int, cost: float
) -> tuple[list[list[Transition]], int]:
    """The episodes of bench records (their trajectories), as transitions, with the
    number of records left out."""
    found: list[list[Transition]] = []
    skipped = 0
    for record in records:
        steps = record.get("trajectory") or []
        if (
            record.get("error")
            or not steps
            or any(s.get("error_probability") is None for s in steps)
        ):
            skipped += 1
            continue
        # Running counts: each step's state is of the steps before it.
        used = list(accumulate((s["author"] == "cloud" for s in steps), initial=0))
        so_far = list(accumulate(map(_chance_right, steps), operator.mul, initial=1.0))
        states = [
            state_features(s["error_probability"], s["index"], used[n], max_calls, so_far[n])
            for n, s in enumerate(steps)
        ]
        episode = []
        for n, step in enumerate(steps):
            switched = step["author"] == "cloud"
            last = n == len(steps) - 1
            reward = -cost * switched + (float(record.get("score", 0.0)) if last else 0.0)
            following = None if last else states[n + 1]
            episode.append(Transition(states[n], used[n], switched, following, reward))
        found.append(episode)
    return found, skipped


def fit_londi(
    records: Iterable[Mapping[str, Any]],
    *,
    cost: float = 0.0,
    max_calls: int = 2,
    iterations: int = 30,
) -> LondiFit:
    """Fitted Q-iteration on the episodes of `records` (bench records with
    trajectories, from a system that switched at random: each action must be seen in
    every kind of state). The return is the final answer's score less `cost` per cloud
    call; a state whose budget is spent can only accept."""
    if cost < 0:
        raise ValueError(f"cost must be >= 0, got {cost}")
    found, skipped = episodes(records, max_calls, cost)
    moves = [t for episode in found for t in episode]
    switched = np.array([t.switched for t in moves], dtype=bool)
    if not moves or switched.all() or not switched.any():
        raise ValueError(
            f"{len(moves)} steps, {int(switched.sum())} of them switched: fitting needs "
            "steps both accepted and switched; run a random system first, e.g. "
            "adaswitch bench --dataset gsm8k-train --systems random:0.4"
        )
    states = np.stack([t.state for t in moves])
    rewards = np.array([t.reward for t in moves])
    ends = [t.next_state is None for t in moves]
    following = np.stack([s if (s := t.next_state) is not None else t.state for t in moves])
    used = np.array([t.used for t in moves])
    can_switch = (used + switched < max_calls) & ~np.array(ends)
    weights = np.zeros((2, len(LONDI_FEATURES)))
    for _ in range(iterations):
        accept_next, cloud_next = following @ weights[0], following @ weights[1]
        best = np.where(can_switch, np.maximum(accept_next, cloud_next), accept_next)
        target = rewards + np.where(ends, 0.0, best)
        weights = np.stack(
            [_ridge(states[switched == side], target[switched == side]) for side in (False, True)]
        )
    policy = LondiPolicy(tuple(weights[0]), tuple(weights[1]), max_calls, cost)
    wants = policy.switches(states, used)
    return LondiFit(
        policy, len(found), len(moves), float(switched.mean()), float(wants.mean()), skipped
    )


def _ridge(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    gram = x.T @ x + RIDGE * len(x) * np.eye(x.shape[1])
    return np.linalg.solve(gram, x.T @ y)
