"""Every figure kind is drawn for a synthetic run folder (and the tiny scenario's), absent
data is skipped rather than crashing, and the same data give the same bytes."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.viz import KINDS, load_run, plot_run
from sim.viz.plot import build_figures, resolve_formats, resolve_kinds
from sim.viz.style import BUYER_CLASSES, CLASS_COLOURS, PROVIDER_CLASSES, class_colour
from sim.viz.synthetic import write_synthetic_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def market_run(tmp_path_factory) -> Path:
    """A run with every market: spot prices, volumes and forward curves."""
    path = tmp_path_factory.mktemp("viz") / "market-1"
    return write_synthetic_run(path, replications=2, periods=16, spot=True, forward=True)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory) -> Path:
    """Today's arrangements only: no spot market, no forward curves."""
    path = tmp_path_factory.mktemp("viz") / "plain-1"
    return write_synthetic_run(path, replications=2, periods=12, seed=5)


@pytest.fixture(scope="module")
def all_figures(market_run, tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("figs")
    return plot_run(market_run, ["all"], ["both"], out)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_every_kind_writes_a_non_empty_file(all_figures, kind, fmt):
    path = next(p for p in all_figures if p.name == f"{kind}.{fmt}")
    data = path.read_bytes()
    assert len(data) > 5000
    if fmt == "png":
        assert data.startswith(b"\x89PNG")
        assert b"Software" not in data
    else:
        assert b"<svg" in data[:2000]
        assert b"<dc:date>" not in data


def test_default_output_is_run_dir_figures(plain_run):
    paths = plot_run(plain_run, ["access"])
    assert paths == [plain_run / "figures" / "access.png"]


def test_absent_forward_market_is_skipped_with_a_note(plain_run, tmp_path):
    paths = plot_run(plain_run, ["forward", "lorenz"], ["png"], tmp_path)
    assert [p.name for p in paths] == ["lorenz.png"]
    built = {b.kind: b for b in build_figures([load_run(plain_run)], ["forward", "price"])}
    assert built["forward"].figure is None and "no forward market" in built["forward"].notes[0]
    assert built["price"].figure is not None and built["price"].notes == []


def test_missing_metrics_and_columns_do_not_crash(plain_run, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in plain_run.iterdir():
        if f.is_file():
            (broken / f.name).write_bytes(f.read_bytes())
    ts = pd.read_parquet(broken / "timeseries.parquet")
    keep = ~ts["metric"].isin(["served_share", "price_paid", "volume", "on_demand_price"])
    ts[keep].to_parquet(broken / "timeseries.parquet")
    jobs = pd.read_parquet(broken / "jobs.parquet")
    jobs.iloc[0:0].to_parquet(broken / "jobs.parquet")
    agents = pd.read_parquet(broken / "agents.parquet")
    agents.drop(columns=["largest_block_gpus"]).to_parquet(broken / "agents.parquet")

    built = {b.kind: b for b in build_figures([load_run(broken)], ["all"])}
    assert built["price"].figure is None  # no price of any kind left
    assert built["wait"].figure is None and built["wait"].notes
    assert built["blocks"].figure is None and len(built["blocks"].notes) == 2
    assert built["access"].figure is not None  # whole-run share still comes from agents
    assert any("served_share" in n for n in built["access"].notes)
    paths = plot_run(broken, ["all"], ["png"], tmp_path / "out")
    assert sorted(p.name for p in paths) == ["access.png", "lorenz.png"]


def test_same_data_give_same_bytes(market_run, all_figures, tmp_path):
    again = plot_run(market_run, ["price"], ["png", "svg"], tmp_path)
    first = {p.name: p for p in all_figures}
    assert len(again) == 2
    for path in again:
        assert path.read_bytes() == first[path.name].read_bytes(), path.name


def test_same_bytes_in_a_fresh_process(market_run, all_figures, tmp_path):
    script = (
        "import sys; from sim.viz import plot_run; "
        "plot_run(sys.argv[1], ['lorenz'], ['png', 'svg'], sys.argv[2])"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(market_run), str(tmp_path)], check=True, cwd=ROOT
    )
    first = {p.name: p for p in all_figures}
    for name in ("lorenz.png", "lorenz.svg"):
        assert (tmp_path / name).read_bytes() == first[name].read_bytes(), name


def test_several_runs_overlay(market_run, plain_run):
    runs = [load_run(market_run, "market"), load_run(plain_run, "today")]
    built = {b.kind: b for b in build_figures(runs, ["access", "wait", "forward"])}
    assert built["access"].figure is not None
    # one panel per class over time when runs are overlaid, plus the whole-run panel
    assert len(built["access"].figure.axes) == 5
    assert built["forward"].figure is not None
    assert any("today" in n for n in built["forward"].notes)


def test_one_colour_per_class():
    classes = [*BUYER_CLASSES, *PROVIDER_CLASSES]
    colours = [class_colour(c) for c in classes]
    assert len(set(colours)) == len(colours)
    assert set(CLASS_COLOURS) >= set(classes)
    assert class_colour("some_new_class") == class_colour("some_new_class")


def test_kind_and_format_names():
    assert resolve_kinds(["all"]) == list(KINDS)
    assert resolve_kinds(["wait", "price", "wait"]) == ["price", "wait"]
    assert resolve_formats("both") == ["png", "svg"]
    with pytest.raises(ValueError, match="unknown plot kind 'pie'"):
        resolve_kinds(["pie"])
    with pytest.raises(ValueError, match="allowed: png, svg, both"):
        resolve_formats(["pdf"])


def test_tiny_scenario(tmp_path):
    """The real simulator's run folder for scenarios/tiny.yaml plots without error."""
    tiny = ROOT / "scenarios" / "tiny.yaml"
    if not tiny.is_file():
        pytest.skip("scenarios/tiny.yaml is not in this checkout")
    cli = pytest.importorskip("sim.cli", reason="the sim command line is not in this checkout")
    if not hasattr(cli, "app"):
        pytest.skip("sim.cli has no app yet")
    from typer.testing import CliRunner

    run_dir = tmp_path / "tiny"
    args = ["run", str(tiny), "--out", str(run_dir), "--no-plots"]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    paths = plot_run(run_dir, ["all"], ["png"], tmp_path / "figures")
    names = {p.name for p in paths}
    assert {"price.png", "access.png", "lorenz.png", "wait.png", "blocks.png"} <= names
    assert all(p.stat().st_size > 5000 for p in paths)


def test_basis_by_tenor_is_the_mean_absolute_gap_over_the_index_level():
    import pandas as pd

    from sim.viz.price import basis_by_tenor

    fc = pd.DataFrame(
        {
            "replication": [0, 0, 0, 0],
            "tenor_days": [1.0, 1.0, 7.0, 7.0],
            "price": [2.1, 1.9, 3.0, float("nan")],
            "settlement_index": [2.0, 2.0, 2.0, 2.0],
        }
    )
    out = basis_by_tenor(fc)
    assert out["basis"].tolist() == pytest.approx([0.05, 0.5])
