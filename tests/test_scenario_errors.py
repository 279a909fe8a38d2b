"""Bad input: one test per class of fault, each a clear message naming file and field, exit 2,
and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.loader import ScenarioError, load_scenario

runner = CliRunner()


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _run_fails(tmp_path: Path, path: Path, *needles: str) -> str:
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(path), "--out", str(out)])
    assert res.exit_code == 2, res.output
    for needle in needles:
        assert needle in res.output
    assert not out.exists(), "nothing may be written for a bad scenario"
    return res.output


def test_unknown_key_names_path_and_allowed(tmp_path):
    p = _write(tmp_path, "buyers:\n  startups:\n    cuont: 3\n")
    out = _run_fails(tmp_path, p, str(p), "buyers.startups.cuont", "unknown field", "count")
    assert "allowed" in out


def test_wrong_type(tmp_path):
    p = _write(tmp_path, "time:\n  horizon_years: soon\n")
    _run_fails(tmp_path, p, "time.horizon_years", "valid number")


def test_negative_capacity(tmp_path):
    p = _write(tmp_path, "providers:\n  neoclouds:\n    count: -1\n")
    _run_fails(tmp_path, p, "providers.neoclouds.count: must be >= 0")


def test_negative_distribution_parameter(tmp_path):
    p = _write(
        tmp_path,
        "providers:\n  hyperscalers:\n    gpus_per_site: {dist: uniform, low: 5, high: 1}\n",
    )
    _run_fails(tmp_path, p, "providers.hyperscalers.gpus_per_site")


def test_unknown_market(tmp_path):
    p = _write(tmp_path, "markets:\n  futures: {enabled: true}\n")
    _run_fails(tmp_path, p, "markets.futures", "unknown field", "on_demand")


def test_unreadable_file(tmp_path):
    _run_fails(tmp_path, tmp_path / "missing.yaml", "missing.yaml", "file not found")


def test_not_yaml(tmp_path):
    p = _write(tmp_path, "time: [unclosed\n")
    _run_fails(tmp_path, p, "not valid YAML", "line")


def test_top_level_not_mapping(tmp_path):
    p = _write(tmp_path, "- 1\n- 2\n")
    _run_fails(tmp_path, p, "(top level): must be a mapping")


def test_extends_cycle(tmp_path):
    _write(tmp_path, "extends: b.yaml\nseed: 1\n", "a.yaml")
    b = _write(tmp_path, "extends: a.yaml\n", "b.yaml")
    _run_fails(tmp_path, b, "extends: cycle")


def test_every_error_reported_at_once(tmp_path):
    p = _write(tmp_path, "seed: -1\nreplications: 0\ntime: {step: week}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(p)
    assert len(err.value.problems) == 3
    assert all(line.startswith(str(p)) for line in err.value.problems)


def test_bad_override(tmp_path, tiny_path):
    res = runner.invoke(
        app,
        ["run", str(tiny_path), "--set", "buyers.startups.count=-5", "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 2
    assert "buyers.startups.count: must be >= 0" in res.output
    assert not (tmp_path / "o").exists()


def test_validate_ok_and_extends_merges(tmp_path, tiny_path):
    child = _write(
        tmp_path, f"extends: {tiny_path}\nname: child\nbuyers:\n  startups:\n    count: 3\n"
    )
    sc = load_scenario(child)
    assert sc.name == "child"
    assert sc.buyers.startups.count == 3
    assert sc.buyers.academics.count == 35  # inherited from tiny
    res = runner.invoke(app, ["validate", str(child)])
    assert res.exit_code == 0, res.output
