"""`sim run` writes a complete folder, or on failure the resolved scenario and the error."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

import sim.cli
from sim.cli import app

runner = CliRunner()


def test_run_writes_tables_summary_manifest_and_figures(tmp_path, tiny_path):
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", str(tiny_path), "--out", str(out), "--replications", "1"])
    assert res.exit_code == 0, res.output
    for name in ("timeseries", "agents", "jobs", "providers", "contracts"):
        assert not pd.read_parquet(out / f"{name}.parquet").empty
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["seeds"][0]["spawn_key"] == [0]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["metrics"]["served_share.academics"]) == {"mean", "std", "ci95", "values"}
    assert (out / "scenario.yaml").exists()
    assert any((out / "figures").glob("*.png"))
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind


def test_failed_run_keeps_scenario_and_error(tmp_path, tiny_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(sim.cli, "run_replications", boom)
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", str(tiny_path), "--out", str(out)])
    assert res.exit_code == 1
    assert "simulated failure" in res.output
    assert (out / "scenario.yaml").exists()
    assert "simulated failure" in (out / "error.txt").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert not (out / "summary.json").exists()


def test_existing_folder_is_never_overwritten(tmp_path, tiny_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    res = runner.invoke(app, ["run", str(tiny_path), "--out", str(out)])
    assert res.exit_code == 2
    assert (out / "summary.json").read_text() == "{}"
