"""``sim sweep`` and ``sim discover`` on the command line: bad input stops before any run."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from sim.sweep import commands
from sim.sweep.cli import discover, sweep

app = typer.Typer()
app.command("sweep")(sweep)
app.command("discover")(discover)
runner = CliRunner()


@pytest.fixture
def no_runs(monkeypatch):
    """Any attempt to start running points fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a run started")

    monkeypatch.setattr(commands, "run_sweep", refuse)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vary", "buyers.startup.count=10:40"], "did you mean: buyers.startups.count"),
        (["--vary", "buyers.startups.count=40:10"], "must be below upper bound"),
        (["--vary", "buyers.startups=1:3"], "is a section"),
        (
            ["--vary", "buyers.startups.count=10:40", "--method", "sobol", "--samples", "12"],
            "power of two",
        ),
        (["--vary", "buyers.startups.count=10:40", "--method", "halton"], "unknown method"),
        (["--vary", "buyers.startups.raise_probability=0:2"], "must be <= 1"),
        (["--vary", "buyers.startups.count=10:40", "--scheduler", "tcp://127.0.0.1:1"], "dask"),
        (["--vary", "buyers.startups.count=10:40", "--workers", "0"], "must be >= 1"),
        (["--vary", "buyers.startups.count=10:40", "--replications", "0"], "must be >= 1"),
    ],
)
def test_bad_sweep_input_exits_2_before_any_run(tmp_path, tiny_path, no_runs, args, message):
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["sweep", str(tiny_path), *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not out.exists()


def test_invalid_scenario_file_exits_2_naming_file_and_field(tmp_path, no_runs):
    bad = tmp_path / "bad.yaml"
    bad.write_text("buyers:\n  startups:\n    count: -3\n")
    result = runner.invoke(app, ["sweep", str(bad), "--vary", "time.horizon_years=1:2"])
    assert result.exit_code == 2
    assert f"{bad}: buyers.startups.count: must be >= 0" in result.output
    missing = runner.invoke(app, ["sweep", str(tmp_path / "none.yaml"), "--vary", "a=1:2"])
    assert missing.exit_code == 2 and "file not found" in missing.output


def test_existing_folder_needs_resume(tmp_path, tiny_path, no_runs):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "note.txt").write_text("keep me")
    result = runner.invoke(
        app, ["sweep", str(tiny_path), "--vary", "buyers.startups.count=10:40", "--out", str(out)]
    )
    assert result.exit_code == 2 and "--resume" in result.output
    assert (out / "note.txt").read_text() == "keep me"


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory, tiny_path):
    """A real sweep of the simulator on the tiny scenario: 4 points, 1 replication."""
    pytest.importorskip("sim.runner")
    out = tmp_path_factory.mktemp("cli") / "tiny-sweep"
    args = ["sweep", str(tiny_path), "--vary", "buyers.startups.count=5:40"]
    args += ["--vary", "providers.hyperscalers.gpus_per_site=150:600", "--method", "lhs"]
    args += ["--samples", "4", "--replications", "1", "--workers", "1", "--out", str(out)]
    args += ["--metric", "served_share.startups"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out, args, result.output


def test_sweep_of_the_simulator_writes_the_folder(tiny_sweep):
    out, _, output = tiny_sweep
    table = pd.read_parquet(out / "table.parquet")
    assert list(table.columns[:4]) == [
        "point",
        "replication",
        "buyers.startups.count",
        "providers.hyperscalers.gpus_per_site",
    ]
    assert len(table) == 4 and "served_share.startups" in table.columns
    spec = json.loads((out / "sweep.json").read_text())
    assert spec["method"] == "lhs" and spec["root_seed"] == 7 and spec["n_runs"] == 4
    sens = pd.read_parquet(out / "sensitivity.parquet")
    assert set(sens["index"]) == {"spearman", "effect"}
    assert (out / "plots" / "served_share.startups-tornado.png").stat().st_size > 0
    assert "lhs sensitivity of served_share.startups" in output


def test_resume_of_a_finished_sweep_runs_nothing(tiny_sweep):
    out, args, _ = tiny_sweep
    before = pd.read_parquet(out / "table.parquet")
    result = runner.invoke(app, [*args, "--resume", "--no-plots"])
    assert result.exit_code == 0, result.output
    assert "0 run(s) done, 4 already on disk" in result.output
    pd.testing.assert_frame_equal(pd.read_parquet(out / "table.parquet"), before)


def test_resume_with_a_different_spec_is_refused(tiny_sweep, no_runs):
    out, args, _ = tiny_sweep
    changed = [a if a != "4" else "5" for a in args]
    result = runner.invoke(app, [*changed, "--resume"])
    assert result.exit_code == 2 and "differs in samples" in result.output


def test_discover_prints_and_writes_boxes(tiny_sweep):
    out, _, _ = tiny_sweep
    median = pd.read_parquet(out / "table.parquet")["served_share.startups"].median()
    result = runner.invoke(
        app, ["discover", str(out), "--where", f"served_share.startups < {median}"]
    )
    assert result.exit_code == 0, result.output
    info = json.loads((out / "discovery.json").read_text())
    assert info["n_points"] == 4 and info["where"].startswith("served_share.startups <")
    assert "coverage" in result.output


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("served_share.startups << 1", "expected 'METRIC OP NUMBER'"),
        ("__import__('os').system('true') < 1", "expected 'METRIC OP NUMBER'"),
        ("served_share.startup < 0.5", "did you mean: served_share.startups"),
        ("buyers.startups.count < 3", "not a metric"),
    ],
)
def test_discover_rejects_bad_conditions(tiny_sweep, where, message):
    out, _, _ = tiny_sweep
    result = runner.invoke(app, ["discover", str(out), "--where", where])
    assert result.exit_code == 2
    assert message in result.output


def test_discover_needs_a_sweep_folder(tmp_path):
    result = runner.invoke(app, ["discover", str(tmp_path), "--where", "x < 1"])
    assert result.exit_code == 2 and "not a sweep folder" in result.output
