"""The sweep engine: Ishigami indices, resume after a kill, and identical tables on any executor."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.sweep.analytic import NoisyIshigami, ishigami, ishigami_indices
from sim.sweep.engine import SweepFolder, SweepFolderError, run_sweep, sweep
from sim.sweep.executor import ExecutorConfig, open_executor
from sim.sweep.parameters import Parameter
from sim.sweep.sensitivity import analyse
from sim.sweep.spec import SweepSpec, point_seed
from sim.sweep.testing import CountingModel, DieAfter, FailOnPoints

ROOT = Path(__file__).resolve().parent.parent


def ishigami_spec(method: str = "lhs", samples: int = 12, replications: int = 2, **kw) -> SweepSpec:
    params = tuple(Parameter(f"x{i}", -math.pi, math.pi) for i in (1, 2, 3))
    return SweepSpec(params, method, samples, replications, root_seed=20250723, **kw)


def test_ishigami_sobol_indices_through_the_engine(tmp_path):
    spec = ishigami_spec("sobol", samples=512, replications=1)
    result = sweep(spec, ishigami, tmp_path / "s")
    assert result.complete and len(result.table) == 512 * 5
    sens = analyse(result.table, spec, result.folder.design).indices
    exact = ishigami_indices()
    for name in ("S1", "ST"):
        rows = sens[sens["index"] == name].set_index("parameter").loc[["x1", "x2", "x3"]]
        got, conf, want = rows["value"].to_numpy(), rows["conf"].to_numpy(), np.array(exact[name])
        np.testing.assert_allclose(got, want, atol=0.05)
        assert (np.abs(got - want) < conf).all()


def test_interrupted_sweep_resumes_to_the_same_table_without_repeats(tmp_path):
    spec = ishigami_spec()
    whole = sweep(spec, NoisyIshigami(), tmp_path / "whole").table

    first = CountingModel(stop_after=7)
    with pytest.raises(KeyboardInterrupt):
        sweep(spec, first, tmp_path / "cut")
    assert len(SweepFolder.load(tmp_path / "cut").done()) == 7
    assert not (tmp_path / "cut" / "table.parquet").exists()

    with pytest.raises(SweepFolderError, match="--resume"):
        sweep(spec, NoisyIshigami(), tmp_path / "cut")
    second = CountingModel()
    resumed = sweep(spec, second, tmp_path / "cut", resume=True)
    assert resumed.skipped == 7 and resumed.ran == len(whole) - 7
    assert not set(first.calls) & set(second.calls)
    runs = sorted(zip(whole.point, whole.replication, strict=True))
    assert sorted(first.calls + second.calls) == runs
    pd.testing.assert_frame_equal(resumed.table, whole)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cut" / "table.parquet"), whole)


def test_killed_process_loses_nothing_written(tmp_path):
    """A process that dies abruptly mid-sweep leaves whole point files only; resume completes it."""
    spec = ishigami_spec(samples=6, replications=2)
    out, counter = tmp_path / "killed", tmp_path / "count.txt"
    script = textwrap.dedent(
        f"""
        import json, sys
        from sim.sweep.engine import sweep
        from sim.sweep.spec import SweepSpec
        from sim.sweep.testing import DieAfter
        spec = SweepSpec.from_json(json.loads(sys.argv[1]))
        sweep(spec, DieAfter({str(counter)!r}, 5), {str(out)!r})
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(spec.to_json())],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 9, proc.stderr.decode()
    folder = SweepFolder.load(out)
    assert len(folder.done()) == 5
    assert not [p for p in folder.points_dir.iterdir() if p.name.startswith(".")]

    resumed = sweep(spec, DieAfter(str(tmp_path / "fresh.txt"), 10**6), out, resume=True)
    assert resumed.ran == 7
    whole = sweep(spec, NoisyIshigami(), tmp_path / "whole").table
    pd.testing.assert_frame_equal(resumed.table, whole)


def test_deleted_point_files_are_rerun_and_only_they(tmp_path):
    spec = ishigami_spec(samples=5, replications=2)
    whole = sweep(spec, NoisyIshigami(), tmp_path / "s").table
    folder = SweepFolder.load(tmp_path / "s")
    for point, rep in [(0, 1), (3, 0), (4, 1)]:
        folder.point_path(point, rep).unlink()
    counting = CountingModel()
    resumed = sweep(spec, counting, tmp_path / "s", resume=True)
    assert sorted(counting.calls) == [(0, 1), (3, 0), (4, 1)]
    pd.testing.assert_frame_equal(resumed.table, whole)


def test_resume_refuses_a_different_spec(tmp_path):
    sweep(ishigami_spec(samples=4), NoisyIshigami(), tmp_path / "s")
    with pytest.raises(SweepFolderError, match="samples"):
        sweep(ishigami_spec(samples=5), NoisyIshigami(), tmp_path / "s", resume=True)
    with pytest.raises(SweepFolderError, match="not a sweep folder"):
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "file.txt").write_text("x")
        sweep(ishigami_spec(samples=4), NoisyIshigami(), tmp_path / "other", resume=True)


def test_resume_refuses_results_of_another_model_version(tmp_path):
    from dataclasses import replace

    spec = ishigami_spec(samples=4)
    sweep(spec, NoisyIshigami(), tmp_path / "s")
    changed = replace(spec, model_code="0" * 16)
    with pytest.raises(SweepFolderError, match="model_code"):
        sweep(changed, NoisyIshigami(), tmp_path / "s", resume=True)


def test_failed_points_are_recorded_and_the_sweep_goes_on(tmp_path):
    spec = ishigami_spec(samples=6, replications=1)
    result = sweep(spec, FailOnPoints(frozenset({1, 4})), tmp_path / "s")
    assert not result.complete
    assert sorted(f["point"] for f in result.failures) == [1, 4]
    assert list(result.table.point) == [0, 2, 3, 5]
    lines = (tmp_path / "s" / "failures.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert {e["point"] for e in entries} == {1, 4}
    assert all("planted failure" in e["error"] and "x1" in e["params"] for e in entries)
    again = sweep(spec, NoisyIshigami(), tmp_path / "s", resume=True)
    assert again.complete and again.ran == 2


def test_seed_of_a_run_depends_only_on_root_point_and_replication():
    a = point_seed(11, 3, 2).generate_state(4)
    b = np.random.SeedSequence(11).spawn(4)[3].spawn(3)[2].generate_state(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, point_seed(11, 2, 3).generate_state(4))
    common = point_seed(11, 3, 2, common_random_numbers=True).generate_state(4)
    np.testing.assert_array_equal(common, point_seed(11, 9, 2, True).generate_state(4))


POOL_SPEC = ishigami_spec(samples=10, replications=2)


@pytest.fixture(scope="module")
def pool_table(tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("pool") / "s"
    with open_executor(ExecutorConfig("local", workers=2)) as pool:
        return sweep(POOL_SPEC, NoisyIshigami(), out, executor=pool, batch_size=3).table


def test_one_and_two_workers_give_identical_tables(tmp_path, pool_table):
    one = sweep(POOL_SPEC, NoisyIshigami(), tmp_path / "one").table
    pd.testing.assert_frame_equal(one, pool_table)
    assert one["y"].nunique() == len(one)  # every run has its own noise


@pytest.mark.slow
def test_dask_local_cluster_matches_the_process_pool(tmp_path, pool_table):
    with open_executor(ExecutorConfig("dask", workers=2)) as client:
        dask = sweep(POOL_SPEC, NoisyIshigami(), tmp_path / "dask", executor=client).table
    pd.testing.assert_frame_equal(dask, pool_table)


def test_progress_reports_every_run(tmp_path):
    spec = ishigami_spec(samples=3, replications=2)
    seen: list[tuple[int, int]] = []
    folder = SweepFolder.open(spec, tmp_path / "s")
    run_sweep(folder, NoisyIshigami(), progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 6) and seen[-1] == (6, 6) and len(seen) == 7


def test_folder_killed_during_setup_is_started_afresh_on_resume(tmp_path):
    out = tmp_path / "s"
    (out / "points").mkdir(parents=True)
    with pytest.raises(SweepFolderError, match="--resume"):
        sweep(ishigami_spec(samples=3), NoisyIshigami(), out)
    result = sweep(ishigami_spec(samples=3), NoisyIshigami(), out, resume=True)
    assert result.complete and (out / "sweep.json").exists()
