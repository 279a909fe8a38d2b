"""Scenario discovery with PRIM (Friedman and Fisher's Patient Rule Induction Method).

Given the sweep's points and a condition on a metric (``served_share.academics < 0.5``), PRIM
looks for a box in parameter space (a range per parameter) where the condition mostly holds.

Peeling: start from the box holding every point. At each step try to cut off, for each parameter,
the lowest or the highest ``alpha`` share of the points still inside (for a parameter with few
distinct values, the lowest or highest value), and keep the cut that leaves the box with the
highest density; stop when a further cut would leave fewer than ``mass_min`` of all points.
Each step is a candidate box, with

- coverage: the share of all cases of interest (points meeting the condition) inside the box;
- density: the share of the points inside the box that are cases;
- mass: the share of all points inside the box.

Coverage falls and density rises along the trajectory. The chosen box is the first (widest) one
whose density reaches ``threshold``, or, with no threshold, the knee of the trajectory: the step
farthest from the straight line joining its two ends in the (coverage, density) plane. Covering:
for further boxes, the points of the chosen box are set aside and PRIM runs again on the rest.

A small implementation is kept here rather than a dependency: the ``PRIM`` package on PyPI pulls
in interactive plotting (mplcursors) and is GPL-3 licensed, and the method is a few dozen lines.
There is no pasting step.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_WHERE = re.compile(rf"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(<=|>=|<|>)\s*({_NUMBER})\s*$")


@dataclass(frozen=True)
class Condition:
    """``metric op value``: which points are cases of interest."""

    metric: str
    op: str
    value: float

    def holds(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(_OPS[self.op](values, self.value), dtype=bool)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def parse_where(text: str) -> Condition:
    """Read ``metric < number`` (also ``<=``, ``>``, ``>=``) without evaluating anything."""
    m = _WHERE.match(text)
    if m is None:
        raise ValueError(
            f"--where {text!r}: expected 'METRIC OP NUMBER' with OP one of <, <=, >, >= "
            "(e.g. 'served_share.academics < 0.5')"
        )
    value = float(m.group(3))
    if not math.isfinite(value):
        raise ValueError(f"--where {text!r}: the value must be a finite number")
    return Condition(m.group(1), m.group(2), value)


@dataclass
class Box:
    """One candidate box: parameter limits (inclusive) and how well it captures the cases."""

    limits: dict[str, tuple[float, float]]
    coverage: float
    density: float
    mass: float
    n_points: int
    n_cases: int

    def restricted(self, full: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        """The limits that cut into the range the points span."""
        return {k: v for k, v in self.limits.items() if v != full[k]}

    def to_json(self, full: dict[str, tuple[float, float]]) -> dict[str, Any]:
        return {
            "limits": {k: list(v) for k, v in self.restricted(full).items()},
            "coverage": self.coverage,
            "density": self.density,
            "mass": self.mass,
            "n_points": self.n_points,
            "n_cases": self.n_cases,
        }


@dataclass
class PrimResult:
    """The peeling trajectory of one PRIM run and the index of the chosen box."""

    trajectory: list[Box]
    chosen: int

    @property
    def box(self) -> Box:
        return self.trajectory[self.chosen]

    @property
    def start(self) -> Box:
        """The box before any peeling: the range of the points this run saw."""
        return self.trajectory[0]

    def restricted(self) -> dict[str, tuple[float, float]]:
        return self.box.restricted(self.start.limits)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"coverage": b.coverage, "density": b.density, "mass": b.mass}
                for b in self.trajectory
            ]
        )


def _limits(x: pd.DataFrame, inside: np.ndarray) -> dict[str, tuple[float, float]]:
    return {
        str(c): (float(x[c].to_numpy()[inside].min()), float(x[c].to_numpy()[inside].max()))
        for c in x
    }


def _box(
    limits: dict[str, tuple[float, float]],
    y: np.ndarray,
    inside: np.ndarray,
    total_cases: int,
    n_total: int,
) -> Box:
    cases = int(y[inside].sum())
    n = int(inside.sum())
    return Box(
        limits=dict(limits),
        coverage=cases / total_cases if total_cases else 0.0,
        density=cases / n if n else 0.0,
        mass=n / n_total,
        n_points=n,
        n_cases=cases,
    )


def _peel_candidates(values: np.ndarray, alpha: float) -> list[np.ndarray]:
    """Masks (over the points inside) of what a lower and an upper peel would remove."""
    out = []
    lo_q, hi_q = np.quantile(values, [alpha, 1 - alpha])
    lower = values < lo_q
    if not lower.any():
        lower = values == values.min()
    upper = values > hi_q
    if not upper.any():
        upper = values == values.max()
    for removed in (lower, upper):
        if removed.any() and not removed.all():
            out.append(removed)
    return out


def peel(
    x: pd.DataFrame,
    y: np.ndarray,
    alpha: float = 0.05,
    mass_min: float = 0.05,
    total_cases: int | None = None,
    n_total: int | None = None,
) -> list[Box]:
    """PRIM's peeling trajectory, widest box first."""
    n_total = n_total or len(x)
    total_cases = int(y.sum()) if total_cases is None else total_cases
    inside = np.ones(len(x), dtype=bool)
    limits = _limits(x, inside)
    trajectory = [_box(limits, y, inside, total_cases, n_total)]
    columns = {str(c): x[c].to_numpy(dtype=float) for c in x}
    while trajectory[-1].density < 1.0:
        idx = np.flatnonzero(inside)
        best: tuple[float, int, str, np.ndarray] | None = None
        for name, values in columns.items():
            for removed in _peel_candidates(values[idx], alpha):
                keep = idx[~removed]
                if len(keep) < mass_min * n_total:
                    continue
                density = float(y[keep].mean())
                # Highest density wins; on a tie, the cut that removes fewer points.
                if best is None or (density, len(keep)) > (best[0], best[1]):
                    best = (density, len(keep), name, keep)
        if best is None:
            break
        _, _, name, keep = best
        inside = np.zeros(len(x), dtype=bool)
        inside[keep] = True
        kept = columns[name][keep]
        # Only the peeled parameter's limit moves; the others keep their range.
        limits[name] = (float(kept.min()), float(kept.max()))
        trajectory.append(_box(limits, y, inside, total_cases, n_total))
    return trajectory


def choose_box(trajectory: list[Box], threshold: float | None = None) -> int:
    """The first box whose density reaches ``threshold``; with no threshold, the knee."""
    if threshold is not None:
        for i, box in enumerate(trajectory):
            if box.density >= threshold:
                return i
        return int(np.argmax([b.density for b in trajectory]))
    if len(trajectory) < 3:
        return len(trajectory) - 1
    cov = np.array([b.coverage for b in trajectory])
    den = np.array([b.density for b in trajectory])
    start, end = np.array([cov[0], den[0]]), np.array([cov[-1], den[-1]])
    chord = end - start
    norm = float(np.hypot(*chord))
    if norm == 0:
        return 0
    dist = np.abs(chord[0] * (den - start[1]) - chord[1] * (cov - start[0])) / norm
    return int(np.argmax(dist))


def prim(
    x: pd.DataFrame,
    y: np.ndarray,
    alpha: float = 0.05,
    mass_min: float = 0.05,
    threshold: float | None = None,
    total_cases: int | None = None,
    n_total: int | None = None,
) -> PrimResult:
    """Peel, then choose a box (see the module docstring)."""
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha {alpha}: must be in (0, 0.5)")
    if not 0 < mass_min < 1:
        raise ValueError(f"mass_min {mass_min}: must be in (0, 1)")
    trajectory = peel(x, np.asarray(y, dtype=bool), alpha, mass_min, total_cases, n_total)
    return PrimResult(trajectory, choose_box(trajectory, threshold))


@dataclass
class Discovery:
    """Boxes found for one condition, by covering (each later box on the points left over)."""

    where: str
    n_points: int
    n_cases: int
    full: dict[str, tuple[float, float]]
    runs: list[PrimResult] = field(default_factory=list)

    @property
    def boxes(self) -> list[Box]:
        return [r.box for r in self.runs]

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "n_points": self.n_points,
            "n_cases": self.n_cases,
            "base_rate": self.n_cases / self.n_points if self.n_points else 0.0,
            "parameter_ranges": {k: list(v) for k, v in self.full.items()},
            "boxes": [
                {
                    **r.box.to_json(self.full),
                    "peeling_step": r.chosen,
                    "trajectory": r.frame().to_dict("list"),
                }
                for r in self.runs
            ],
        }


def _in_box(x: pd.DataFrame, limits: dict[str, tuple[float, float]]) -> np.ndarray:
    mask = np.ones(len(x), dtype=bool)
    for c, (lo, hi) in limits.items():
        v = x[c].to_numpy(dtype=float)
        mask &= (v >= lo) & (v <= hi)
    return mask


def discover(
    x: pd.DataFrame,
    y: np.ndarray,
    where: str,
    alpha: float = 0.05,
    mass_min: float = 0.05,
    threshold: float | None = None,
    max_boxes: int = 1,
) -> Discovery:
    """Up to ``max_boxes`` boxes, by covering.

    A later box is kept only if its density reaches ``threshold`` (without one: 0.5, a majority of
    cases) and beats the base rate of the points left over; otherwise covering stops.
    """
    y = np.asarray(y, dtype=bool)
    full = _limits(x, np.ones(len(x), dtype=bool))
    result = Discovery(where, len(x), int(y.sum()), full)
    if result.n_cases == 0 or len(x) == 0:
        return result
    remaining = np.ones(len(x), dtype=bool)
    for _ in range(max_boxes):
        xs, ys = x[remaining].reset_index(drop=True), y[remaining]
        if ys.sum() == 0 or remaining.sum() < 2:
            break
        run = prim(xs, ys, alpha, mass_min, threshold, total_cases=result.n_cases, n_total=len(x))
        floor = threshold if threshold is not None else 0.5
        if result.runs and (run.box.density <= ys.mean() or run.box.density < floor):
            break
        result.runs.append(run)
        remaining &= ~_in_box(x, run.box.limits)
    return result


def sweep_cases(
    means: pd.DataFrame, parameters: list[str], conditions: list[Condition]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Parameter values and case flags of every point whose metrics are known.

    ``means`` holds one row per design point (metrics averaged over replications); a point is a
    case when every condition holds.
    """
    known = np.ones(len(means), dtype=bool)
    for cond in conditions:
        if cond.metric not in means.columns or cond.metric in parameters:
            raise ValueError(_unknown_metric(cond.metric, means, parameters))
        known &= np.isfinite(means[cond.metric].to_numpy(dtype=float))
    rows = means[known].reset_index(drop=True)
    y = np.ones(len(rows), dtype=bool)
    for cond in conditions:
        y &= cond.holds(rows[cond.metric].to_numpy(dtype=float))
    return rows[parameters].astype(float), y


def _unknown_metric(name: str, means: pd.DataFrame, parameters: list[str]) -> str:
    metrics = [c for c in means.columns if c not in ("point", *parameters)]
    close = difflib.get_close_matches(name, metrics, n=5, cutoff=0.5)
    hint = f"; did you mean: {', '.join(close)}" if close else f"; metrics: {', '.join(metrics)}"
    return f"--where: {name} is not a metric of this sweep{hint}"
