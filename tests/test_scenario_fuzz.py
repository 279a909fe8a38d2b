"""What `sim validate` accepts, `sim run` runs; what it refuses, `sim run` refuses the same way.

The scenario faults a new user meets first (duplicate keys, nobody to sell or buy, a world too
large for the machine) each have a test; then hypothesis mutates a small scenario a few hundred
ways (bad values at any field, unknown keys, duplicate keys, broken YAML) and holds every
outcome to the contract: exit 2 with the file and a field path and no traceback, nothing
written and nothing already written touched; or, when validation accepts, a complete run that
`sim check` passes.
"""

from __future__ import annotations

import copy
import hashlib
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim.cli import app
from sim.loader import load_raw, load_scenario

runner = CliRunner()

# the base of every generated scenario: tiny, over a quarter, so that accepted ones run quickly
BASE_OVERRIDES = {"time": {"horizon_years": 0.25}, "replications": 1}


def _base() -> dict[str, Any]:
    raw = load_raw(Path(__file__).parent.parent / "scenarios" / "tiny.yaml")
    raw.update(copy.deepcopy(BASE_OVERRIDES))
    return raw


def _write(folder: Path, text: str) -> Path:
    path = folder / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(str(p.relative_to(folder)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def _refused(res, path: Path) -> list[str]:
    """The problem lines of a refused scenario, after the contract on how it was refused."""
    text = res.output
    assert res.exit_code == 2, text
    assert "Traceback" not in text, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines and lines[-1].endswith("nothing was run."), text
    problems = lines[:-1]
    assert problems, text
    for line in problems:
        assert line.startswith(f"{path}:") or line.startswith("--set"), line
        assert line.count(":") >= 2, f"a problem names its field: {line}"
    return problems


# --- the faults a new user meets first ----------------------------------------------------------


def _scenario(tmp_path: Path, text: str) -> Path:
    tiny = Path(__file__).parent.parent / "scenarios" / "tiny.yaml"
    return _write(tmp_path, f"extends: {tiny}\n{text}")


def _both_refuse(tmp_path: Path, path: Path, *needles: str) -> str:
    checked = runner.invoke(app, ["validate", str(path)])
    problems = _refused(checked, path)
    out = tmp_path / "out"
    ran = runner.invoke(app, ["run", str(path), "--out", str(out), "--no-plots"])
    assert _refused(ran, path) == problems, "validate and run must say the same"
    assert not out.exists()
    text = "\n".join(problems)
    for needle in needles:
        assert needle in text, text
    return text


def test_duplicate_key_names_field_and_both_lines(tmp_path):
    p = _scenario(tmp_path, "buyers:\n  startups:\n    count: 3\n    count: 4\n")
    _both_refuse(tmp_path, p, "buyers.startups.count", "duplicate key", "line 5", "line 4")


def test_duplicate_top_level_key(tmp_path):
    p = _scenario(tmp_path, "seed: 1\nseed: 2\n")
    _both_refuse(tmp_path, p, "seed: duplicate key at line 3 (first at line 2")


def test_merge_keys_are_not_duplicates(tmp_path):
    p = _scenario(
        tmp_path,
        "buyers:\n  startups: &s {count: 3}\n  academics:\n    <<: *s\n    count: 4\n",
    )
    assert load_scenario(p).buyers.academics.count == 4


def test_duplicate_key_in_an_override(tiny_path):
    res = runner.invoke(app, ["validate", str(tiny_path)])
    assert res.exit_code == 0
    res = runner.invoke(
        app, ["run", str(tiny_path), "--set", "buyers.startups={count: 1, count: 2}"]
    )
    assert res.exit_code == 2 and "duplicate key" in res.output


def test_no_provider(tmp_path):
    p = _scenario(tmp_path, "providers:\n  hyperscalers: {count: 0}\n  neoclouds: {count: 0}\n")
    _both_refuse(tmp_path, p, "providers.hyperscalers.count", "no provider")


def test_no_capacity(tmp_path):
    p = _scenario(
        tmp_path,
        "providers:\n  hyperscalers: {gpus_per_site: 0}\n  neoclouds: {gpus_per_site: 0.2}\n",
    )
    _both_refuse(tmp_path, p, "gpus_per_site", "0 GPUs")


def test_no_buyer(tmp_path):
    p = _scenario(
        tmp_path,
        "buyers:\n  frontier_labs: {count: 0}\n  startups: {count: 0}\n  academics: {count: 0}\n",
    )
    _both_refuse(tmp_path, p, "buyers.startups.count", "no buyer")


def test_a_world_too_large_for_the_machine(tmp_path):
    p = _scenario(tmp_path, "buyers:\n  startups: {count: 1000000000000}\n")
    _both_refuse(tmp_path, p, "buyers.startups.count", "too large for this machine", "fewer buyers")


def test_memory_is_checked_for_the_workers_asked_for(tmp_path, monkeypatch):
    """A run that fits one replication at a time but not eight at once says to lower --workers."""
    from sim import feasibility

    sc = load_scenario(Path(__file__).parent.parent / "scenarios" / "tiny.yaml")
    est = feasibility.estimate_memory(sc)
    one, eight = est.run(sc.replications, 1), est.run(sc.replications, 8)
    assert eight > one
    monkeypatch.setattr(feasibility, "available_memory", lambda: (one + eight) // 2)
    p = _scenario(tmp_path, "")
    assert runner.invoke(app, ["validate", str(p)]).exit_code == 0
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(p), "--out", str(out), "--workers", "8"])
    assert res.exit_code == 2 and "--workers" in res.output, res.output
    assert not out.exists()


def test_a_bool_is_not_a_count(tmp_path):
    p = _scenario(tmp_path, "buyers:\n  startups: {count: true}\n")
    _both_refuse(tmp_path, p, "buyers.startups.count", "must be a number")


def test_no_nan(tmp_path):
    p = _scenario(tmp_path, "buyers:\n  startups: {count: 3, runs_per_year: .nan}\n")
    _both_refuse(tmp_path, p, "buyers.startups.runs_per_year")


# --- generated faults ---------------------------------------------------------------------------


def _leaves(d: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(d, dict):
        out: list[tuple] = []
        for k, v in d.items():
            out += _leaves(v, (*path, k))
        return out if out else [path]
    return [path]


RESOLVED = load_scenario(Path(__file__).parent.parent / "scenarios" / "tiny.yaml").model_dump(
    mode="json"
)
LEAVES = [p for p in _leaves(RESOLVED) if p and p[0] not in ("name", "description", "extends")]
SECTIONS = sorted({p[:-1] for p in LEAVES if len(p) > 1})

BAD_VALUES = st.sampled_from(
    [
        -1,
        -0.5,
        0,
        1e300,
        -1e300,
        10**15,
        2**70,
        "abc",
        "",
        None,
        [],
        [1, "x"],
        {},
        {"nope": 1},
        True,
        math.nan,
        math.inf,
        {"dist": "bogus"},
        {"dist": "uniform", "low": 5, "high": 1},
        {"dist": "lognormal", "median": 1, "sigma": 40},
        {"dist": "choice", "values": []},
        {"dist": "constant", "value": -3},
    ]
)


def _set(d: dict, path: tuple, value: Any) -> None:
    """``value`` at ``path``; a section or distribution the file states in short (a number for a
    constant) or not at all is first written out in full, as the scenario resolves it."""
    resolved: Any = RESOLVED
    for k in path[:-1]:
        resolved = resolved.get(k) if isinstance(resolved, dict) else None
        if not isinstance(d.get(k), dict):
            d[k] = copy.deepcopy(resolved) if isinstance(resolved, dict) else {}
        d = d[k]
    d[path[-1]] = value


def _get(d: dict, path: tuple) -> Any:
    for k in path:
        d = d[k]
    return d


NUMERIC_LEAVES = [
    p for p in LEAVES if isinstance(_get(RESOLVED, p), int | float) and p[0] not in ("seed",)
]


def _perturbed(value: Any, factor: float) -> Any:
    """A value of the same kind that the schema may or may not accept: a switch flipped, a
    number scaled (whole numbers stay whole)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return round(value * factor)
    return value * factor


@st.composite
def bad_scenario(draw) -> str:
    """The text of a scenario with one to three faults, or with one to three fields moved to
    values that may be valid (so that accepted scenarios are run too)."""
    data = _base()
    kinds = ["values"] * 4 + ["perturb"] * 3 + ["unknown", "duplicate", "yaml", "top"]
    kind = draw(st.sampled_from(kinds))
    if kind == "perturb":
        for _ in range(draw(st.integers(1, 3))):
            path = draw(st.sampled_from(NUMERIC_LEAVES))
            factor = draw(st.sampled_from([0.0, 0.1, 0.5, 2.0, 5.0]))
            _set(data, path, _perturbed(_get(RESOLVED, path), factor))
        return yaml.safe_dump(data, sort_keys=False)
    if kind == "top":
        return draw(st.sampled_from(["[1, 2]\n", "42\n", "just text\n", "- a: 1\n"]))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(LEAVES))
        _set(data, path, draw(BAD_VALUES))
    if kind == "unknown":
        section = draw(st.sampled_from(SECTIONS))
        _set(data, (*section, draw(st.sampled_from(["cuont", "pirce", "x"]))), 1)
    text = yaml.safe_dump(data, sort_keys=False)
    if kind == "duplicate":
        text += f"seed: {draw(st.integers(0, 9))}\n"
    if kind == "yaml":
        cut = draw(st.integers(0, len(text) - 1))
        text = text[:cut] + draw(st.sampled_from([": :", "\t", "{", "]", "&a *b", "'"])) + text[cut:]
    return text


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder with an earlier run's results (the sentinel) that no outcome may touch."""
    root = tmp_path_factory.mktemp("fuzz")
    sentinel = root / "results" / "earlier-run"
    sentinel.mkdir(parents=True)
    (sentinel / "summary.json").write_text('{"kept": true}\n')
    (sentinel / "notes.txt").write_text("an analyst's notes\n")
    return root, sentinel, _tree_digest(sentinel)


@settings(max_examples=240, suppress_health_check=[HealthCheck.too_slow])
@given(text=bad_scenario())
def test_validate_and_run_agree_on_any_scenario(workspace, text):
    root, sentinel, digest = workspace
    case = root / "case"
    shutil.rmtree(case, ignore_errors=True)
    case.mkdir()
    path = _write(case, text)
    out = case / "out"
    checked = runner.invoke(app, ["validate", str(path)])
    assert checked.exit_code in (0, 2), checked.output
    assert "Traceback" not in checked.output, checked.output
    ran = runner.invoke(app, ["run", str(path), "--out", str(out), "--no-plots"])
    event("refused" if checked.exit_code == 2 else "accepted and run")
    if checked.exit_code == 2:
        problems = _refused(checked, path)
        assert _refused(ran, path) == problems, "validate and run must say the same"
        assert not out.exists(), "nothing is written for a refused scenario"
    else:
        assert ran.exit_code == 0, ran.output  # the run audits its own tables (sim check)
        assert "Traceback" not in ran.output
        assert "audit: ok" in ran.output
    assert _tree_digest(sentinel) == digest, "an earlier run's folder was touched"


@st.composite
def moved_scenario(draw) -> str:
    """A scenario with one to four fields moved by a modest factor or switched: mostly valid,
    reaching the rules between fields (markets switched on without their prerequisites)."""
    data = _base()
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(NUMERIC_LEAVES))
        factor = draw(st.sampled_from([0.5, 0.8, 1.25, 2.0]))
        _set(data, path, _perturbed(_get(RESOLVED, path), factor))
    return yaml.safe_dump(data, sort_keys=False)


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(text=moved_scenario())
def test_what_validate_accepts_runs_and_passes_check(workspace, text):
    test_validate_and_run_agree_on_any_scenario.hypothesis.inner_test(workspace, text)
