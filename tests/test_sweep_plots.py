"""Sweep figures: written, non-empty and byte-identical when drawn twice."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.sweep.analytic import NoisyIshigami
from sim.sweep.discovery import prim
from sim.sweep.engine import sweep
from sim.sweep.parameters import Parameter
from sim.sweep.plots import metric_label, plot_peeling, plot_sweep
from sim.sweep.sensitivity import analyse, point_means
from sim.sweep.spec import SweepSpec


def swept(tmp_path, method: str, samples: int, d: int = 3):
    params = tuple(Parameter(f"x{i}", -math.pi, math.pi) for i in range(1, d + 1))
    if d == 2:
        params = (*params[:1], Parameter("x2", 0, 4, integer=True))
    spec = SweepSpec(params, method, samples, 1, root_seed=3)
    model = NoisyIshigami(0.1) if d == 3 else TwoParam()
    result = sweep(spec, model, tmp_path / f"{method}-{d}")
    sens = analyse(result.table, spec, result.folder.design)
    return spec, point_means(result.table, spec, result.folder.design), sens.indices


class TwoParam:
    def __call__(self, params, seed, replication):
        return {"price_paid.x": params["x1"] * params["x2"]}


@pytest.mark.parametrize(
    ("method", "samples", "d", "kinds"),
    [
        ("sobol", 16, 3, {"sobol"}),
        ("morris", 6, 3, {"morris"}),
        ("lhs", 30, 3, {"lhs", "tornado"}),
        ("grid", 4, 2, {"grid", "tornado", "heatmap"}),
    ],
)
def test_figures_are_written_and_deterministic(tmp_path, method, samples, d, kinds):
    spec, means, indices = swept(tmp_path, method, samples, d)
    metric = "y" if d == 3 else "price_paid.x"
    files = {}
    for fmt in ("png", "svg"):
        first = plot_sweep(means, indices, spec, [metric], tmp_path / f"a-{fmt}", fmt=fmt)
        again = plot_sweep(means, indices, spec, [metric], tmp_path / f"b-{fmt}", fmt=fmt)
        assert {p.stem.rsplit("-", 1)[1] for p in first} == kinds
        for p, q in zip(first, again, strict=True):
            assert p.stat().st_size > 1000
            assert p.read_bytes() == q.read_bytes(), p.name
        files[fmt] = first
    svg = files["svg"][0].read_text()
    assert "<dc:date>" not in svg and metric in svg


def test_peeling_plot(tmp_path):
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.uniform(size=(300, 2)), columns=["a", "b"])
    result = prim(x, (x["a"] > 0.5).to_numpy(), threshold=0.9)
    path = plot_peeling(result.frame(), result.chosen, 0.9, tmp_path / "peel.png")
    assert path.stat().st_size > 1000


def test_metric_labels_carry_units():
    assert metric_label("on_demand_price.mean") == "on_demand_price.mean [$/GPU-h]"
    assert metric_label("served_share.academics") == "served_share.academics [share]"
    assert metric_label("gini_compute") == "gini_compute"
