"""Sensitivity indices from a sweep table, one set per metric.

Every index is computed on the mean over replications at each design point, so replication noise
is averaged out before the analysis (it still shows as a wider confidence interval).

- ``sobol``: first-order ``S1`` and total ``ST`` indices with bootstrap 95% confidence half-widths
  (``SALib.analyze.sobol``); ``S2`` for pairs when the design has second-order samples.
- ``morris``: ``mu``, ``mu_star`` (with its bootstrap confidence half-width) and ``sigma``
  (``SALib.analyze.morris``), as change of the metric per full range of the parameter: the
  elementary effects are taken in the unit cube.
- ``lhs`` and ``grid``: Spearman rank correlation ``spearman`` of each parameter with the metric
  (confidence half-width from Fisher's z, delta method) and ``effect``: the metric's mean over the
  points where the parameter is high minus where it is low (top and bottom third of its values,
  or highest and lowest level of a grid).

The tidy result has columns ``metric, parameter, index, value, conf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from scipy.stats import spearmanr

from sim.sweep.design import Design, default_options
from sim.sweep.files import write_json, write_parquet
from sim.sweep.spec import ANALYSIS_KEY, SweepSpec, aux_rng

COLUMNS = ["metric", "parameter", "index", "value", "conf"]
CONF_LEVEL = 0.95
RESAMPLES = 200


@dataclass
class Sensitivity:
    """Tidy indices plus notes on metrics that could not be analysed and why."""

    method: str
    indices: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        records = [
            {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in r.items()
            }
            for r in self.indices.to_dict("records")
        ]
        return {
            "method": self.method,
            "conf_level": CONF_LEVEL,
            "notes": self.notes,
            "indices": records,
        }


def metric_columns(table: pd.DataFrame, spec: SweepSpec) -> list[str]:
    skip = {"point", "replication", *spec.names}
    return [c for c in table.columns if c not in skip]


def point_means(table: pd.DataFrame, spec: SweepSpec, design: Design) -> pd.DataFrame:
    """Mean of every metric over replications, one row per design point (NaN where none ran)."""
    metrics = metric_columns(table, spec)
    means = table.groupby("point")[metrics].mean() if len(table) else pd.DataFrame(columns=metrics)
    means = means.reindex(pd.RangeIndex(design.size, name="point"))
    return design.values.set_index("point").join(means).reset_index()


def low_high_masks(x: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Where a parameter is low and where it is high (grid: extreme levels; else outer thirds)."""
    if method == "grid":
        return x == x.min(), x == x.max()
    lo, hi = np.quantile(x, [1 / 3, 2 / 3])
    return x <= lo, x >= hi


def analyse(
    table: pd.DataFrame, spec: SweepSpec, design: Design, metrics: list[str] | None = None
) -> Sensitivity:
    """Indices for each metric (all metrics of the table when ``metrics`` is None)."""
    means = point_means(table, spec, design)
    chosen = metrics if metrics is not None else metric_columns(table, spec)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for metric in chosen:
        if metric not in means.columns:
            notes.append(f"{metric}: not a metric of this sweep")
            continue
        y = means[metric].to_numpy(dtype=float)
        problem = _skip_reason(y, spec.method)
        if problem:
            notes.append(f"{metric}: {problem}")
            continue
        rows.extend(_indices(spec, design, means, metric, y))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return Sensitivity(spec.method, frame, notes)


def _skip_reason(y: np.ndarray, method: str) -> str | None:
    missing = int(np.isnan(y).sum())
    if missing and method in ("sobol", "morris"):
        return f"{missing} design points have no finished run; {method} needs every point"
    finite = y[np.isfinite(y)]
    if len(finite) < 3:
        return "fewer than 3 points with a value"
    if np.ptp(finite) == 0:
        return "constant over the sweep (no variance to apportion)"
    return None


def _problem(spec: SweepSpec) -> dict[str, Any]:
    d = len(spec.parameters)
    return {"num_vars": d, "names": spec.names, "bounds": [[0.0, 1.0]] * d}


def _indices(
    spec: SweepSpec, design: Design, means: pd.DataFrame, metric: str, y: np.ndarray
) -> list[dict[str, Any]]:
    if spec.method == "sobol":
        return _sobol(spec, metric, y)
    if spec.method == "morris":
        return _morris(spec, design, metric, y)
    return _correlation(spec, means, metric, y)


def _row(metric: str, parameter: str, index: str, value: float, conf: float = math.nan) -> dict:
    return {
        "metric": metric,
        "parameter": parameter,
        "index": index,
        "value": float(value),
        "conf": float(conf),
    }


def _sobol(spec: SweepSpec, metric: str, y: np.ndarray) -> list[dict[str, Any]]:
    second = bool({**default_options("sobol"), **spec.options}["calc_second_order"])
    res = sobol_analyze.analyze(
        _problem(spec),
        y,
        calc_second_order=second,
        num_resamples=RESAMPLES,
        conf_level=CONF_LEVEL,
        seed=aux_rng(spec.root_seed, ANALYSIS_KEY),
    )
    rows = []
    for j, name in enumerate(spec.names):
        rows.append(_row(metric, name, "S1", res["S1"][j], res["S1_conf"][j]))
        rows.append(_row(metric, name, "ST", res["ST"][j], res["ST_conf"][j]))
    if second:
        for j, a in enumerate(spec.names):
            for k in range(j + 1, len(spec.names)):
                pair = f"{a} x {spec.names[k]}"
                rows.append(_row(metric, pair, "S2", res["S2"][j, k], res["S2_conf"][j, k]))
    return rows


def _morris(spec: SweepSpec, design: Design, metric: str, y: np.ndarray) -> list[dict[str, Any]]:
    levels = int({**default_options("morris"), **spec.options}["num_levels"])
    res = morris_analyze.analyze(
        _problem(spec),
        design.unit,
        y,
        num_resamples=RESAMPLES,
        conf_level=CONF_LEVEL,
        num_levels=levels,
        seed=aux_rng(spec.root_seed, ANALYSIS_KEY),
    )
    mu, mu_star, sigma, conf = (
        np.asarray(res[k], dtype=float) for k in ("mu", "mu_star", "sigma", "mu_star_conf")
    )
    rows = []
    for j, name in enumerate(spec.names):
        rows.append(_row(metric, name, "mu", mu[j]))
        rows.append(_row(metric, name, "mu_star", mu_star[j], conf[j]))
        rows.append(_row(metric, name, "sigma", sigma[j]))
    return rows


def _correlation(
    spec: SweepSpec, means: pd.DataFrame, metric: str, y: np.ndarray
) -> list[dict[str, Any]]:
    rows = []
    ok = np.isfinite(y)
    for name in spec.names:
        x = means[name].to_numpy(dtype=float)[ok]
        yy = y[ok]
        if np.ptp(x) == 0:
            continue
        rho = float(spearmanr(x, yy).statistic)
        n = len(x)
        conf = 1.959964 * (1 - rho**2) / math.sqrt(n - 3) if n > 3 else math.nan
        rows.append(_row(metric, name, "spearman", rho, conf))
        low, high = low_high_masks(x, spec.method)
        rows.append(_row(metric, name, "effect", yy[high].mean() - yy[low].mean()))
    return rows


def write_sensitivity(result: Sensitivity, out_dir: Path | str) -> None:
    """``sensitivity.parquet`` (tidy) and ``sensitivity.json`` in ``out_dir``."""
    out = Path(out_dir)
    table = pa.Table.from_pandas(result.indices, preserve_index=False)
    write_parquet(out / "sensitivity.parquet", table)
    write_json(out / "sensitivity.json", result.to_json())
