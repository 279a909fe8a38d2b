"""Training runs arriving, completing, lapsing, and starting inside their owners' contract pools."""

from __future__ import annotations

import numpy as np

from sim.agents import STARTUP
from sim.demand import ABANDONED, COMPLETED, CONTRACT, PENDING, VOID
from sim.state import State


class RunLifecycle:
    """The verbs of a run's life that no market decides."""

    def __init__(self, state: State):
        self.s = state
        self._lapse: tuple[np.ndarray, int, int] | None = None  # (pending, epoch, first lapse)
        self._pool_fits: tuple[np.ndarray, int, np.ndarray, np.ndarray] | None = None

    def arrivals(self, t: int) -> None:
        q, r, b = self.s.queue, self.s.runs, self.s.buyers
        if q.next_arrival >= r.arrival.size or r.arrival[q.next_arrival] > t:
            return  # arrivals are sorted: nothing new yet
        hi = int(r.arrival.searchsorted(t, side="right"))
        new = np.arange(q.next_arrival, hi)
        q.next_arrival = hi
        if new.size == 0:
            return
        alive = b.alive[r.agent[new]]
        r.status[new[~alive]] = VOID
        new = new[alive]
        r.status[new] = PENDING
        q.recheck |= new.size > 0
        np.add.at(b.demanded, r.agent[new], r.gpu_hours[new])
        q.pending = np.concatenate([q.pending, new])

    def completions(self, t: int) -> None:
        s = self.s
        q, r, b = s.queue, s.runs, s.buyers
        if q.running.size == 0 or t < q.next_end:
            return
        end = r.start[q.running] + r.periods[q.running]
        done = end <= t
        q.next_end = end[~done].min() if not done.all() else np.inf
        if not done.any():
            return
        fin, q.running = q.running[done], q.running[~done]
        q.recheck = True
        s.load_changed()
        r.status[fin] = COMPLETED
        s.listener.run_ended(fin)
        who = r.agent[fin]
        hosted = r.host[fin] >= 0
        np.subtract.at(b.pool_busy, r.host[fin][hosted], r.gpus[fin][hosted])
        st = who[b.kind[who] == STARTUP]
        growth = 1 + s.scenario.buyers.startups.inference_growth_per_run
        np.multiply.at(b.base_load, st, growth)
        np.add.at(b.runs_since_round, st, 1)

    def drop_lapsed(self, t: int) -> None:
        """Waiting runs past their latest start, or whose owner failed, are abandoned."""
        s = self.s
        q, r, b = s.queue, s.runs, s.buyers
        p = q.pending
        # owners only die with a load change; until then, and while the waiting runs are the
        # same, none lapses before the earliest latest start among them
        last = self._lapse
        if last is not None and last[0] is p and last[1] == s.pools.epoch and t <= last[2]:
            return
        gone = (r.latest_start[p] < t) | ~b.alive[r.agent[p]]
        if gone.any():
            r.status[p[gone]] = ABANDONED
            # demand that was never served stays in ``demanded``: it is what access measures
            q.pending = p = p[~gone]
        first = int(r.latest_start[p].min()) if p.size else s.cal.horizon
        self._lapse = (p, s.pools.epoch, first)

    def start_in_pools(self, t: int) -> None:
        """Each holder's first waiting run that its free pool holds starts there."""
        s = self.s
        q, r, b = s.queue, s.runs, s.buyers
        p = q.pending
        if p.size == 0:
            return
        # runs whose owner's pool is free and big enough; pools change only with the epoch
        last = self._pool_fits
        if last is None or last[0] is not p or last[1] != s.pools.epoch:
            who = r.agent[p]
            idx = ((b.pool_busy[who] <= 0) & (r.gpus[p] <= b.pool_block[who])).nonzero()[0]
            last = self._pool_fits = (p, s.pools.epoch, idx, who[idx])
        idx, who = last[2], last[3]
        if idx.size == 0:
            return
        fits = idx[s.pools.lent[who] <= 0]
        rows = q.first_per_owner(p[fits]) if fits.size else p[:0]
        if rows.size:
            s.load_changed()
            r.host[rows] = r.agent[rows]
            np.add.at(b.pool_busy, r.agent[rows], r.gpus[rows])
            who = r.agent[rows]
            q.start(rows, t, CONTRACT, s.pools.price[who], s.listener, s.pools.site[who])
