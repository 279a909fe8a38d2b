"""Money: contract billing and defaults, startups' funding and failure, academic grants."""

from __future__ import annotations

import numpy as np

from sim.agents import ACADEMIC, STARTUP
from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.channels.contracts import bill, settle


class MoneyMixin:
    """Methods of :class:`sim.world.World` (money); they use the world's state."""

    def billing(self, t: int) -> None:
        self._bill_rows(self.book.live(), t)

    def _bill_rows(self, rows: np.ndarray, t: int) -> None:
        bk, b = self.book, self.buyers
        inv = bill(bk, t, self.h)
        keep = np.isin(inv.rows, rows)
        rows, due, periods = inv.rows[keep], inv.amount[keep], inv.periods[keep]
        if rows.size == 0:
            return
        paid, defaulters = settle(b.cash, bk.holder[rows], due)
        b.pay(bk.holder[rows], paid)
        np.add.at(self.sites.revenue, bk.provider[rows], paid)
        np.add.at(self.sites.contract_revenue, bk.provider[rows], paid)
        bk.billed[rows] += periods
        unpaid = due - paid
        np.add.at(bk.defaulted, rows, unpaid)
        np.add.at(self.sites.defaulted, bk.provider[rows], unpaid)
        np.add.at(b.defaulted, bk.holder[rows], unpaid)
        if defaulters.size:
            self.fail(defaulters, t)

    def fail(self, who: np.ndarray, t: int) -> None:
        """Buyers out of money stop: contracts end in default and capacity returns to the provider."""
        b, bk = self.buyers, self.book
        who = who[b.alive[who]]
        if who.size == 0:
            return
        b.alive[who] = False
        self._recheck = True
        self._load_changed()
        live = bk.live()
        gone = live[np.isin(bk.holder[live], who)]
        if gone.size:
            left = np.maximum(bk.end[gone] - np.maximum(t, bk.start[gone]), 0)
            owed = left * self.h * bk.gpus[gone] * bk.price[gone]
            np.add.at(bk.defaulted, gone, owed)
            np.add.at(self.sites.defaulted, bk.provider[gone], owed)
            np.add.at(b.defaulted, bk.holder[gone], owed)
            self.ledger.release(
                bk.site[gone], np.maximum(t, bk.start[gone]), left, bk.gpus[gone], contract=True
            )
            bk.active[gone] = False
            self._pool_changed(bk.holder[gone])
        self._kill_pool_runs(who)
        self.rec.failed(who, t)

    def funding(self, t: int) -> None:
        b, st = self.buyers, self.sc.buyers.startups
        alive = np.flatnonzero((b.kind == STARTUP) & b.alive)
        burn = np.minimum(b.burn[alive], b.cash[alive])
        b.cash[alive] -= burn
        b.outflow[alive] += burn
        day = self.cal.day(t)
        due = alive[b.next_round[alive] <= day]
        if due.size:
            chance = np.minimum(
                0.95, st.raise_probability + st.raise_probability_per_run * b.runs_since_round[due]
            )
            won = self.rng_funding.random(due.size) < chance
            amount = st.round_size.sample(self.rng_funding, due.size) * won
            b.cash[due] += amount
            b.inflow[due] += amount
            b.runs_since_round[due[won]] = 0
            interval = st.round_interval_months * DAYS_PER_MONTH
            b.next_round[due] = day + np.where(won, interval, interval / 3)
        broke = alive[b.cash[alive] <= 1e-6]
        if broke.size:
            self.fail(broke, t)

    def _grants(self):
        ac = self.sc.buyers.academics
        first = (
            self.cal.periods((ac.grant_month - 1) * DAYS_PER_MONTH)
            if ac.grant_month > 1
            else self.cal.periods(DAYS_PER_YEAR)
        )
        yield self.env.timeout(first)
        while True:
            b = self.buyers
            who = np.flatnonzero((b.kind == ACADEMIC) & (b.grant > 0))
            b.outflow[who] += b.cash[who]  # unspent grant money lapses
            b.cash[who] = b.grant[who]
            b.inflow[who] += b.grant[who]
            yield self.env.timeout(self.cal.periods(DAYS_PER_YEAR))

    def _lab_growth(self, t: int) -> float:
        g = self.sc.buyers.frontier_labs.demand_growth_per_year
        return (1 + g) ** (self.cal.day(t) / DAYS_PER_YEAR)

    def _class_mean_run_gpu_hours(self) -> np.ndarray:
        out = np.zeros(3)
        for kind, spec in (
            (STARTUP, self.sc.buyers.startups),
            (ACADEMIC, self.sc.buyers.academics),
        ):
            out[kind] = spec.run_gpus.mean * spec.run_hours.mean
        return out
