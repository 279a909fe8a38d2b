"""The spot market: a periodic uniform-price call auction, strategic withholding, block bids."""

from __future__ import annotations

import numpy as np

from sim.channels.blocks import allocate_blocks
from sim.channels.withholding import linear_inverse_demand, strategic_offers
from sim.demand import (
    SPOT,
)
from sim.markets.orders import OrderBook
from sim.markets.registry import MECHANISMS


class SpotMixin:
    """Methods of :class:`sim.world.World` (spot); they use the world's state."""

    def spot_session(self, t: int) -> None:
        """A uniform-price call auction for capacity over the window until the next auction.

        Buyers bid their steady load not covered by their pools (capped by what their cash buys
        at their limit) at their value; providers offer capacity idle over the whole window at
        their reserve; with resale on, contract holders offer the pool GPUs they will not use at
        a reserve of zero (the contract is paid whatever happens). Fills last the whole window.
        """
        b, s, spec = self.buyers, self.sites, self.sc.markets.spot
        length = min(self._spot_len, self.cal.horizon - t)
        hours = length * self.h
        prof = self.profiles[:, t : t + length].mean(axis=1)
        want = np.where(b.alive, b.base_load * prof[b.kind], 0.0)
        self._lent[:] = 0.0
        spare = self._pool_free()
        rest = want - np.minimum(want, spare)
        ask = np.divide(b.cash, b.load_value * hours, out=np.zeros(len(b)), where=b.load_value > 0)
        ask = np.minimum(rest, np.maximum(ask, 0.0))
        bidders = np.flatnonzero(ask > 1e-9)
        site_idle = np.maximum(self.ledger.free(t, length).min(axis=1), 0.0)
        reserve = s.energy_cost + (s.fixed_cost if spec.reserve == "owning_cost" else 0.0)
        site_idle = self._withhold(t, length, site_idle, b.load_value[bidders], ask[bidders])
        sites = np.flatnonzero(site_idle > 1e-9)
        resale = np.maximum(spare - want, 0.0) if self.sc.markets.contracts.resale else spare * 0
        holders = np.flatnonzero(resale > 1e-9)
        book = OrderBook(
            buy_qty=ask[bidders],
            buy_limit=b.load_value[bidders],
            sell_qty=np.concatenate([site_idle[sites], resale[holders]]),
            sell_reserve=np.concatenate([reserve[s.site_provider[sites]], np.zeros(holders.size)]),
        )
        res = MECHANISMS[spec.mechanism](book)
        price = float(res.price[0]) if res.price.size else float("nan")
        self._spot_served[:] = 0.0
        self._spot_paid[:] = 0.0
        if not np.isfinite(price):
            self.rec.spot(t, length, price, 0.0, 0.0)
            return
        cost = res.buy_payment * hours
        self._spot_served[bidders] = res.buy_filled
        self._spot_paid[bidders] = cost / length
        b.cash[bidders] -= cost
        b.spend[bidders] += cost
        sold_sites = res.sell_filled[: sites.size]
        self.ledger.reserve(sites, t, length, sold_sites, contract=False)
        np.add.at(s.revenue, s.site_provider[sites], res.sell_revenue[: sites.size] * hours)
        lent = res.sell_filled[sites.size :]
        income = res.sell_revenue[sites.size :] * hours
        self._lent[holders] = lent
        b.cash[holders] += income
        self.resale_income[holders] += income
        self._steady_stale = True
        self.rec.spot(
            t, length, price, float(res.buy_filled.sum()) * hours, float(sold_sites.sum()) * hours
        )
        if spec.block_bids:
            self._spot_blocks(t, price, reserve[s.site_provider] <= price + 1e-12)

    def _withhold(self, t, length, site_idle, limit, qty) -> np.ndarray:
        """Idle capacity each site offers once strategic providers have withheld theirs."""
        s = self.sites
        strategic = np.asarray([p.strategy == "cournot" for p in self.provider_specs])[
            s.provider_class
        ]
        if not strategic.any():
            return site_idle
        idle = np.bincount(s.site_provider, site_idle, s.list_price.size)
        a, slope = linear_inverse_demand(limit, qty)
        forward = self._forward_sold_now(t) if self.sc.markets.forward.enabled else None
        offer = strategic_offers(idle, s.energy_cost, strategic, a, slope, forward)
        share = np.divide(offer, idle, out=np.zeros_like(idle), where=idle > 0)
        self.rec.withheld(t, length, float((idle - offer).sum()))
        return site_idle * share[s.site_provider]

    def _spot_blocks(self, t: int, price: float, open_sites: np.ndarray) -> None:
        """Waiting runs bid all-or-nothing blocks at the session's price, highest limit first.

        Runs take the price the auction found (their bids do not move it); only sites whose
        reserve is at or below that price sell, so no seller is paid below its reserve.
        """
        r = self.runs
        if self.pending.size == 0 or not open_sites.any():
            return
        rows = self._first_per_owner(self.pending)
        rows = rows[np.argsort(-r.value[rows], kind="stable")]
        req = self._run_requests(rows, np.broadcast_to(open_sites, (rows.size, open_sites.size)))
        width = int(r.periods[rows].max())
        site_price = np.full(open_sites.size, price)
        alloc = allocate_blocks(self.ledger.free(t, width), site_price, req, self.h)
        self._book_runs(t, rows, alloc, SPOT)
