"""The exact block auction as the world's spot market: reachable from a scenario, audited."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.loader import ScenarioError, load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

runner = CliRunner()


@pytest.fixture(scope="module")
def block_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("block") / "run"
    res = runner.invoke(
        app,
        [
            "run",
            str(SCENARIOS / "plan.yaml"),
            "--set",
            "markets.spot.mechanism=block_auction",
            "--set",
            "time.horizon_years=0.5",
            "--replications",
            "1",
            "--no-plots",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    return out


def test_the_plan_runs_with_the_exact_auction_and_passes_the_audit(block_run):
    res = runner.invoke(app, ["check", str(block_run)])
    assert res.exit_code == 0, res.output
    resolved = yaml.safe_load((block_run / "scenario.yaml").read_text())
    assert resolved["markets"]["spot"]["mechanism"] == "block_auction"


def test_the_exact_auction_reports_gaps_and_paradoxically_rejected_blocks(block_run):
    ts = pd.read_parquet(block_run / "timeseries.parquet")
    gap = ts[ts["metric"] == "spot_mip_gap"]["value"].to_numpy()
    rejected = ts[ts["metric"] == "paradoxically_rejected_blocks"]["value"].to_numpy()
    assert gap.size and rejected.size
    assert (gap >= 0).all() and (gap <= 1).all()
    assert (rejected >= 0).all() and np.array_equal(rejected, np.round(rejected))


def test_runs_bought_at_the_exact_auction_pay_at_most_their_value(block_run):
    jobs = pd.read_parquet(block_run / "jobs.parquet")
    spot = jobs[jobs["channel"] == "spot"]
    assert len(spot) > 0
    assert (spot["price_per_gpu_hour"] <= spot["value_per_gpu_hour"] + 1e-9).all()


def test_the_exact_auction_needs_one_period_sessions():
    with pytest.raises(ScenarioError, match=r"markets.spot.session_days.*block_auction"):
        load_scenario(
            SCENARIOS / "plan.yaml",
            {"markets.spot.mechanism": "block_auction", "markets.spot.session_days": 7},
        )
