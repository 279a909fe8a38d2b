"""On-demand sales at posted prices: waiting runs' blocks, and steady load rented by the day."""

from __future__ import annotations

import math

import numpy as np

from sim.channels.blocks import BlockRequests, allocate_blocks, fits_now
from sim.channels.on_demand import serve_load, spread_over_sites
from sim.demand import ON_DEMAND
from sim.state import State


class OnDemand:
    def __init__(self, state: State):
        self.s = state
        sc = state.scenario
        self._spot_len = state.cal.periods(sc.markets.spot.session_days)
        self._window = state.cal.periods(sc.markets.forward.window_days)
        self._forward_signal: tuple[int, float] | None = None  # (curve length, price)
        self.slot_served = np.zeros(len(state.buyers))  # steady-load GPUs rented for the day
        self.slot_paid = np.zeros(len(state.buyers))  # $ per period for them

    # ---- runs --------------------------------------------------------------------------------

    def start_runs(self, t: int) -> None:
        """Each waiting owner's first run buys its block at the cheapest site that has it, unless
        a market it can still wait for scores better (``takes_on_demand``)."""
        s = self.s
        r, q = s.runs, s.queue
        if q.pending.size == 0:
            return
        rows = q.first_per_owner(q.pending)
        rows = rows[self.takes_on_demand(t, rows)]
        if rows.size == 0:
            return
        who = r.agent[rows]
        gpus, periods, value = r.gpus[rows], r.periods[rows], r.value[rows]
        budget = s.run_budget(who)
        price = s.sites.site_price
        low = price.min()
        block_hours = gpus * periods * s.h
        cheap = ((low <= value) & (block_hours * low <= budget + 1e-9)).nonzero()[0]
        could = fits_now(
            lambda width: s.ledger.free(t, width),
            cheap,
            gpus,
            periods,
            value,
            budget,
            block_hours,
            price,
        )
        s.waiting_blocked[:] = False
        s.waiting_blocked[who] = True
        if could.size == 0:
            return
        req = BlockRequests(gpus[could], periods[could], value[could], budget[could])
        alloc = allocate_blocks(s.ledger.free(t, int(req.periods.max())), price, req, s.h)
        ok = alloc.site >= 0
        s.waiting_blocked[who[could[ok]]] = False
        if ok.any():
            s.book_blocks(t, rows[could], alloc, ON_DEMAND, "on_demand_run")

    def takes_on_demand(self, t: int, rows: np.ndarray) -> np.ndarray:
        """The channel rule: a run buys on demand now unless a market it can still wait for
        scores better. Scores are mean-variance in $/GPU-h: the cheapest list price (certain);
        the recent spot price plus ``risk_aversion`` s.d. of it (next spot session); the price of
        the next forward window (locked in, but only for runs that can wait for it)."""
        s = self.s
        sc = s.scenario
        latest = s.runs.latest_start[rows]
        keep = np.ones(rows.size, dtype=bool)
        list_price = float(s.sites.list_price.min())
        lam = sc.buyers.choice.risk_aversion
        if sc.markets.spot.enabled:
            next_session = (t // self._spot_len + 1) * self._spot_len
            can_wait = latest >= next_session
            if can_wait.any():
                mean, sd = s.signals.spot_outlook(t, s.cal.periods(30))
                if mean + lam * sd < list_price:
                    keep &= ~can_wait
        if sc.markets.forward.enabled:
            price = self._nearest_forward()
            if math.isfinite(price) and price < list_price:
                w = self._window
                keep &= latest < (t // w + 1) * w  # the runs that cannot wait for the window
        return keep

    def _nearest_forward(self) -> float:
        """The nearest window's latest forward price, read again only after a session."""
        n = len(self.s.signals.curve)
        if self._forward_signal is None or self._forward_signal[0] != n:
            self._forward_signal = (n, self.s.signals.forward_price(nearest=True))
        return self._forward_signal[1]

    # ---- steady load -------------------------------------------------------------------------

    def rent_load(self, t: int, want: np.ndarray, from_pool: np.ndarray, spot: np.ndarray) -> None:
        """Steady load that pools and the spot market do not cover rents idle capacity for the
        day at list prices (capped by what each buyer's cash pays)."""
        s = self.s
        b, sites = s.buyers, s.sites
        n = len(b)
        self.slot_served, self.slot_paid = np.zeros(n), np.zeros(n)
        if not s.scenario.markets.on_demand.enabled:
            return
        slot = min(max(1, round(s.cal.periods_per_day)), s.cal.horizon - t)
        rest = np.maximum(want - from_pool - spot, 0.0)
        if not rest.any():
            return
        site_idle = s.ledger.idle(t, slot)
        prov_idle = np.bincount(sites.site_provider, weights=site_idle, minlength=sites.providers)
        svc = serve_load(rest, b.load_value, b.cash, sites.list_price, prov_idle, s.h * slot)
        first = s.accounts.layout.first_provider
        sellers = np.flatnonzero(svc.revenue)
        s.accounts.pay_dense(
            "on_demand_load", t, 0, svc.paid, first + sellers, svc.revenue[sellers]
        )
        booked = spread_over_sites(svc.sold, sites.site_provider, site_idle)
        used = np.flatnonzero(booked > 0)
        s.ledger.reserve(used, t, slot, booked[used], contract=False)
        self.slot_served, self.slot_paid = svc.served, svc.paid / slot
