"""PRIM scenario discovery and its condition grammar."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.sweep.discovery import Condition, choose_box, discover, parse_where, peel, prim


def planted(n: int = 1000, noise: float = 0.03, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """Uniform points in [0, 1]^4; cases where a > 0.6 and b < 0.3, a few labels flipped."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.uniform(size=(n, 4)), columns=["a", "b", "c", "d"])
    y = ((x["a"] > 0.6) & (x["b"] < 0.3)).to_numpy()
    return x, y ^ (rng.uniform(size=n) < noise)


@pytest.mark.parametrize("threshold", [None, 0.8])
def test_prim_finds_a_planted_box(threshold):
    x, y = planted()
    result = prim(x, y, threshold=threshold)
    limits = result.restricted()
    assert set(limits) == {"a", "b"}
    assert limits["a"][0] == pytest.approx(0.6, abs=0.05)
    assert limits["b"][1] == pytest.approx(0.3, abs=0.06)
    assert result.box.coverage > 0.75 and result.box.density > 0.8


def test_peeling_trajectory_trades_coverage_for_density():
    x, y = planted()
    trajectory = peel(x, y, alpha=0.05, mass_min=0.05)
    first, last = trajectory[0], trajectory[-1]
    assert first.coverage == 1.0 and first.mass == 1.0
    assert first.density == pytest.approx(y.mean())
    assert last.density > 0.9 and last.mass >= 0.05
    assert all(b.coverage <= a.coverage for a, b in zip(trajectory, trajectory[1:], strict=False))


def test_discrete_parameters_are_peeled_one_value_at_a_time():
    x = pd.DataFrame({"k": np.repeat(np.arange(5), 40), "z": np.tile(np.linspace(0, 1, 40), 5)})
    y = (x["k"] >= 3).to_numpy()
    result = prim(x, y, threshold=1.0)
    assert result.restricted() == {"k": (3.0, 4.0)}
    assert result.box.density == 1.0 and result.box.coverage == 1.0


def test_covering_finds_a_second_box():
    x, y = planted(noise=0.0)
    y = y | ((x["c"] < 0.3) & (x["d"] > 0.7)).to_numpy()
    found = discover(x, y, "m < 1", threshold=0.8, max_boxes=3)
    assert len(found.runs) == 2
    assert set(found.runs[0].restricted()) == {"a", "b"}
    assert set(found.runs[1].restricted()) == {"c", "d"}
    info = found.to_json()
    assert info["n_cases"] == int(y.sum()) and len(info["boxes"]) == 2


def test_no_cases_gives_no_box():
    x, _ = planted()
    found = discover(x, np.zeros(len(x), dtype=bool), "m < 0")
    assert found.runs == [] and found.to_json()["boxes"] == []


def test_threshold_picks_the_widest_box_that_reaches_it():
    x, y = planted()
    trajectory = peel(x, y)
    i = choose_box(trajectory, threshold=0.7)
    assert trajectory[i].density >= 0.7
    assert all(b.density < 0.7 for b in trajectory[:i])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("served_share.academics < 0.5", Condition("served_share.academics", "<", 0.5)),
        ("x<=1e3", Condition("x", "<=", 1000.0)),
        ("  price_paid.startups >= -2 ", Condition("price_paid.startups", ">=", -2.0)),
        ("a-b > .5", Condition("a-b", ">", 0.5)),
    ],
)
def test_where_grammar(text, expected):
    assert parse_where(text) == expected


@pytest.mark.parametrize(
    "text",
    ["x == 1", "x < y", "x < 1 and y > 2", "1 < x", "x <", "x < nan", "x < inf", "os.system('x')"],
)
def test_where_grammar_rejects_anything_else(text):
    with pytest.raises(ValueError, match="--where"):
        parse_where(text)


@given(st.text(max_size=40))
def test_where_never_evaluates_text(text):
    try:
        cond = parse_where(text)
    except ValueError:
        return
    assert cond.op in ("<", "<=", ">", ">=") and np.isfinite(cond.value)
