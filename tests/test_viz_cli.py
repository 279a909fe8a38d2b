"""The ``plot``, ``compare`` and ``report`` commands, registered on an app as ``sim`` does."""

from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from sim.viz.cli import compare, plot, report
from sim.viz.synthetic import write_synthetic_run

app = typer.Typer()
app.command("plot")(plot)
app.command("compare")(compare)
app.command("report")(report)
runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("cli")
    return [
        write_synthetic_run(root / "base-1", replications=2, periods=8, seed=1),
        write_synthetic_run(root / "plan-1", replications=2, periods=8, seed=2, access_boost=0.2),
    ]


def test_plot_writes_into_run_figures(runs):
    result = runner.invoke(app, ["plot", str(runs[0]), "--kind", "lorenz", "--format", "both"])
    assert result.exit_code == 0, result.output
    assert (runs[0] / "figures" / "lorenz.png").stat().st_size > 0
    assert (runs[0] / "figures" / "lorenz.svg").stat().st_size > 0


def test_plot_notes_a_skipped_figure(runs, tmp_path):
    result = runner.invoke(app, ["plot", str(runs[0]), "-k", "forward", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "no forward market" in _flat(result.output)
    assert list(tmp_path.iterdir()) == []


def test_not_a_run_folder(tmp_path):
    for command in (["plot"], ["report"], ["compare", str(tmp_path)]):
        result = runner.invoke(app, [*command, str(tmp_path)])
        assert result.exit_code == 2
        assert f"{tmp_path}: not a run folder" in _flat(result.output)
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, ["plot", str(missing)])
    assert result.exit_code == 2 and f"{missing}: not a directory" in _flat(result.output)


def test_missing_table_is_named(runs, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text((runs[0] / "manifest.json").read_text())
    (broken / "timeseries.parquet").write_bytes((runs[0] / "timeseries.parquet").read_bytes())
    result = runner.invoke(app, ["plot", str(broken)])
    assert result.exit_code == 2
    assert f"{broken}: run folder is missing agents.parquet, jobs.parquet" in _flat(result.output)
    (broken / "agents.parquet").write_text("not parquet")
    (broken / "jobs.parquet").write_bytes((runs[0] / "jobs.parquet").read_bytes())
    result = runner.invoke(app, ["plot", str(broken)])
    assert result.exit_code == 2
    assert f"{broken / 'agents.parquet'}: cannot read Parquet table" in _flat(result.output)


def test_compare_prints_and_writes_the_deltas(runs, tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", *map(str, runs), "-o", str(out), "--labels", "today,plan", "-k", "access"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    assert "plan against today" in text and "served_share.academics" in text
    table = pd.read_csv(out / "compare.csv")
    assert set(table["run"]) == {"plan"}
    assert [p.name for p in sorted(out.glob("*.png"))] == ["access.png"]


def test_compare_rejects_bad_labels_and_a_single_run(runs):
    result = runner.invoke(app, ["compare", *map(str, runs), "--labels", "a,b,c"])
    assert result.exit_code == 2 and "3 label(s) for 2 run folder(s)" in _flat(result.output)
    result = runner.invoke(app, ["compare", str(runs[0])])
    assert result.exit_code == 2 and "at least two" in result.output


def test_report_writes_one_html_file(runs, tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", *map(str, runs), "--out", str(out), "-k", "lorenz"])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count('<figure class="plot"') == 3
