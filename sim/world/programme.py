"""The public programme: buying capacity yearly and allocating it to academics."""

from __future__ import annotations

import numpy as np

from sim.agents import ACADEMIC
from sim.calendar import DAYS_PER_YEAR
from sim.demand import (
    PUBLIC as PUBLIC_CHANNEL,
)


class ProgrammeMixin:
    """Methods of :class:`sim.world.World` (programme); they use the world's state."""

    def programme_cycle(self, t: int) -> None:
        """Yearly: the budget arrives (unspent money lapses), one-year contracts are bought
        with it, site by site, and the capacity is allocated to academics."""
        spec, b, i = self.sc.public_programme, self.buyers, self._programme
        live = self.book.live()
        mine = live[(self.book.holder[live] == i) & (self.book.end[live] <= t)]
        self._end_contracts(mine, t)  # last year's contracts end as the new ones are bought
        b.outflow[i] += b.cash[i]
        b.cash[i] = spec.budget_per_year
        b.inflow[i] += spec.budget_per_year
        year_hours = DAYS_PER_YEAR * 24
        dearest = float(self.sites.site_price.max()) * (
            1 - min(p.discount_1y for p in self.provider_specs)
        )
        target = spec.budget_per_year / (dearest * year_hours)  # GPUs the budget surely pays for
        who = np.array([i])
        for _ in range(8):
            gap = target - b.pool_gpus[i]
            if gap < self._min_contract():
                break
            if not self._sign(
                t, 1, who, np.array([np.floor(gap)]), np.array([1e9]), np.array([True]), fresh=True
            ):
                break
        b.pool_busy[i] = 0.0
        b.public_gpus[:] = 0.0
        if spec.allocation == "spread":
            academics = np.flatnonzero((b.kind == ACADEMIC) & b.alive)
            grants = min(academics.size, int(b.pool_gpus[i] // spec.grant_gpus))
            chosen = self.rng_contracts.permutation(academics)[:grants]
            b.public_gpus[chosen] = spec.grant_gpus
            b.pool_busy[i] = (
                grants * spec.grant_gpus
            )  # granted capacity is not the programme's to use
        self._load_changed()
        self._recheck = True

    def _start_public(self, t: int) -> None:
        """Concentrated allocation: academics' large runs take blocks from the programme's
        contracts, first come first served, at no charge to them."""
        r, b, i = self.runs, self.buyers, self._programme
        p = self.pending
        if p.size == 0:
            return
        smallest = self.sc.public_programme.min_run_gpus or self.sc.metrics.large_run_gpus
        cand = p[(b.kind[r.agent[p]] == ACADEMIC) & (r.gpus[p] >= smallest)]
        room = b.pool_block[i] - b.pool_busy[i]
        take = []
        for row in cand:  # few large academic runs wait at any time
            if r.gpus[row] <= room:
                take.append(row)
                room -= r.gpus[row]
        if not take:
            return
        rows = np.asarray(take)
        r.host[rows] = i
        b.pool_busy[i] += r.gpus[rows].sum()
        self._load_changed()
        self._start(rows, t, PUBLIC_CHANNEL, np.zeros(rows.size))
