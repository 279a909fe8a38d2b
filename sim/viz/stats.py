"""The small statistics behind the figures: bands over replications, Lorenz curves, ECDFs and
Welch intervals. Pure functions on arrays and frames, tested on hand-computed cases."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from sim.viz.style import BAND_QUANTILES

BLOCK_EDGES: tuple[int, ...] = (1, 8, 64, 256, 1024)
BLOCK_LABELS: tuple[str, ...] = ("1-7", "8-63", "64-255", "256-1023", "1024+")


def band(frame: pd.DataFrame, x: str = "day", y: str = "value") -> pd.DataFrame:
    """Mean and 10-90% quantiles of ``y`` across replications at each ``x``.

    Returns columns ``x, mean, lo, hi, n`` sorted by ``x``; NaN values (nothing bought that
    period) are left out, and an ``x`` with no value at all is dropped.
    """
    data = frame[[x, y]].dropna()
    if data.empty:
        return pd.DataFrame(columns=[x, "mean", "lo", "hi", "n"])
    grouped = data.groupby(x, sort=True)[y]
    lo_q, hi_q = BAND_QUANTILES
    out = pd.DataFrame(
        {
            "mean": grouped.mean(),
            "lo": grouped.quantile(lo_q),
            "hi": grouped.quantile(hi_q),
            "n": grouped.size(),
        }
    )
    return out.reset_index()


def spread(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 10-90% quantiles of per-replication values (NaN when there are none)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (math.nan, math.nan, math.nan)
    lo, hi = np.quantile(v, BAND_QUANTILES)
    return (float(v.mean()), float(lo), float(hi))


def lorenz(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share of agents (poorest first) against their cumulative share of the total."""
    v = np.sort(np.clip(np.asarray(values, dtype=float), 0.0, None))
    n = v.size
    x = np.linspace(0.0, 1.0, n + 1)
    total = v.sum()
    if n == 0 or total <= 0:
        return x, x.copy()
    y = np.concatenate([[0.0], np.cumsum(v) / total])
    return x, y


def gini(values: np.ndarray) -> float:
    """Gini coefficient: 0 when every agent gets the same, towards 1 when one gets everything."""
    x, y = lorenz(values)
    if x.size < 2:
        return math.nan
    return float(1.0 - np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1])))


def lorenz_on_grid(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The Lorenz curve interpolated at population shares ``grid`` (to average replications)."""
    x, y = lorenz(values)
    return np.interp(grid, x, y)


def ecdf_with_never(waits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of all runs started within each waiting time; runs never started (NaN) count in
    the denominator, so the curve levels off below 1 by the share that never started."""
    w = np.asarray(waits, dtype=float)
    n = w.size
    started = np.sort(w[np.isfinite(w)])
    if n == 0 or started.size == 0:
        return np.array([0.0]), np.array([0.0])
    x = np.concatenate([[0.0], started])
    y = np.concatenate([[0.0], np.arange(1, started.size + 1) / n])
    return x, y


def block_bucket(gpus: pd.Series) -> pd.Series:
    """Bucket runs by block size: 1-7, 8-63, 64-255, 256-1023, 1024+ GPUs (a categorical)."""
    edges = [*BLOCK_EDGES, np.inf]
    return pd.cut(gpus, bins=edges, right=False, labels=list(BLOCK_LABELS))


@dataclass(frozen=True)
class Delta:
    """Difference of means (run minus reference) with its Welch t interval."""

    reference_mean: float
    run_mean: float
    delta: float
    ci_low: float
    ci_high: float
    df: float
    n_reference: int
    n_run: int


def welch_delta(reference: np.ndarray, run: np.ndarray, level: float = 0.95) -> Delta:
    """Welch t interval for mean(run) - mean(reference) over replications.

    With fewer than two replications on a side the spread is unknown and the interval is NaN;
    with no spread on either side the difference is exact and the interval collapses on it.
    """
    a = np.asarray(reference, dtype=float)
    b = np.asarray(run, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    na, nb = a.size, b.size
    ma = float(a.mean()) if na else math.nan
    mb = float(b.mean()) if nb else math.nan
    delta = mb - ma
    if na < 2 or nb < 2:
        return Delta(ma, mb, delta, math.nan, math.nan, math.nan, na, nb)
    va, vb = a.var(ddof=1) / na, b.var(ddof=1) / nb
    se2 = va + vb
    if se2 == 0:
        return Delta(ma, mb, delta, delta, delta, math.inf, na, nb)
    df = se2**2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    half = float(sps.t.ppf(0.5 + level / 2, df)) * math.sqrt(se2)
    return Delta(ma, mb, delta, delta - half, delta + half, float(df), na, nb)
