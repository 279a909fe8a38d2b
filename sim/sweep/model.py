"""The simulator as a model function for the sweep engine.

``SimulatorModel`` holds the raw scenario mapping (``extends:`` already merged) and its source;
for each run it applies the point's parameter values as overrides, validates the result and runs
one replication. It is a small frozen dataclass, so it pickles to worker processes and to Dask
workers on other machines (which need the package installed, nothing else).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.loader import apply_overrides, validate


@dataclass(frozen=True)
class SimulatorModel:
    """``f(params, seed, replication) -> summary`` for the scenario ``raw``."""

    raw: dict[str, Any] = field(hash=False)
    source: str = "<scenario>"

    def __call__(
        self, params: dict[str, Any], seed: np.random.SeedSequence, replication: int
    ) -> dict[str, float]:
        # Imported here so that the sweep package loads (and its tests run) without the runner.
        from sim.runner import run_replication

        scenario = validate(apply_overrides(self.raw, params), self.source)
        return dict(run_replication(scenario, seed, replication).summary)


def runner_available() -> bool:
    """Whether ``sim.runner.run_replication`` can be imported (it is needed for real sweeps)."""
    try:
        from sim.runner import run_replication  # noqa: F401
    except ImportError:
        return False
    return True
