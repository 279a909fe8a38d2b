"""Steady load (many short jobs): served from contract pools first, then by the spot market and
on demand, and accumulated into the buyers' totals.

On-demand steady load is rented in day-long slots: at the first period of each day the day's
average load is matched to capacity idle over the whole day. With daily steps a slot is one
period; with hourly steps this keeps the per-hour cost small while runs, which need blocks, are
still matched every hour.

Per-buyer quantities only change when an event touches a buyer (a run starts or ends in a pool, a
contract starts or ends, a buyer fails, the season turns), so they are recomputed then and
otherwise accumulated period by period in one step.
"""

from __future__ import annotations

import numpy as np

from sim.state import State


class SteadyLoad:
    def __init__(self, state: State):
        self.s = state
        self._periods = 0  # periods accumulated since the last flush
        self._season = -1  # season segment steady load was last computed for
        self._want: tuple[tuple[int, int], np.ndarray] | None = None
        self._steady = (np.zeros(len(state.buyers)), np.zeros(len(state.buyers)))

    def day_need(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(each buyer's average steady load over the day from ``t``, the part its pool covers)."""
        s = self.s
        b = s.buyers
        slot = min(max(1, round(s.cal.periods_per_day)), s.cal.horizon - t)
        prof = s.profiles[:, t : t + slot].mean(axis=1)
        want = np.where(b.alive, b.base_load * prof[b.kind], 0.0)
        return want, np.minimum(want, s.pools.free(b))

    def serve(self, t: int, slot_served: np.ndarray, slot_paid: np.ndarray) -> None:
        """Serve period ``t`` (``slot_*``: what on-demand rented for the day, per buyer)."""
        s = self.s
        if s.pools.steady_stale or s.season[t] != self._season:
            self.flush()
            self._recompute(t, slot_served, slot_paid)
            self._season = int(s.season[t])
        self._periods += 1
        s.listener.period(t)

    def _recompute(self, t: int, slot_served: np.ndarray, slot_paid: np.ndarray) -> None:
        s = self.s
        b, pools = s.buyers, s.pools
        key = (pools.epoch, int(s.season[t]))  # steady load is new only when these are
        if self._want is None or self._want[0] != key:
            self._want = (key, np.where(b.alive, b.base_load * s.profiles[b.kind, t], 0.0))
        want = self._want[1]
        from_pool = np.minimum(want, pools.free(b))
        got = from_pool + slot_served + pools.spot_served
        self._steady = (want, got)
        pools.steady_stale = False
        used = from_pool + pools.lent
        s.listener.steady(want, got, slot_paid + pools.spot_paid, used)
        self.pool_used = float(used.sum())

    pool_used = 0.0  # contracted GPUs in use by steady load (and resold) now

    def flush(self) -> None:
        """Add the accumulated periods of steady load to the buyers' totals."""
        k = self._periods
        if k == 0:
            return
        b, h = self.s.buyers, self.s.h
        want, got = self._steady
        b.demanded += want * (h * k)
        b.served += got * (h * k)
        b.value += got * (h * k) * b.load_value
        self._periods = 0
