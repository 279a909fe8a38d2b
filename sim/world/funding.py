"""Buyers' money from outside the compute market: startups' burn and funding rounds, academics'
yearly grants."""

from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np
import simpy

from sim.agents import ACADEMIC, STARTUP
from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.state import State


class Funding:
    def __init__(
        self,
        state: State,
        env: simpy.Environment,
        rng: np.random.Generator,
        on_broke: Callable[[np.ndarray, int], None],
    ):
        self.s = state
        self.env = env
        self.rng = rng
        self.on_broke = on_broke  # startups out of money fail
        layout = state.accounts.layout
        self._investors = layout.single("investors")
        self._costs = layout.single("operating_costs")
        self._agencies = layout.single("grant_agencies")

    def monthly(self, t: int) -> None:
        """Startups pay a month's burn; those due for a round raise it or not; the broke fail."""
        s = self.s
        b, st = s.buyers, s.scenario.buyers.startups
        alive = np.flatnonzero((b.kind == STARTUP) & b.alive)
        burn = np.minimum(b.burn[alive], b.cash[alive])
        s.accounts.transfer("burn", t, alive, self._costs, burn)
        day = s.cal.day(t)
        due = alive[b.next_round[alive] <= day]
        if due.size:
            chance = np.minimum(
                0.95, st.raise_probability + st.raise_probability_per_run * b.runs_since_round[due]
            )
            won = self.rng.random(due.size) < chance
            amount = st.round_size.sample(self.rng, due.size) * won
            s.accounts.transfer("funding_round", t, self._investors, due, amount)
            b.runs_since_round[due[won]] = 0
            interval = st.round_interval_months * DAYS_PER_MONTH
            b.next_round[due] = day + np.where(won, interval, interval / 3)
        broke = alive[b.cash[alive] <= 1e-6]
        if broke.size:
            self.on_broke(broke, t)

    def grants(self) -> Generator[simpy.Event, None, None]:
        """Yearly at the grant month: unspent grant money lapses and the new grant arrives."""
        s = self.s
        ac = s.scenario.buyers.academics
        first = (
            s.cal.periods((ac.grant_month - 1) * DAYS_PER_MONTH)
            if ac.grant_month > 1
            else s.cal.periods(DAYS_PER_YEAR)
        )
        yield self.env.timeout(first)
        while True:
            b = s.buyers
            t = int(self.env.now)
            who = np.flatnonzero((b.kind == ACADEMIC) & (b.grant > 0))
            s.accounts.transfer("grant_lapsed", t, who, self._agencies, b.cash[who].copy())
            s.accounts.transfer("grant", t, self._agencies, who, b.grant[who])
            yield self.env.timeout(s.cal.periods(DAYS_PER_YEAR))
