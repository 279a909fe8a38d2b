"""Use of contracted capacity, period by period: a listener on the world's own events.

Providers' energy cost and utilization count contracted capacity as used in the share its
holders use it (steady load, resale and runs inside pools), so the world keeps that share
itself, from the events it publishes, in ``State.usage``."""

from __future__ import annotations

import numpy as np

from sim.demand import CONTRACT
from sim.state import State


class UsageTracker:
    def __init__(self, state: State):
        self.s = state
        self._pool_run_gpus = 0.0  # GPUs of runs running inside pools now
        self._from_pool = 0.0  # contracted GPUs used by steady load or resold now
        self._held = 0.0
        self._held_of = -1  # load epoch ``_held`` is for

    def run_started(self, rows: np.ndarray) -> None:
        self._runs(rows, +1)

    def run_ended(self, rows: np.ndarray) -> None:
        self._runs(rows, -1)

    def _runs(self, rows: np.ndarray, sign: int) -> None:
        r = self.s.runs
        self._pool_run_gpus += sign * float(r.gpus[rows][r.channel[rows] == CONTRACT].sum())

    def steady(
        self, want: np.ndarray, got: np.ndarray, paid: np.ndarray, from_pool: np.ndarray
    ) -> None:
        self._from_pool = float(from_pool.sum())
        pools = self.s.pools
        if self._held_of != pools.epoch:  # pools change only with the load epoch
            self._held = float(self.s.buyers.pool_gpus[pools.holders].sum())
            self._held_of = pools.epoch

    def period(self, t: int) -> None:
        u = self.s.usage
        u.pool_used[t] = self._from_pool + self._pool_run_gpus
        u.pool_held[t] = self._held

    # events it does not need
    def failed(self, who: np.ndarray, t: int) -> None: ...
    def capacity_ordered(self, sites: np.ndarray, gpus: np.ndarray, t: int) -> None: ...
    def contracts_signed(self, rows: np.ndarray) -> None: ...
    def forward_defaults(self, who: np.ndarray, shortfall: np.ndarray) -> None: ...
