"""The public programme: buying capacity (contracts or forwards) and allocating it to academics."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from sim.agents import ACADEMIC
from sim.calendar import DAYS_PER_YEAR
from sim.demand import PUBLIC as PUBLIC_CHANNEL
from sim.state import State


class ContractDesk(Protocol):
    """What the programme needs of the contract market."""

    min_contract: float

    def sign(
        self,
        t: int,
        term: int,
        who: np.ndarray,
        gpus: np.ndarray,
        max_price: np.ndarray,
        split: np.ndarray,
        fresh: bool = False,
    ) -> int: ...

    def end_contracts(self, rows: np.ndarray, end: int) -> None: ...


class Programme:
    def __init__(self, state: State, desk: ContractDesk, rng: np.random.Generator):
        self.s = state
        self.desk = desk
        self.rng = rng
        self.i = state.programme  # its buyer row (None: no programme)
        fw = state.scenario.markets.forward
        self._window = state.cal.periods(fw.window_days)
        self._lot_hours = fw.lot_gpus * self._window * state.h
        self._grant_order = np.zeros(0, dtype=np.int64)
        self._lots: dict[int, float] = {}  # window start -> lots kept for it
        self._open: dict[int, tuple[float, float]] = {}  # start -> (lots, price), unpaid
        self._deliveries: list[tuple[int, np.ndarray, np.ndarray, float, bool]] = []
        self._rows = np.zeros(0, dtype=np.int64)  # contracts standing for kept windows
        self._budget = state.accounts.layout.single("public_budget")

    def cycle(self, t: int) -> None:
        """Yearly: the budget arrives and the academics who get grants are drawn.

        ``contracts``: unspent money lapses and one-year contracts are bought with the budget,
        site by site. ``forwards``: capacity is bought at every forward session instead
        (``forward_bids``), so money committed to open windows carries over.
        """
        s = self.s
        spec, b, i = s.scenario.public_programme, s.buyers, self.i
        assert i is not None
        if spec.allocation == "spread":
            academics = np.flatnonzero((b.kind == ACADEMIC) & b.alive)
            self._grant_order = self.rng.permutation(academics)
        accounts = s.accounts
        if spec.procurement == "forwards":
            # money committed to windows not yet delivered carries over; the rest lapses
            keep = min(b.cash[i], self._committed())
            accounts.transfer("budget_lapsed", t, i, self._budget, b.cash[i] - keep)
            accounts.transfer("public_budget", t, self._budget, i, spec.budget_per_year)
            self._allocate()
            return
        live = s.book.live()
        mine = live[(s.book.holder[live] == i) & (s.book.end[live] <= t)]
        self.desk.end_contracts(mine, t)  # last year's contracts end as the new ones are bought
        accounts.transfer("budget_lapsed", t, i, self._budget, b.cash[i])
        accounts.transfer("public_budget", t, self._budget, i, spec.budget_per_year)
        target = spec.budget_per_year / (self._price() * DAYS_PER_YEAR * 24)
        who = np.array([i])
        for _ in range(8):
            gap = target - b.pool_gpus[i]
            if gap < self.desk.min_contract:
                break
            asked = np.array([np.floor(gap)])
            if not self.desk.sign(t, 1, who, asked, np.array([1e9]), np.array([True]), fresh=True):
                break
        self._allocate()

    def _price(self) -> float:
        """The dearest one-year contract price ($/GPU-h): what the budget surely pays for."""
        discount = min(p.discount_1y for p in self.s.provider_specs)
        return float(self.s.sites.site_price.max()) * (1 - discount)

    def _allocate(self) -> None:
        """Hand the programme's capacity out. ``spread``: standing grants of ``grant_gpus`` to
        academics in this year's drawn order (so grants persist while the capacity does);
        ``concentrated``: the capacity stays with the programme for large runs."""
        s = self.s
        spec, b, i, r, q = s.scenario.public_programme, s.buyers, self.i, s.runs, s.queue
        b.public_gpus[:] = 0.0
        hosted = q.running[r.host[q.running] == i]
        b.pool_busy[i] = float(r.gpus[hosted].sum())  # runs in progress keep their GPUs
        if spec.allocation == "spread":
            order = self._grant_order[b.alive[self._grant_order]]
            room = max(b.pool_gpus[i] - b.pool_busy[i], 0.0)
            grants = min(order.size, int(room // spec.grant_gpus))
            b.public_gpus[order[:grants]] = spec.grant_gpus
            b.pool_busy[i] += grants * spec.grant_gpus  # granted capacity is not the programme's
        s.load_changed()
        q.recheck = True

    def start_runs(self, t: int) -> None:
        """Concentrated allocation: academics' large runs take blocks from the programme's
        contracts, first come first served, at no charge to them."""
        s = self.s
        r, b, i, q = s.runs, s.buyers, self.i, s.queue
        p = q.pending
        if p.size == 0 or i is None:
            return
        smallest = s.scenario.public_programme.min_run_gpus or s.scenario.metrics.large_run_gpus
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
        s.load_changed()
        q.start(rows, t, PUBLIC_CHANNEL, np.zeros(rows.size), s.listener)

    # ---- buying through the forward market --------------------------------------------------

    def forward_bids(self, t: int, starts: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Lots the programme bids in each traded window, and its limit price.

        It buys a strip: in every window, the capacity it would otherwise put under one-year
        contracts (what its budget surely pays for at the dearest one-year contract price),
        less what it already holds for that window, bidding up to that contract price; scaled
        down so that everything it has committed fits in its cash at that price. What the
        forward market saves it stays unspent.
        """
        s = self.s
        spec, fw = s.scenario.public_programme, s.scenario.markets.forward
        none = np.zeros(len(starts)), np.zeros(len(starts))
        if self.i is None or spec.procurement != "forwards" or not s.buyers.alive[self.i]:
            return none
        limit = self._price()
        lot_cost = limit * self._lot_hours
        target = spec.budget_per_year / (limit * DAYS_PER_YEAR * 24)  # GPUs, as with contracts
        want = np.floor(target / fw.lot_gpus)
        held = np.array([self._lots.get(w, 0.0) for w in starts])
        lots = np.floor(np.maximum(want - held, 0.0))
        room = max(s.buyers.cash[self.i] - self._committed(), 0.0)
        if lots.sum() * lot_cost > room:
            lots = np.floor(lots * room / (lots.sum() * lot_cost))
        return lots, np.full(len(starts), limit)

    def lots_kept(self, start: int) -> float:
        return self._lots.get(start, 0.0)

    def _committed(self) -> float:
        """Money the programme owes for capacity bought forward but not yet delivered (cash
        settlement pays at delivery; the forward price stands in for the spot price then)."""
        return sum(lots * self._lot_hours * price for lots, price in self._open.values())

    def filled(self, t: int, start: int, lots: float, price: float, reserve: np.ndarray) -> None:
        """Keep the capacity of filled lots for the window at sites whose ``reserve``
        [provider] the price meets, most free first (large blocks for concentrated use), and
        pay for it at the trade (physical settlement) or at delivery at the spot price (cash)."""
        if lots <= 0 or self.i is None:
            return
        s = self.s
        sites, i, w = s.sites, self.i, self._window
        open_sites = np.flatnonzero(reserve[sites.site_provider] <= price + 1e-12)
        free = np.maximum(s.ledger.free(start, w).min(axis=1), 0.0)
        lot = s.scenario.markets.forward.lot_gpus
        need = lots * lot
        got = np.zeros(sites.site_provider.size)
        for site in open_sites[np.argsort(-free[open_sites], kind="stable")]:
            take = min(np.floor(free[site] / lot) * lot, need)  # whole lots per site
            got[site], need = take, need - take
            if need <= 0:
                break
        kept_at = np.flatnonzero(got > 0)
        if kept_at.size == 0:
            return
        s.ledger.reserve(kept_at, start, w, got[kept_at], contract=True)
        prepaid = s.scenario.markets.forward.settlement == "physical"
        if prepaid:
            cost = got[kept_at] * w * s.h * price
            seller = s.provider_account(sites.site_provider[kept_at])
            s.accounts.transfer("forward_physical", t, i, seller, cost)
        kept = float(got.sum()) / lot
        self._lots[start] = self._lots.get(start, 0.0) + kept
        if not prepaid:  # to be paid at delivery: keep the money for it
            held, _ = self._open.get(start, (0.0, price))
            self._open[start] = (held + kept, price)
        self._deliveries.append((start, kept_at, got[kept_at], price, prepaid))

    def deliveries(self, t: int) -> None:
        """At a window's start the capacity kept for it joins the programme's pool (as
        contracts for the window), the windows that end leave it, and the capacity is
        allocated again."""
        if not self._deliveries and not self._rows.size:
            return
        s = self.s
        bk = s.book
        due = [d for d in self._deliveries if d[0] <= t]
        if not due and not (self._rows.size and (bk.end[self._rows] <= t).any()):
            return
        self._deliveries = [d for d in self._deliveries if d[0] > t]
        i, sites, w = self.i, s.sites, self._window
        assert i is not None
        spot = s.signals.spot_price[t] if t < s.signals.spot_price.size else np.nan
        new = []
        for start, kept_at, gpus, price, prepaid in due:
            self._open.pop(start, None)
            # cash settlement: the kept capacity is bought at today's spot price; the position
            # pays the difference to the forward price when the window settles
            unit = price if prepaid or not np.isfinite(spot) else float(spot)
            rows = bk.add(
                np.full(kept_at.size, i),
                kept_at,
                sites.site_provider[kept_at],
                gpus,
                np.full(kept_at.size, start),
                np.full(kept_at.size, start + w),
                unit,
            )
            if prepaid:
                bk.billed[rows] = w  # paid at the trade
            new.append(rows)
        if new:
            self._rows = np.concatenate([self._rows, *new])
            s.listener.contracts_signed(np.concatenate(new))
            s.refresh_pools(np.array([i]))
        ended = self._rows[bk.end[self._rows] <= t]
        self._rows = self._rows[bk.end[self._rows] > t]
        if ended.size:
            self.desk.end_contracts(ended, t)
        self._allocate()

    @property
    def active(self) -> bool:
        """Deliveries are pending or kept windows stand in the pool."""
        return bool(self._deliveries) or bool(self._rows.size)
