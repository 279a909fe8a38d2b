"""Comparing runs: headline metrics of each run against the first (the reference) as a
difference of means with a Welch t interval over replications, and overlaid figures."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.viz.draw import Built
from sim.viz.plot import build_figures, save_built
from sim.viz.rundir import Run, RunFolderError, load_runs
from sim.viz.stats import welch_delta

COLUMNS = (
    "metric",
    "reference",
    "run",
    "reference_mean",
    "run_mean",
    "delta",
    "ci95_low",
    "ci95_high",
    "relative_delta",
    "n_reference",
    "n_run",
    "significant",
)


@dataclass
class Comparison:
    """What ``compare_runs`` produced: the deltas table, the figures and the files written."""

    table: pd.DataFrame
    built: list[Built]
    paths: list[Path]
    out_dir: Path


def metric_values(run: Run, name: str) -> np.ndarray:
    """Per-replication values of a summary metric (its mean alone if values were not kept)."""
    entry = run.summary.get("metrics", {}).get(name)
    if not isinstance(entry, dict):
        return np.array([], dtype=float)
    values = entry.get("values")
    if values is None and entry.get("mean") is not None:
        values = [entry["mean"]]
    return np.asarray([np.nan if v is None else v for v in values or []], dtype=float)


def _metric_names(runs: Sequence[Run]) -> list[str]:
    names: list[str] = []
    for run in runs:
        for name in run.summary.get("metrics", {}):
            if name not in names:
                names.append(name)
    return names


def compare_table(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per (run, metric) for every run after the first, against the first run."""
    if len(runs) < 2:
        raise RunFolderError("compare needs at least two run folders")
    for run in runs:
        if not run.summary.get("metrics"):
            raise RunFolderError(
                f"{run.path / 'summary.json'}: missing or has no metrics; compare needs it"
            )
    reference = runs[0]
    rows = []
    for run in runs[1:]:
        for name in _metric_names(runs):
            d = welch_delta(metric_values(reference, name), metric_values(run, name))
            relative = d.delta / abs(d.reference_mean) if d.reference_mean else math.nan
            rows.append(
                {
                    "metric": name,
                    "reference": reference.label,
                    "run": run.label,
                    "reference_mean": d.reference_mean,
                    "run_mean": d.run_mean,
                    "delta": d.delta,
                    "ci95_low": d.ci_low,
                    "ci95_high": d.ci_high,
                    "relative_delta": relative,
                    "n_reference": d.n_reference,
                    "n_run": d.n_run,
                    "significant": bool(d.ci_low > 0 or d.ci_high < 0),
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def default_out_dir(runs: Sequence[Run]) -> Path:
    """``compare-<a>-vs-<b>`` beside the first run folder (hashed when the name gets long)."""
    name = "compare-" + "-vs-".join(r.path.name for r in runs)
    if len(name) > 120:
        digest = hashlib.sha256("\0".join(str(r.path) for r in runs).encode()).hexdigest()
        name = f"compare-{runs[0].path.name[:60]}-and-{len(runs) - 1}-more-{digest[:8]}"
    return runs[0].path.parent / name


def compare_runs(
    run_dirs: Sequence[Path | str],
    labels: Sequence[str] | None = None,
    out_dir: Path | str | None = None,
    kinds: Iterable[str] = ("all",),
    formats: Iterable[str] | str = ("png",),
) -> Comparison:
    """Compare runs against the first: write ``compare.parquet``, ``compare.csv`` and the
    overlaid figures into ``out_dir``."""
    runs = load_runs([Path(p) for p in run_dirs], list(labels) if labels else None)
    table = compare_table(runs)
    out = Path(out_dir) if out_dir is not None else default_out_dir(runs)
    out.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out / "compare.parquet", index=False)
    table.to_csv(out / "compare.csv", index=False)
    built = build_figures(runs, kinds)
    paths = [out / "compare.parquet", out / "compare.csv", *save_built(built, out, formats)]
    return Comparison(table=table, built=built, paths=paths, out_dir=out)
