"""The public programme: buying capacity (contracts or forwards) and allocating it to academics."""

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
        """Yearly: the budget arrives and the academics who get grants are drawn.

        ``contracts``: unspent money lapses and one-year contracts are bought with the budget,
        site by site. ``forwards``: capacity is bought at every forward session instead
        (``programme_forward_bids``), so money committed to open windows carries over.
        """
        spec, b, i = self.sc.public_programme, self.buyers, self._programme
        if spec.allocation == "spread":
            academics = np.flatnonzero((b.kind == ACADEMIC) & b.alive)
            self._grant_order = self.rng_contracts.permutation(academics)
        if spec.procurement == "forwards":
            # money committed to windows not yet delivered carries over; the rest lapses
            keep = min(b.cash[i], self._programme_committed())
            b.outflow[i] += b.cash[i] - keep
            b.cash[i] = keep + spec.budget_per_year
            b.inflow[i] += spec.budget_per_year
            self._allocate_public()
            return
        live = self.book.live()
        mine = live[(self.book.holder[live] == i) & (self.book.end[live] <= t)]
        self._end_contracts(mine, t)  # last year's contracts end as the new ones are bought
        b.outflow[i] += b.cash[i]
        b.cash[i] = spec.budget_per_year
        b.inflow[i] += spec.budget_per_year
        target = spec.budget_per_year / (self._programme_price() * DAYS_PER_YEAR * 24)
        who = np.array([i])
        for _ in range(8):
            gap = target - b.pool_gpus[i]
            if gap < self._min_contract():
                break
            if not self._sign(
                t, 1, who, np.array([np.floor(gap)]), np.array([1e9]), np.array([True]), fresh=True
            ):
                break
        self._allocate_public()

    def _programme_price(self) -> float:
        """The dearest one-year contract price ($/GPU-h): what the budget surely pays for."""
        discount = min(p.discount_1y for p in self.provider_specs)
        return float(self.sites.site_price.max()) * (1 - discount)

    def _allocate_public(self) -> None:
        """Hand the programme's capacity out. ``spread``: standing grants of ``grant_gpus`` to
        academics in this year's drawn order (so grants persist while the capacity does);
        ``concentrated``: the capacity stays with the programme for large runs."""
        spec, b, i = self.sc.public_programme, self.buyers, self._programme
        r = self.runs
        b.public_gpus[:] = 0.0
        hosted = self.running[r.host[self.running] == i]
        b.pool_busy[i] = float(r.gpus[hosted].sum())  # runs in progress keep their GPUs
        if spec.allocation == "spread":
            order = getattr(self, "_grant_order", np.zeros(0, dtype=np.int64))
            order = order[b.alive[order]]
            room = max(b.pool_gpus[i] - b.pool_busy[i], 0.0)
            grants = min(order.size, int(room // spec.grant_gpus))
            b.public_gpus[order[:grants]] = spec.grant_gpus
            b.pool_busy[i] += grants * spec.grant_gpus  # granted capacity is not the programme's
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

    # ---- buying through the forward market --------------------------------------------------

    def programme_forward_bids(self, t: int, starts: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Lots the programme bids in each traded window, and its limit price.

        It buys a strip: in every window, the capacity it would otherwise put under one-year
        contracts (what its budget surely pays for at the dearest one-year contract price),
        less what it already holds for that window, bidding up to that contract price; scaled
        down so that everything it has committed fits in its cash at that price. What the
        forward market saves it stays unspent.
        """
        spec, fw = self.sc.public_programme, self.sc.markets.forward
        if self._programme is None or spec.procurement != "forwards":
            return np.zeros(len(starts)), np.zeros(len(starts))
        if not self.buyers.alive[self._programme]:
            return np.zeros(len(starts)), np.zeros(len(starts))
        limit = self._programme_price()
        lot_cost = limit * self._fw_lot_hours
        target = spec.budget_per_year / (limit * DAYS_PER_YEAR * 24)  # GPUs, as with contracts
        want = np.floor(target / fw.lot_gpus)
        held = np.array([self._prog_lots.get(s, 0.0) for s in starts])
        lots = np.floor(np.maximum(want - held, 0.0))
        room = max(self.buyers.cash[self._programme] - self._programme_committed(), 0.0)
        if lots.sum() * lot_cost > room:
            lots = np.floor(lots * room / (lots.sum() * lot_cost))
        return lots, np.full(len(starts), limit)

    def _programme_committed(self) -> float:
        """Money the programme owes for capacity bought forward but not yet delivered (cash
        settlement pays at delivery; the forward price stands in for the spot price then)."""
        return sum(lots * self._fw_lot_hours * price for lots, price in self._prog_open.values())

    def programme_filled(self, t: int, start: int, lots: float, price: float) -> None:
        """Keep the capacity of filled lots for the window at sites whose reserve the price
        meets, most free first (large blocks for concentrated use), and pay for it at the
        trade (physical settlement) or at delivery at the spot price (cash)."""
        if lots <= 0:
            return
        s, i = self.sites, self._programme
        w = self._fw_window
        open_sites = np.flatnonzero(self._forward_reserve(t)[s.site_provider] <= price + 1e-12)
        free = np.maximum(self.ledger.free(start, w).min(axis=1), 0.0)
        lot = self.sc.markets.forward.lot_gpus
        need = lots * lot
        got = np.zeros(s.site_provider.size)
        for site in open_sites[np.argsort(-free[open_sites], kind="stable")]:
            take = min(np.floor(free[site] / lot) * lot, need)  # whole lots per site
            got[site], need = take, need - take
            if need <= 0:
                break
        sites = np.flatnonzero(got > 0)
        if sites.size == 0:
            return
        self.ledger.reserve(sites, start, w, got[sites], contract=True)
        prepaid = self.sc.markets.forward.settlement == "physical"
        if prepaid:
            cost = got[sites] * w * self.h * price
            self.buyers.pay(np.full(sites.size, i), cost)
            np.add.at(s.revenue, s.site_provider[sites], cost)
            np.add.at(s.contract_revenue, s.site_provider[sites], cost)
        kept = float(got.sum()) / self.sc.markets.forward.lot_gpus
        self._prog_lots[start] = self._prog_lots.get(start, 0.0) + kept
        if not prepaid:  # to be paid at delivery: keep the money for it
            held, _ = self._prog_open.get(start, (0.0, price))
            self._prog_open[start] = (held + kept, price)
        self._prog_deliveries.append((start, sites, got[sites], price, prepaid))

    def programme_deliveries(self, t: int) -> None:
        """At a window's start the capacity kept for it joins the programme's pool (as
        contracts for the window), the windows that end leave it, and the capacity is
        allocated again."""
        if not self._prog_deliveries and not self._prog_rows.size:
            return
        due = [d for d in self._prog_deliveries if d[0] <= t]
        if not due and not (self._prog_rows.size and (self.book.end[self._prog_rows] <= t).any()):
            return
        self._prog_deliveries = [d for d in self._prog_deliveries if d[0] > t]
        i, s, w = self._programme, self.sites, self._fw_window
        spot = self.rec.spot_price[t] if t < self.rec.spot_price.size else np.nan
        new = []
        for start, sites, gpus, price, prepaid in due:
            self._prog_open.pop(start, None)
            # cash settlement: the kept capacity is bought at today's spot price; the position
            # pays the difference to the forward price when the window settles
            unit = price if prepaid or not np.isfinite(spot) else float(spot)
            rows = self.book.add(
                np.full(sites.size, i),
                sites,
                s.site_provider[sites],
                gpus,
                np.full(sites.size, start),
                np.full(sites.size, start + w),
                unit,
            )
            if prepaid:
                self.book.billed[rows] = w  # paid at the trade
            new.append(rows)
        if new:
            self._prog_rows = np.concatenate([self._prog_rows, *new])
            self.rec.contracts_signed(np.concatenate(new))
            self._pool_changed(np.array([i]))
        ended = self._prog_rows[self.book.end[self._prog_rows] <= t]
        self._prog_rows = self._prog_rows[self.book.end[self._prog_rows] > t]
        if ended.size:
            self._end_contracts(ended, t)
        self._allocate_public()

    def _programme_setup(self) -> None:
        self._prog_lots: dict[int, float] = {}  # window start -> lots kept for it
        self._prog_open: dict[int, tuple[float, float]] = {}  # start -> (lots, price), unpaid
        self._prog_deliveries: list[tuple] = []
        self._prog_rows = np.zeros(0, dtype=np.int64)  # contracts standing for kept windows
