"""What runs in a worker process: one batch of (point, replication) runs of a model function.

Kept to numpy and the standard library so that worker processes (local or Dask) start quickly;
the engine, the designs and the analysis stay in the parent process.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

ModelFunction = Callable[[dict[str, Any], np.random.SeedSequence, int], dict[str, float]]
Task = tuple[int, int, dict[str, Any]]
Outcome = tuple[int, int, dict[str, float] | None, dict[str, str] | None]


def point_seed(
    root_seed: int, point: int, replication: int, common_random_numbers: bool = False
) -> np.random.SeedSequence:
    """The seed of one run: a pure function of (root seed, point, replication).

    ``SeedSequence(entropy=root_seed, spawn_key=(point, replication))``, or with common random
    numbers ``spawn_key=(replication,)``; see ``sim.sweep.spec``.
    """
    key = (replication,) if common_random_numbers else (point, replication)
    return np.random.SeedSequence(entropy=root_seed, spawn_key=key)


def run_tasks(
    model: ModelFunction, root_seed: int, common: bool, tasks: list[Task]
) -> list[Outcome]:
    """Run each (point, replication, params) task; an exception is returned, not raised."""
    outcomes: list[Outcome] = []
    for point, replication, params in tasks:
        seed = point_seed(root_seed, point, replication, common)
        try:
            metrics = as_metrics(model(params, seed, replication))
        except Exception as exc:  # noqa: BLE001 - a failed point is recorded and the sweep goes on
            outcomes.append((point, replication, None, describe_error(exc)))
        else:
            outcomes.append((point, replication, metrics, None))
    return outcomes


def describe_error(exc: BaseException) -> dict[str, str]:
    return {
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(exc)),
    }


def as_metrics(summary: Any) -> dict[str, float]:
    """A model function's result as ``{name: float}``; anything else is an error of the run."""
    if not isinstance(summary, dict):
        raise TypeError(
            f"model function returned {type(summary).__name__}, expected dict[str, float]"
        )
    out: dict[str, float] = {}
    for key, value in summary.items():
        if not isinstance(key, str) or key in ("point", "replication"):
            raise TypeError(f"metric name {key!r}: must be a string other than point, replication")
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"metric {key}: {value!r} is not a number") from None
    return out
