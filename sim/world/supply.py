"""Supply side: capacity reviews and build-out, repricing, supply shocks."""

from __future__ import annotations

import numpy as np

from sim.calendar import DAYS_PER_MONTH


class SupplyMixin:
    """Methods of :class:`sim.world.World` (supply); they use the world's state."""

    def review_capacity(self, t: int, k: int) -> None:
        """Order capacity at sites of class ``k`` whose committed share or price signal is high."""
        spec, s, led = self.provider_specs[k], self.sites, self.ledger
        sites = np.flatnonzero(s.site_class == k)
        if sites.size == 0:
            return
        lead = self.cal.periods(spec.build.lead_time_days)
        lo, hi = t, min(t + lead, led.periods)
        back = max(0, t - self.cal.periods(spec.build.review_days))
        cap_now = led.capacity[sites, t]
        committed = led.contracted[sites, lo:hi].mean(axis=1) if hi > lo else 0.0
        used = (led.in_use[sites, back:t] + led.contracted[sites, back:t]).mean(axis=1)
        share = np.maximum(committed, used) / np.maximum(cap_now, 1e-9)
        fixed, energy = s.fixed_cost[s.site_provider[sites]], s.energy_cost[s.site_provider[sites]]
        price_ratio = s.site_price[sites] / (fixed + energy)
        if self.sc.markets.forward.enabled:
            # with a forward market, the price a provider can lock in for future capacity
            # (the far end of the forward curve) is the investment signal, not its list price
            far = self.forward_price_signal()
            if np.isfinite(far):
                price_ratio = far / (fixed + energy)
        order = (share >= spec.build.trigger_utilization) | (
            (price_ratio >= spec.build.price_signal) & (share >= spec.target_utilization)
        )
        if not order.any():
            return
        add = np.round(spec.build.step_fraction * cap_now[order])
        self.env.process(self._arrive(sites[order], add, t + lead))
        self.rec.capacity_ordered(sites[order], add, t)

    def _arrive(self, sites: np.ndarray, gpus: np.ndarray, when: int):
        yield self.env.timeout(max(0, when - int(self.env.now)))
        for site, g in zip(sites, gpus, strict=True):
            self.ledger.add_capacity(int(site), when, float(g))
        self._recheck = True

    def reprice(self, t: int, k: int) -> None:
        """List price moves with last month's utilization, never below owning cost."""
        spec, s, led = self.provider_specs[k], self.sites, self.ledger
        prov = np.flatnonzero(s.provider_class == k)
        back = max(0, t - self.cal.periods(DAYS_PER_MONTH))
        busy = (led.in_use[:, back:t] + led.contracted[:, back:t]).sum(axis=1)
        cap = led.capacity[:, back:t].sum(axis=1)
        u = np.bincount(s.site_provider, busy, s.list_price.size) / np.maximum(
            np.bincount(s.site_provider, cap, s.list_price.size), 1e-9
        )
        new = s.list_price[prov] * (1 + spec.price_adjustment * (u[prov] - spec.target_utilization))
        s.list_price[prov] = np.maximum(new, s.fixed_cost[prov] + s.energy_cost[prov])

    def _supply_cut(self, shock):
        start = self.cal.periods(shock.start_day) if shock.start_day > 0 else 0
        yield self.env.timeout(start)
        names = ("hyperscalers", "neoclouds")
        classes = [names.index(c) for c in shock.classes if c in names] or [0, 1]
        sites = np.flatnonzero(np.isin(self.sites.site_class, classes))
        end = start + self.cal.periods(shock.duration_days)
        self.ledger.cut_uncommitted(sites, start, end, shock.magnitude)
