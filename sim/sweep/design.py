"""Experimental designs: where in parameter space a sweep runs.

Every sampler works in the unit cube ``[0, 1]^d`` and is seeded from the sweep's root seed; the
points are then scaled to each parameter's bounds (integer fields take whole numbers, each with
an equal share of the interval). The design is a pure function of the spec.

- ``grid``: ``samples`` evenly spaced levels per parameter, all combinations (``samples ** d``).
- ``lhs``: ``samples`` points of a Latin hypercube (``scipy.stats.qmc.LatinHypercube``).
- ``sobol``: Saltelli's scheme on a scrambled Sobol' sequence (``SALib.sample.sobol``);
  ``samples`` is the base sample N, a power of two; ``N * (d + 2)`` points (``N * (2d + 2)`` with
  second-order indices).
- ``morris``: ``samples`` Morris trajectories on a ``num_levels`` grid (``SALib.sample.morris``);
  ``samples * (d + 1)`` points.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from scipy.stats import qmc

from sim.sweep.spec import DESIGN_KEY, METHODS, SweepSpec, aux_rng

MAX_POINTS = 1_000_000
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "sobol": {"calc_second_order": False},
    "morris": {"num_levels": 4},
}


class DesignError(ValueError):
    """A design that cannot be built (bad method, sample count or size)."""


def default_options(method: str) -> dict[str, Any]:
    return dict(DEFAULT_OPTIONS.get(method, {}))


def design_size(method: str, samples: int, d: int, options: dict[str, Any] | None = None) -> int:
    """Number of points a design has (before replications)."""
    opts = {**default_options(method), **(options or {})}
    if method == "grid":
        return samples**d
    if method == "lhs":
        return samples
    if method == "sobol":
        return samples * (2 * d + 2 if opts["calc_second_order"] else d + 2)
    if method == "morris":
        return samples * (d + 1)
    raise DesignError(f"--method {method}: unknown method; allowed: {', '.join(METHODS)}")


def check_design(method: str, samples: int, d: int, options: dict[str, Any] | None = None) -> int:
    """Raise ``DesignError`` for a design that cannot be built; return its number of points."""
    if method not in METHODS:
        raise DesignError(f"--method {method}: unknown method; allowed: {', '.join(METHODS)}")
    if d < 1:
        raise DesignError("no parameter to vary: give at least one --vary path=lo:hi")
    if samples < 1:
        raise DesignError(f"--samples {samples}: must be >= 1")
    if method == "sobol" and (samples < 2 or samples & (samples - 1)):
        raise DesignError(
            f"--samples {samples}: sobol needs a power of two (e.g. {_near_powers(samples)}), "
            "so that the Sobol' sequence keeps its balance"
        )
    if method == "morris" and samples < 2:
        raise DesignError(f"--samples {samples}: morris needs at least 2 trajectories")
    if method == "lhs" and samples < 2:
        raise DesignError(f"--samples {samples}: lhs needs at least 2 points")
    n = design_size(method, samples, d, options)
    if n > MAX_POINTS:
        raise DesignError(
            f"--samples {samples}: the {method} design has {n} points (limit {MAX_POINTS})"
        )
    return n


def _near_powers(n: int) -> str:
    low = 1 << max(1, max(n, 2).bit_length() - 1)
    high = low * 2
    return f"{low} or {high}" if low != n else f"{high}"


def unit_design(
    method: str,
    samples: int,
    d: int,
    rng: np.random.Generator,
    options: dict[str, Any] | None = None,
) -> np.ndarray:
    """The design's points in the unit cube, shape ``(n, d)``."""
    check_design(method, samples, d, options)
    opts = {**default_options(method), **(options or {})}
    problem = {"num_vars": d, "names": [f"x{j}" for j in range(d)], "bounds": [[0.0, 1.0]] * d}
    if method == "grid":
        levels = np.linspace(0.0, 1.0, samples) if samples > 1 else np.array([0.5])
        return np.array(list(itertools.product(levels, repeat=d)), dtype=float)
    if method == "lhs":
        return qmc.LatinHypercube(d=d, rng=rng).random(samples)
    if method == "sobol":
        return sobol_sample.sample(
            problem, samples, calc_second_order=bool(opts["calc_second_order"]), seed=rng
        )
    return morris_sample.sample(problem, samples, num_levels=int(opts["num_levels"]), seed=rng)


@dataclass(frozen=True)
class Design:
    """A design: unit-cube coordinates and the parameter values they map to, one row per point."""

    unit: np.ndarray
    values: pd.DataFrame  # columns: point, then one per parameter path

    @property
    def size(self) -> int:
        return len(self.values)

    def digest(self) -> str:
        h = hashlib.sha256(np.ascontiguousarray(self.unit, dtype=np.float64).tobytes())
        h.update(pd.util.hash_pandas_object(self.values, index=False).to_numpy().tobytes())
        return h.hexdigest()

    @cached_property
    def _records(self) -> list[dict[str, float | int]]:
        names = [c for c in self.values.columns if c != "point"]
        columns = {name: self.values[name].tolist() for name in names}
        return [{name: columns[name][i] for name in names} for i in range(self.size)]

    def point_params(self, point: int) -> dict[str, float | int]:
        """Parameter values of one point as Python numbers (ints for integer fields)."""
        return dict(self._records[point])


def build_design(spec: SweepSpec) -> Design:
    """The spec's design: sampled in the unit cube from the root seed, scaled to the bounds."""
    d = len(spec.parameters)
    unit = unit_design(
        spec.method, spec.samples, d, aux_rng(spec.root_seed, DESIGN_KEY), spec.options
    )
    columns: dict[str, Any] = {"point": np.arange(len(unit), dtype=np.int64)}
    for j, param in enumerate(spec.parameters):
        scaled = [param.scale(float(u)) for u in unit[:, j]]
        columns[param.path] = np.asarray(scaled, dtype=np.int64 if param.integer else np.float64)
    return Design(unit=unit, values=pd.DataFrame(columns))
