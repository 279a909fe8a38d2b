"""Analytic model functions with known answers, run through the same engine as the simulator.

A model function has the signature ``f(params, seed, replication) -> dict[str, float]``. These
ones check the sweep machinery (their sensitivity indices are known in closed form) and serve as
a stand-in workload for benchmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ISHIGAMI_A = 7.0
ISHIGAMI_B = 0.1


def ishigami(
    params: dict[str, float], seed: np.random.SeedSequence, replication: int
) -> dict[str, float]:
    """The Ishigami function of ``x1, x2, x3`` (each on ``[-pi, pi]``), with a = 7 and b = 0.1.

    First-order Sobol indices: 0.3139, 0.4424, 0; total: 0.5576, 0.4424, 0.2437.
    """
    x1, x2, x3 = params["x1"], params["x2"], params["x3"]
    y = math.sin(x1) + ISHIGAMI_A * math.sin(x2) ** 2 + ISHIGAMI_B * x3**4 * math.sin(x1)
    return {"y": y}


def ishigami_indices(a: float = ISHIGAMI_A, b: float = ISHIGAMI_B) -> dict[str, tuple[float, ...]]:
    """Exact first-order (``S1``) and total (``ST``) Sobol indices of the Ishigami function."""
    pi4 = math.pi**4
    v1 = 0.5 * (1 + b * pi4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi4**2 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    return {"S1": (v1 / var, v2 / var, 0.0), "ST": ((v1 + v13) / var, v2 / var, v13 / var)}


@dataclass(frozen=True)
class NoisyIshigami:
    """Ishigami plus Gaussian noise drawn from the run's seed: results depend on the seeding."""

    noise_sd: float = 0.5

    def __call__(
        self, params: dict[str, float], seed: np.random.SeedSequence, replication: int
    ) -> dict[str, float]:
        rng = np.random.default_rng(seed)
        y = ishigami(params, seed, replication)["y"]
        return {"y": y + self.noise_sd * float(rng.standard_normal())}


@dataclass(frozen=True)
class BusyModel:
    """A CPU-bound stand-in for the simulator: ``work`` rounds of a small random walk."""

    work: int = 200_000

    def __call__(
        self, params: dict[str, float], seed: np.random.SeedSequence, replication: int
    ) -> dict[str, float]:
        rng = np.random.default_rng(seed)
        steps = rng.standard_normal(self.work)
        drift = sum(float(v) for v in params.values())
        walk = np.cumsum(steps + drift * 1e-3)
        return {"final": float(walk[-1]), "max": float(walk.max())}
