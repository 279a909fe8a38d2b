"""Swept parameters against the schema, and the designs built from them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.loader import apply_overrides, load_raw, validate
from sim.sweep.design import DesignError, build_design, check_design, design_size
from sim.sweep.parameters import (
    Parameter,
    ParameterError,
    materialize_distributions,
    numeric_leaves,
    parse_parameters,
    parse_vary,
)
from sim.sweep.spec import SweepSpec


@pytest.fixture(scope="module")
def tiny_raw(tiny_path):
    return load_raw(tiny_path)


def test_parse_vary_reads_path_and_bounds():
    assert parse_vary("time.horizon_years=1:3.5") == ("time.horizon_years", 1.0, 3.5)
    assert parse_vary(" a.b = -1e3 : .5 ") == ("a.b", -1000.0, 0.5)


@pytest.mark.parametrize("item", ["x", "x=1", "x=1:", "x=a:b", "=1:2", "x=1:2:3"])
def test_parse_vary_rejects_malformed_items(item):
    with pytest.raises(ParameterError, match="expected path=lo:hi"):
        parse_vary(item)


@pytest.mark.parametrize("item", ["x=3:1", "x=2:2"])
def test_parse_vary_rejects_reversed_or_empty_bounds(item):
    with pytest.raises(ParameterError, match="must be below"):
        parse_vary(item)


def test_leaves_cover_numbers_and_distributions_but_not_flags(tiny):
    leaves = numeric_leaves(tiny)
    assert leaves["buyers.startups.count"] == ("int", "startups")
    assert leaves["time.horizon_years"] == ("float", "years")
    assert leaves["buyers.startups.run_gpus"][0] == "float"
    assert "buyers.startups.run_gpus.median" in leaves  # the default is a lognormal
    assert "providers.hyperscalers.gpus_per_site.value" in leaves  # tiny.yaml sets a constant
    for not_numeric in ("seed", "replications", "markets.on_demand.enabled", "time.step"):
        assert not_numeric not in leaves


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("buyers.startup.count=1:3", "did you mean: buyers.startups.count"),
        ("buyers.startups=1:3", "is a section"),
        ("markets.on_demand.enabled=0:1", "not a numeric field"),
        ("seed=1:3", "cannot be varied"),
        ("buyers.startups.count=1.5:3", "whole numbers"),
        ("providers.hyperscalers.gpus_per_site.median=1:3", "fields here are: value"),
    ],
)
def test_bad_parameters_name_the_path_and_what_would_work(tiny, item, message):
    with pytest.raises(ParameterError, match=message):
        parse_parameters([item], tiny)


def test_materialized_distribution_field_overrides_validate(tiny, tiny_raw):
    params = parse_parameters(["buyers.startups.run_gpus.median=16:256"], tiny)
    raw = materialize_distributions(tiny_raw, tiny, params)
    scenario = validate(apply_overrides(raw, {"buyers.startups.run_gpus.median": 100.0}))
    run_gpus = scenario.buyers.startups.run_gpus
    assert run_gpus.dist == "lognormal" and run_gpus.median == 100.0
    assert run_gpus.sigma == tiny.buyers.startups.run_gpus.sigma


@given(st.integers(-5, 5), st.integers(1, 20), st.floats(0, 1))
def test_integer_scaling_stays_in_bounds(lo, width, u):
    param = Parameter("p", lo, lo + width, integer=True)
    value = param.scale(u)
    assert isinstance(value, int) and lo <= value <= lo + width


def test_integer_scaling_gives_each_whole_number_an_equal_share():
    param = Parameter("p", 1, 3, integer=True)
    values = [param.scale(u) for u in (np.arange(300) + 0.5) / 300]
    assert np.bincount(values).tolist() == [0, 100, 100, 100]


def spec(method: str, samples: int, d: int = 3, seed: int = 5) -> SweepSpec:
    params = tuple(Parameter(f"x{j}", 0.0, 10.0) for j in range(d))
    return SweepSpec(params, method, samples, 1, root_seed=seed)


@pytest.mark.parametrize(
    ("method", "samples", "size"),
    [("grid", 4, 64), ("lhs", 10, 10), ("sobol", 8, 40), ("morris", 5, 20)],
)
def test_design_sizes_bounds_and_determinism(method, samples, size):
    design = build_design(spec(method, samples))
    assert design.size == size == design_size(method, samples, 3)
    values = design.values[["x0", "x1", "x2"]].to_numpy()
    assert values.min() >= 0.0 and values.max() <= 10.0
    assert design.digest() == build_design(spec(method, samples)).digest()
    if method != "grid":
        assert design.digest() != build_design(spec(method, samples, seed=6)).digest()


def test_lhs_puts_one_point_in_each_stratum():
    unit = build_design(spec("lhs", 20)).unit
    for j in range(3):
        assert sorted(np.floor(unit[:, j] * 20).astype(int)) == list(range(20))


@pytest.mark.parametrize("samples", [3, 6, 100, 1])
def test_sobol_needs_a_power_of_two(samples):
    with pytest.raises(DesignError, match="power of two"):
        check_design("sobol", samples, 2)


def test_unknown_method_and_huge_designs_are_refused():
    with pytest.raises(DesignError, match="allowed: grid, lhs, sobol, morris"):
        check_design("random", 4, 2)
    with pytest.raises(DesignError, match="limit"):
        check_design("grid", 100, 4)
    assert math.isclose(design_size("sobol", 8, 3, {"calc_second_order": True}), 64)
