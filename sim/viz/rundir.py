"""Reading a run folder (``results/<scenario>-<id>/``) into memory for plotting."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

REQUIRED_TABLES = ("timeseries", "agents", "jobs")
OPTIONAL_TABLES = ("providers", "forward_curves")
TIMESERIES_COLUMNS = ("replication", "period", "day", "metric", "group", "value")


class RunFolderError(ValueError):
    """A path that is not a readable run folder; the message names the path and what is wrong."""


@dataclass
class Run:
    """One run folder: its tables, summary and resolved scenario, under a display label."""

    path: Path
    label: str
    manifest: dict
    summary: dict
    scenario_text: str
    timeseries: pd.DataFrame
    agents: pd.DataFrame
    jobs: pd.DataFrame
    providers: pd.DataFrame | None = None
    forward_curves: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def scenario_name(self) -> str:
        return str(self.manifest.get("scenario") or self.summary.get("scenario") or self.path.name)

    @property
    def replications(self) -> int:
        if "replication" in self.timeseries and len(self.timeseries):
            return int(self.timeseries["replication"].nunique())
        return int(self.summary.get("replications") or 0)

    def metric(self, name: str) -> pd.DataFrame:
        """Rows of the timeseries for one metric (empty when the run does not record it)."""
        ts = self.timeseries
        return ts[ts["metric"] == name]

    def has_metric(self, name: str) -> bool:
        sub = self.metric(name)
        return bool(len(sub)) and bool(sub["value"].notna().any())


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"{path}: cannot read JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise RunFolderError(f"{path}: expected a JSON object")
    return data


def _read_table(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise RunFolderError(f"{path}: cannot read Parquet table ({exc})") from exc


def load_run(path: Path | str, label: str | None = None) -> Run:
    """Load a run folder, or raise ``RunFolderError`` naming the path and what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise RunFolderError(f"{path}: not a directory (expected a run folder under results/)")
    if not (path / "manifest.json").is_file() and not (path / "timeseries.parquet").is_file():
        raise RunFolderError(
            f"{path}: not a run folder (no manifest.json or timeseries.parquet); "
            "run folders are written by `sim run` under results/"
        )
    missing = [f"{t}.parquet" for t in REQUIRED_TABLES if not (path / f"{t}.parquet").is_file()]
    if missing:
        raise RunFolderError(f"{path}: run folder is missing {', '.join(missing)}")

    manifest = _read_json(path / "manifest.json") if (path / "manifest.json").is_file() else {}
    summary = _read_json(path / "summary.json") if (path / "summary.json").is_file() else {}
    scenario_file = path / "scenario.yaml"
    scenario_text = scenario_file.read_text() if scenario_file.is_file() else ""

    tables = {t: _read_table(path / f"{t}.parquet") for t in REQUIRED_TABLES}
    absent = [c for c in TIMESERIES_COLUMNS if c not in tables["timeseries"].columns]
    if absent:
        raise RunFolderError(
            f"{path / 'timeseries.parquet'}: missing column(s) {', '.join(absent)}; "
            f"expected {', '.join(TIMESERIES_COLUMNS)}"
        )
    optional = {
        t: _read_table(path / f"{t}.parquet") if (path / f"{t}.parquet").is_file() else None
        for t in OPTIONAL_TABLES
    }
    run = Run(
        path=path,
        label=label or path.name,
        manifest=manifest,
        summary=summary,
        scenario_text=scenario_text,
        timeseries=tables["timeseries"],
        agents=tables["agents"],
        jobs=tables["jobs"],
        providers=optional["providers"],
        forward_curves=optional["forward_curves"],
    )
    if not summary:
        run.notes.append(f"{path / 'summary.json'} is absent: headline metrics are not shown")
    return run


def load_runs(paths: list[Path], labels: list[str] | None = None) -> list[Run]:
    """Load several run folders; labels default to folder names, made unique if they repeat."""
    if labels is not None and len(labels) != len(paths):
        raise RunFolderError(f"{len(labels)} label(s) given for {len(paths)} run folder(s)")
    names = labels or [Path(p).name for p in paths]
    if len(set(names)) < len(names):
        names = [f"{n} ({i + 1})" for i, n in enumerate(names)]
    return [load_run(p, n) for p, n in zip(paths, names, strict=True)]
