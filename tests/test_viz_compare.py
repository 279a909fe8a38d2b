"""``compare``: differences of headline metrics against the first run with Welch intervals,
written as Parquet and CSV beside the overlaid figures."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from sim.viz import RunFolderError, compare_runs, compare_table, load_runs
from sim.viz.compare import default_out_dir
from sim.viz.synthetic import write_synthetic_run


def _with_summary(path: Path, metrics: dict[str, list[float | None]]) -> Path:
    summary = {
        "scenario": path.name,
        "replications": max(len(v) for v in metrics.values()),
        "metrics": {name: {"values": values} for name, values in metrics.items()},
    }
    (path / "summary.json").write_text(json.dumps(summary))
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("cmp")
    base = write_synthetic_run(root / "base-1", replications=2, periods=8, seed=1)
    plan = write_synthetic_run(
        root / "plan-1", replications=2, periods=8, seed=2, spot=True, access_boost=0.2
    )
    return [base, plan]


def test_hand_computed_deltas(tmp_path):
    ref = write_synthetic_run(tmp_path / "ref", replications=2, periods=6)
    alt = write_synthetic_run(tmp_path / "alt", replications=2, periods=6, seed=9)
    _with_summary(ref, {"x": [1, 2, 3], "flat": [2, 2], "only_ref": [1, 2]})
    _with_summary(alt, {"x": [2, 4, 6, 8], "flat": [3, 3, 3], "gap": [1, None, 3]})
    table = compare_table(load_runs([ref, alt]))
    rows = table.set_index("metric")
    assert list(rows.index) == ["x", "flat", "only_ref", "gap"]

    x = rows.loc["x"]
    half = 2.7563 * math.sqrt(2.0)  # t(0.975, 216/53) * sqrt(1/3 + (20/3)/4)
    assert (x.reference_mean, x.run_mean, x.delta) == pytest.approx((2.0, 5.0, 3.0))
    assert (x.ci95_low, x.ci95_high) == pytest.approx((3 - half, 3 + half), abs=1e-3)
    assert x.relative_delta == pytest.approx(1.5)
    assert bool(x.significant) is False  # the interval straddles zero
    assert (x.n_reference, x.n_run) == (3, 4)

    flat = rows.loc["flat"]
    assert (flat.delta, flat.ci95_low, flat.ci95_high) == (1.0, 1.0, 1.0)
    assert bool(flat.significant) is True

    assert math.isnan(rows.loc["only_ref"].run_mean)
    assert math.isnan(rows.loc["gap"].reference_mean)
    assert rows.loc["gap"].n_run == 2  # the null replication is left out


def test_compare_writes_table_and_figures(two_runs, tmp_path):
    kinds = ["access", "forward"]
    result = compare_runs(two_runs, ["today", "plan"], tmp_path / "out", kinds=kinds)
    names = {p.name for p in result.paths}
    # neither run has a forward market: that figure is skipped with a note
    assert names == {"compare.parquet", "compare.csv", "access.png"}
    assert result.built[1].figure is None and result.built[1].notes
    saved = pd.read_parquet(tmp_path / "out" / "compare.parquet")
    pd.testing.assert_frame_equal(saved, result.table)
    csv = pd.read_csv(tmp_path / "out" / "compare.csv")
    assert list(csv.columns) == list(result.table.columns)
    assert set(result.table["run"]) == {"plan"}
    assert set(result.table["reference"]) == {"today"}
    assert "served_share.academics" in set(result.table["metric"])


def test_default_out_dir_is_beside_the_first_run(two_runs):
    runs = load_runs(two_runs)
    assert default_out_dir(runs) == two_runs[0].parent / "compare-base-1-vs-plan-1"


def test_compare_needs_two_runs_with_summaries(two_runs, tmp_path):
    with pytest.raises(RunFolderError, match="at least two"):
        compare_table(load_runs(two_runs[:1]))
    with pytest.raises(RunFolderError, match="2 run folder"):
        load_runs(two_runs, ["only-one"])
    bare = write_synthetic_run(tmp_path / "bare", replications=2, periods=6)
    (bare / "summary.json").unlink()
    with pytest.raises(RunFolderError, match=str(bare / "summary.json")):
        compare_table(load_runs([two_runs[0], bare]))
