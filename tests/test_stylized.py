"""The stylized Cournot-with-forwards market, run end to end through ``sim run``: the spot markup
against the Allaz-Vila closed forms of CALIBRATION.md, and bad input rejected with the field."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.markets.cournot import allaz_vila_markup_closed_form

runner = CliRunner()
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "cournot-forward.yaml"


def _run(out: Path, *overrides: str, plots: bool = False, file: Path = SCENARIO) -> dict:
    args = ["run", str(file), "--out", str(out), "--plots" if plots else "--no-plots"]
    for item in overrides:
        args += ["--set", item]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "summary.json").read_text())["metrics"]
    return {name: m["mean"] for name, m in metrics.items()}


def _markup(tmp_path: Path, n: int, rounds: int, *extra: str) -> dict:
    out = tmp_path / f"n{n}-N{rounds}"
    return _run(out, f"stylized.firms={n}", f"stylized.forward_rounds={rounds}", *extra)


@pytest.mark.parametrize(
    ("n", "rounds"), [(2, 0), (2, 1), (2, 3), (3, 1), (3, 2), (4, 2), (5, 1), (3, 4)]
)
def test_markup_matches_allaz_vila_closed_form(tmp_path, n, rounds):
    m = _markup(tmp_path, n, rounds)
    closed = allaz_vila_markup_closed_form(10.0, 2.0, n, rounds)
    assert m["stylized.markup_closed_form"] == pytest.approx(closed, rel=1e-12)
    assert m["stylized.markup"] == pytest.approx(closed, rel=0.02)
    assert abs(m["stylized.markup_gap"]) < 0.02
    # price, output and the demand curve agree: P = a - b Q with a = 10, b = 0.01
    assert m["stylized.spot_price"] == pytest.approx(2.0 + m["stylized.markup"])
    assert m["stylized.spot_price"] == pytest.approx(10.0 - 0.01 * m["stylized.total_quantity"])


def test_published_special_cases(tmp_path):
    """Duopoly (a - c)/(2N + 3) and one round (a - c)/(n^2 + 1), stated independently."""
    for rounds in (1, 2):
        m = _markup(tmp_path, 2, rounds)
        assert m["stylized.markup"] == pytest.approx(8.0 / (2 * rounds + 3), rel=0.02)
    for n in (3, 4):
        m = _markup(tmp_path, n, 1)
        assert m["stylized.markup"] == pytest.approx(8.0 / (n**2 + 1), rel=0.02)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_no_forward_rounds_is_cournot(tmp_path, n):
    m = _markup(tmp_path, n, 0)
    assert m["stylized.markup"] == pytest.approx(8.0 / (n + 1), rel=1e-6)
    assert m["stylized.markup"] == pytest.approx(m["stylized.markup_cournot"], rel=1e-6)
    assert m["stylized.forward_share"] == 0.0
    assert pd.read_parquet(tmp_path / f"n{n}-N0" / "rounds.parquet").empty


@pytest.mark.parametrize("n", [2, 3])
def test_more_rounds_lower_the_markup(tmp_path, n):
    runs = [_markup(tmp_path, n, rounds) for rounds in range(4)]
    markups = [m["stylized.markup"] for m in runs]
    assert all(later < earlier for earlier, later in zip(markups, markups[1:], strict=False))
    shares = [m["stylized.forward_share"] for m in runs]
    assert all(later > earlier for earlier, later in zip(shares, shares[1:], strict=False))


def test_monopoly_gains_nothing_from_forwards(tmp_path):
    m = _markup(tmp_path, 1, 3)
    assert m["stylized.markup"] == pytest.approx(4.0, rel=1e-6)
    assert m["stylized.forward_share"] == pytest.approx(0.0, abs=1e-9)


def test_slope_scales_quantities_not_the_markup(tmp_path):
    steep = _run(tmp_path / "steep", "stylized.demand_slope=1")
    flat = _run(tmp_path / "flat", "stylized.demand_slope=0.01")
    assert steep["stylized.markup"] == pytest.approx(flat["stylized.markup"], rel=1e-9)
    assert flat["stylized.total_quantity"] == pytest.approx(
        100 * steep["stylized.total_quantity"], rel=1e-9
    )
    assert flat["stylized.profit_per_firm"] == pytest.approx(
        100 * steep["stylized.profit_per_firm"], rel=1e-9
    )
    # consumer surplus b Q^2 / 2 and the deadweight loss against competitive output (a - c)/b
    q = flat["stylized.total_quantity"]
    assert flat["stylized.consumer_surplus"] == pytest.approx(0.01 * q**2 / 2)
    assert flat["stylized.deadweight_loss"] == pytest.approx(0.01 * (800 - q) ** 2 / 2)


def test_tables_and_determinism(tmp_path):
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", str(SCENARIO), "--out", str(out), "--replications", "2"])
    assert res.exit_code == 0, res.output  # figures need the agent world's tables: skipped
    summary = json.loads((out / "summary.json").read_text())
    markup = summary["metrics"]["stylized.markup"]
    assert markup["std"] == 0.0 and len(set(markup["values"])) == 1
    rounds = pd.read_parquet(out / "rounds.parquet")
    assert list(rounds.columns) == [
        "replication",
        "round",
        "firm",
        "forward_sales",
        "position_after",
    ]
    assert len(rounds) == 2 * 2 * 3  # replications x rounds x firms
    firms = pd.read_parquet(out / "firms.parquet")
    one = firms[firms["replication"] == 0]
    total = summary["metrics"]["stylized.total_quantity"]["mean"]
    assert one["spot_quantity"].sum() == pytest.approx(total)
    last = rounds[(rounds["replication"] == 0) & (rounds["round"] == 2)]
    assert last["position_after"].to_numpy() == pytest.approx(one["forward_position"].to_numpy())
    # symmetric firms sell the same forward in each round
    assert rounds.groupby(["replication", "round"])["forward_sales"].std().max() < 1e-9
    assert not (out / "timeseries.parquet").exists()


def test_binding_capacity_caps_output(tmp_path):
    free = _run(tmp_path / "free")
    cap = free["stylized.total_quantity"] / 3 / 2
    m = _run(tmp_path / "capped", f"stylized.capacity_per_firm={cap}")
    assert m["stylized.capacity_binds"] == 1.0
    assert m["stylized.total_quantity"] == pytest.approx(3 * cap)
    assert m["stylized.spot_price"] == pytest.approx(10.0 - 0.01 * 3 * cap)
    loose = _run(tmp_path / "loose", "stylized.capacity_per_firm=1e6")
    assert loose["stylized.capacity_binds"] == 0.0
    assert loose["stylized.markup"] == pytest.approx(free["stylized.markup"])


def _fails(tmp_path: Path, args: list[str], *needles: str) -> None:
    out = tmp_path / "bad-out"
    res = runner.invoke(app, ["run", *args, "--out", str(out), "--no-plots"])
    assert res.exit_code == 2, res.output
    for needle in needles:
        assert needle in res.output
    assert not out.exists(), "nothing may be written for a bad scenario"


def test_zero_firms_rejected(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("stylized:\n  firms: 0\n")
    _fails(tmp_path, [str(path)], str(path), "stylized.firms: must be >= 1")


def test_cost_at_or_above_intercept_rejected(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("stylized:\n  demand_intercept: 5\n  marginal_cost: 5\n")
    _fails(tmp_path, [str(path)], str(path), "stylized.marginal_cost", "below demand_intercept")
    _fails(
        tmp_path,
        [str(SCENARIO), "--set", "stylized.marginal_cost=12"],
        "stylized.marginal_cost",
        "below demand_intercept",
    )


def test_other_bad_values_name_the_field(tmp_path):
    _fails(tmp_path, [str(SCENARIO), "--set", "stylized.forward_rounds=-1"], "forward_rounds")
    _fails(tmp_path, [str(SCENARIO), "--set", "stylized.demand_slope=0"], "demand_slope")
    _fails(tmp_path, [str(SCENARIO), "--set", "stylized.kind=bertrand"], "stylized.kind")
    _fails(
        tmp_path,
        [str(SCENARIO), "--set", "stylized.frims=3"],
        "stylized.frims",
        "unknown field",
        "firms",
    )
