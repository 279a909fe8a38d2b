"""Sensitivity indices on functions whose answer is known."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim.sweep.engine import sweep
from sim.sweep.parameters import Parameter
from sim.sweep.sensitivity import analyse, write_sensitivity
from sim.sweep.spec import SweepSpec


def linear(params, seed, replication):
    """y = 3 a - b, c inert; ``flat`` is constant."""
    return {"y": 3 * params["a"] - params["b"], "flat": 1.0}


def run(tmp_path, method: str, samples: int, replications: int = 2):
    params = (Parameter("a", 0, 1), Parameter("b", 0, 1), Parameter("c", 0, 1))
    spec = SweepSpec(params, method, samples, replications, root_seed=9)
    result = sweep(spec, linear, tmp_path / method)
    sens = analyse(result.table, spec, result.folder.design)
    return sens, sens.indices.set_index(["metric", "parameter", "index"])["value"]


def test_morris_gives_the_change_over_the_full_range(tmp_path):
    sens, v = run(tmp_path, "morris", 6)
    assert v["y", "a", "mu_star"] == pytest.approx(3.0)
    assert v["y", "b", "mu"] == pytest.approx(-1.0)
    assert v["y", "c", "mu_star"] == pytest.approx(0.0)
    assert v["y", "a", "sigma"] == pytest.approx(0.0, abs=1e-9)


def test_sobol_of_a_linear_function(tmp_path):
    _, v = run(tmp_path, "sobol", 128, replications=1)
    # Var(3a) = 9/12, Var(b) = 1/12: shares 0.9 and 0.1.
    assert v["y", "a", "S1"] == pytest.approx(0.9, abs=0.03)
    assert v["y", "b", "ST"] == pytest.approx(0.1, abs=0.03)
    assert v["y", "c", "ST"] == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize(("method", "samples"), [("lhs", 60), ("grid", 4)])
def test_rank_correlation_and_effect(tmp_path, method, samples):
    _, v = run(tmp_path, method, samples)
    assert v["y", "a", "spearman"] > 0.8 and v["y", "b", "spearman"] < -0.1
    assert abs(v["y", "c", "spearman"]) < 0.3
    assert v["y", "a", "effect"] > 1.5 and v["y", "b", "effect"] < 0


def test_constant_metric_is_noted_and_files_are_written(tmp_path):
    sens, v = run(tmp_path, "lhs", 10)
    assert any(n.startswith("flat:") and "constant" in n for n in sens.notes)
    assert "flat" not in v.index.get_level_values("metric")
    write_sensitivity(sens, tmp_path)
    table = pd.read_parquet(tmp_path / "sensitivity.parquet")
    assert list(table.columns) == ["metric", "parameter", "index", "value", "conf"]
    info = json.loads((tmp_path / "sensitivity.json").read_text())
    effect = next(r for r in info["indices"] if r["index"] == "effect")
    assert effect["conf"] is None and np.isfinite(effect["value"])
