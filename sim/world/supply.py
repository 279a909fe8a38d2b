"""Supply: capacity reviews and build-out, repricing, supply shocks, and providers' costs."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import simpy

from sim.calendar import DAYS_PER_MONTH
from sim.schema import Shock
from sim.state import State


class Supply:
    def __init__(self, state: State, env: simpy.Environment):
        self.s = state
        self.env = env

    def review(self, t: int, k: int) -> None:
        """Order capacity at sites of class ``k`` whose committed share or price signal is high."""
        s = self.s
        spec, sites, led = s.provider_specs[k], s.sites, s.ledger
        mine = np.flatnonzero(sites.site_class == k)
        if mine.size == 0:
            return
        lead = s.cal.periods(spec.build.lead_time_days)
        lo, hi = t, min(t + lead, led.periods)
        back = max(0, t - s.cal.periods(spec.build.review_days))
        cap_now = led.capacity[mine, t]
        committed = led.contracted[mine, lo:hi].mean(axis=1) if hi > lo else 0.0
        used = (led.in_use[mine, back:t] + led.contracted[mine, back:t]).mean(axis=1)
        share = np.maximum(committed, used) / np.maximum(cap_now, 1e-9)
        owner = sites.site_provider[mine]
        fixed, energy = sites.fixed_cost[owner], sites.energy_cost[owner]
        price_ratio = sites.site_price[mine] / (fixed + energy)
        if s.scenario.markets.forward.enabled:
            # with a forward market, the price a provider can lock in for future capacity
            # (the far end of the forward curve) is the investment signal, not its list price
            far = s.signals.forward_price()
            if np.isfinite(far):
                price_ratio = far / (fixed + energy)
        order = (share >= spec.build.trigger_utilization) | (
            (price_ratio >= spec.build.price_signal) & (share >= spec.target_utilization)
        )
        if not order.any():
            return
        add = np.round(spec.build.step_fraction * cap_now[order])
        self.env.process(self._arrive(mine[order], add, t + lead))
        s.listener.capacity_ordered(mine[order], add, t)

    def _arrive(
        self, sites: np.ndarray, gpus: np.ndarray, when: int
    ) -> Generator[simpy.Event, None, None]:
        yield self.env.timeout(max(0, when - int(self.env.now)))
        for site, g in zip(sites, gpus, strict=True):
            self.s.ledger.add_capacity(int(site), when, float(g))
        self.s.queue.recheck = True

    def reprice(self, t: int, k: int) -> None:
        """List price moves with last month's utilization, never below owning cost."""
        s = self.s
        spec, sites, led = s.provider_specs[k], s.sites, s.ledger
        prov = np.flatnonzero(sites.provider_class == k)
        back = max(0, t - s.cal.periods(DAYS_PER_MONTH))
        busy = (led.in_use[:, back:t] + led.contracted[:, back:t]).sum(axis=1)
        cap = led.capacity[:, back:t].sum(axis=1)
        n = sites.providers
        u = np.bincount(sites.site_provider, busy, n) / np.maximum(
            np.bincount(sites.site_provider, cap, n), 1e-9
        )
        new = sites.list_price[prov] * (
            1 + spec.price_adjustment * (u[prov] - spec.target_utilization)
        )
        sites.list_price[prov] = np.maximum(new, sites.fixed_cost[prov] + sites.energy_cost[prov])

    def supply_cut(self, shock: Shock) -> Generator[simpy.Event, None, None]:
        s = self.s
        start = s.cal.periods(shock.start_day) if shock.start_day > 0 else 0
        yield self.env.timeout(start)
        names = ("hyperscalers", "neoclouds")
        classes = [names.index(c) for c in shock.classes if c in names] or [0, 1]
        mine = np.flatnonzero(np.isin(s.sites.site_class, classes))
        end = start + s.cal.periods(shock.duration_days)
        s.ledger.cut_uncommitted(mine, start, end, shock.magnitude)

    def book_costs(self, t: int) -> None:
        """Providers pay for what they owned and used over the run: capital and operations per
        installed GPU-hour, energy per used GPU-hour (contracted capacity counts as used in the
        share its holders used it)."""
        s = self.s
        sites, led, h = s.sites, s.ledger, s.h
        n = sites.providers
        installed = np.bincount(sites.site_provider, led.capacity.sum(1) * h, n)
        busy = led.in_use + led.contracted * s.usage.pool_ratio()[None, :]
        used = np.bincount(sites.site_provider, busy.sum(1) * h, n)
        layout = s.accounts.layout
        who = layout.first_provider + np.arange(n)
        accounts = s.accounts
        accounts.transfer(
            "capital_and_operations",
            t,
            who,
            layout.single("capital_and_operations"),
            installed * sites.fixed_cost,
        )
        accounts.transfer(
            "energy", t, who, layout.single("energy_suppliers"), used * sites.energy_cost
        )
