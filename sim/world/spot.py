"""The spot market: a periodic uniform-price call auction, strategic withholding, block bids."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from sim.channels.blocks import BlockRequests, allocate_blocks
from sim.channels.withholding import linear_inverse_demand, strategic_offers
from sim.demand import (
    SPOT,
)
from sim.markets.orders import OrderBook
from sim.markets.registry import MECHANISMS
from sim.markets.uniform_price import clear_single, uniform_price


@dataclass(frozen=True)
class _Auction:
    """One spot auction: its book (what decides the outcome) and its outcome, settled for a
    window of ``length`` periods (money in $ for the whole window)."""

    length: int
    ask: np.ndarray  # [buyer] GPUs bid
    offer: np.ndarray  # [site] GPUs offered, after withholding
    resale: np.ndarray  # [buyer] contracted GPUs offered
    reserve: np.ndarray  # [provider] reserve price
    price: float
    bidders: np.ndarray
    sites: np.ndarray
    holders: np.ndarray
    buy_filled: np.ndarray  # [bidder] GPUs
    cost: np.ndarray  # [bidder] $ for the window
    spent: np.ndarray  # [buyer] $ for the window paid by bidders (0 for the others)
    cash_change: np.ndarray  # [buyer] -spent, or resale income (bidders never resell)
    sold_per_site: np.ndarray  # [site] GPUs sold by providers
    site_owner: np.ndarray  # [site in sites] provider
    site_revenue: np.ndarray  # [site in sites] $ for the window
    lent: np.ndarray  # [holder] GPUs resold
    income: np.ndarray  # [holder] $ for the window
    bought_gpu_hours: float
    sold_gpu_hours: float  # by providers

    def same_book(self, length, ask, offer, resale, reserve) -> bool:
        return (
            length == self.length
            and _same(ask, self.ask)
            and _same(offer, self.offer)
            and _same(resale, self.resale)
            and _same(reserve, self.reserve)
        )


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal arrays (of one shape: a book's orders per buyer, site or provider, never NaN);
    equal bytes are equal values, and cheaper to compare."""
    return a is b or a.tobytes() == b.tobytes() or bool((a == b).all())


class _Heads(NamedTuple):
    """Each waiting owner's first run, highest value first, and what block bids read of it."""

    rows: np.ndarray
    value: np.ndarray
    gpus: np.ndarray
    periods: np.ndarray
    agent: np.ndarray
    reserve_cash: np.ndarray  # what the owner keeps back from a run (see ``_run_budget``)
    block_hours: np.ndarray  # GPU-hours of the block


class SpotMixin:
    """Methods of :class:`sim.world.World` (spot); they use the world's state."""

    _auction: _Auction | None = None  # the last auction, reused while its book stays the same
    _ask_scale: tuple[float, np.ndarray, np.ndarray | None] | None = None

    def spot_session(self, t: int) -> None:
        """A uniform-price call auction for capacity over the window until the next auction.

        Buyers bid their steady load not covered by their pools (capped by what their cash buys
        at their limit) at their value; providers offer capacity idle over the whole window at
        their reserve; with resale on, contract holders offer the pool GPUs they will not use at
        a reserve of zero (the contract is paid whatever happens). Fills last the whole window.

        With frequent auctions the book often repeats (nothing happened since the last one that
        changes what anyone bids or offers); the clearing is then not run again, since a
        mechanism is a pure function of its book.
        """
        b, s, spec = self.buyers, self.sites, self.sc.markets.spot
        length = min(self._spot_len, self.cal.horizon - t)
        hours = length * self.h
        if length == 1:
            prof = self.profiles[:, t]
        else:
            prof = self.profiles[:, t : t + length].mean(axis=1)
        if self._auction is not None and self._auction.holders.size:
            self._lent[:] = 0.0  # nothing is lent until this auction's resale
        rest, resale = self._spot_load(prof)
        per_gpu, has_value = self._spot_ask_scale(hours)
        if has_value is None:  # every buyer values GPUs
            ask = np.divide(b.cash, per_gpu)
        else:
            ask = np.divide(b.cash, per_gpu, out=np.zeros(len(b)), where=has_value)
        ask = np.minimum(rest, np.maximum(ask, 0.0, out=ask), out=ask)
        site_idle = self.ledger.idle(t, length)
        reserve = self._spot_reserve()
        if self._any_strategic:
            bidders = np.flatnonzero(ask > 1e-9)
            site_idle = self._withhold(t, length, site_idle, b.load_value[bidders], ask[bidders])
        last = self._auction
        changed = last is None or not last.same_book(length, ask, site_idle, resale, reserve)
        if changed:
            last = self._auction = self._clear_spot(length, hours, ask, site_idle, resale, reserve)
            self._spot_served[:] = 0.0
            self._spot_paid[:] = 0.0
        if not math.isfinite(last.price):
            self.rec.spot(t, length, last.price, 0.0, 0.0)
            return
        bidders, sites, holders = last.bidders, last.sites, last.holders
        if changed:
            # what buyers get from the spot changed: steady load is recomputed
            self._spot_served[bidders] = last.buy_filled
            self._spot_paid[bidders] = last.cost / length
            self._steady_stale = True
        # ``cash[bidders] -= cost``, ``cash[holders] += income``, ``spend[bidders] += cost`` on
        # every buyer (adding zero changes nothing)
        b.cash += last.cash_change
        b.spend += last.spent
        if sites.size:
            self.ledger.reserve_per_site(t, length, last.sold_per_site, contract=False)
        np.add.at(s.revenue, last.site_owner, last.site_revenue)
        if holders.size:
            self._lent[holders] = last.lent
            self.resale_income[holders] += last.income
        self.rec.spot(t, length, last.price, last.bought_gpu_hours, last.sold_gpu_hours)
        if spec.block_bids:
            self._spot_blocks(t, last.price, reserve)

    def _spot_load(self, prof: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(steady load each buyer's pool does not cover, pool GPUs it does not need), with no
        pool GPUs lent out; kept until a buyer's load or pool or the season changes."""
        key = (self._load_epoch, prof.tobytes())
        cached = self.__dict__.get("_spot_load_of")
        if cached is None or cached[0] != key:
            b = self.buyers
            want = np.where(b.alive, b.base_load * prof[b.kind], 0.0)
            spare = self._pool_free()
            rest = want - np.minimum(want, spare)
            if self.sc.markets.contracts.resale:
                resale = np.maximum(spare - want, 0.0)
            else:
                resale = spare * 0
            cached = self.__dict__["_spot_load_of"] = (key, rest, resale)
        return cached[1], cached[2]

    def _spot_reserve(self) -> np.ndarray:
        """Providers' reserve price in the spot auction (their costs do not change)."""
        cached = self.__dict__.get("_spot_reserve_of")
        if cached is None:
            s = self.sites
            owning = self.sc.markets.spot.reserve == "owning_cost"
            cached = s.energy_cost + (s.fixed_cost if owning else 0.0)
            self.__dict__["_spot_reserve_of"] = cached
        return cached

    def _spot_ask_scale(self, hours: float) -> tuple[np.ndarray, np.ndarray | None]:
        """(value of one GPU for ``hours`` per buyer, which buyers value GPUs at all, or None
        when all do)."""
        if self._ask_scale is None or self._ask_scale[0] != hours:
            value = self.buyers.load_value
            has_value = value > 0
            self._ask_scale = (hours, value * hours, None if has_value.all() else has_value)
        return self._ask_scale[1], self._ask_scale[2]

    def _clear_spot(self, length, hours, ask, site_idle, resale, reserve) -> _Auction:
        """Run the auction on the book these bids and offers make; settle it for the window."""
        b, s, spec = self.buyers, self.sites, self.sc.markets.spot
        bidders = (ask > 1e-9).nonzero()[0]
        sites = (site_idle > 1e-9).nonzero()[0]
        holders = (resale > 1e-9).nonzero()[0]
        buy_qty, buy_limit = ask[bidders], b.load_value[bidders]
        sell_qty = np.concatenate([site_idle[sites], resale[holders]])
        sell_reserve = np.concatenate([reserve[s.site_provider[sites]], np.zeros(holders.size)])
        mechanism = MECHANISMS[spec.mechanism]
        if mechanism is uniform_price:
            # the mechanism's array core for one product on a book that is valid by
            # construction; fills pay the single price as ``settle`` has them
            memo = self.__dict__.setdefault("_spot_sort", {})  # prices repeat, quantities vary
            p, buy_filled, sell_filled = clear_single(
                buy_qty, buy_limit, sell_qty, sell_reserve, memo
            )
            prices = np.array([p])
            if math.isnan(p):  # nothing trades
                buy_payment, sell_revenue = np.zeros(bidders.size), np.zeros(sell_qty.size)
            else:  # fills are >= 0 and the price is finite and >= 0 (a limit or a reserve)
                buy_payment = buy_filled * p
                sell_revenue = sell_filled * p
        else:
            book = OrderBook(
                buy_qty=buy_qty, buy_limit=buy_limit, sell_qty=sell_qty, sell_reserve=sell_reserve
            )
            res = mechanism(book)
            prices, buy_filled, sell_filled = res.price, res.buy_filled, res.sell_filled
            buy_payment, sell_revenue = res.buy_payment, res.sell_revenue
        n = sites.size
        cost = buy_payment * hours
        income = sell_revenue[n:] * hours
        spent = np.zeros(ask.size)
        spent[bidders] = cost
        cash_change = np.zeros(ask.size)
        cash_change[holders] = income
        cash_change -= spent
        return _Auction(
            length=length,
            ask=ask,
            offer=site_idle,
            resale=resale,
            reserve=reserve,
            price=float(prices[0]) if prices.size else float("nan"),
            bidders=bidders,
            sites=sites,
            holders=holders,
            buy_filled=buy_filled,
            cost=cost,
            spent=spent,
            cash_change=cash_change,
            sold_per_site=np.bincount(sites, sell_filled[:n], s.site_provider.size),
            site_owner=s.site_provider[sites],
            site_revenue=sell_revenue[:n] * hours,
            lent=sell_filled[n:],
            income=income,
            bought_gpu_hours=float(buy_filled.sum()) * hours,
            sold_gpu_hours=float(sell_filled[:n].sum()) * hours,
        )

    @property
    def _any_strategic(self) -> bool:
        cached = self.__dict__.get("_any_strategic_of")
        if cached is None:
            cached = self.__dict__["_any_strategic_of"] = bool(self._strategic.any())
        return cached

    @property
    def _strategic(self) -> np.ndarray:
        """[site] whether the site's provider withholds strategically."""
        cached = self.__dict__.get("_strategic_sites")
        if cached is None:
            classes = np.asarray([p.strategy == "cournot" for p in self.provider_specs])
            cached = self.__dict__["_strategic_sites"] = classes[self.sites.provider_class]
        return cached

    def _withhold(self, t, length, site_idle, limit, qty) -> np.ndarray:
        """Idle capacity each site offers once strategic providers have withheld theirs."""
        s = self.sites
        strategic = self._strategic
        if not strategic.any():
            return site_idle
        idle = np.bincount(s.site_provider, site_idle, s.list_price.size)
        a, slope = linear_inverse_demand(limit, qty)
        forward = self._forward_sold_now(t) if self.sc.markets.forward.enabled else None
        offer = strategic_offers(idle, s.energy_cost, strategic, a, slope, forward)
        share = np.divide(offer, idle, out=np.zeros_like(idle), where=idle > 0)
        self.rec.withheld(t, length, float((idle - offer).sum()))
        return site_idle * share[s.site_provider]

    def _spot_blocks(self, t: int, price: float, reserve: np.ndarray) -> None:
        """Waiting runs bid all-or-nothing blocks at the session's price, highest limit first.

        Runs take the price the auction found (their bids do not move it); only sites whose
        reserve is at or below that price sell, so no seller is paid below its reserve.
        """
        if self.pending.size == 0:
            return
        heads = self._heads_by_value()
        # what depends only on the waiting runs and the price is kept while neither changes
        bids = self.__dict__.get("_spot_bids")
        if bids is None or bids[0] is not heads or bids[1] != price:
            # runs are sorted by value, so those worth the price are a prefix (most are not)
            k = int((-heads.value).searchsorted(-price, side="right"))
            open_sites = reserve[self.sites.site_provider] <= price + 1e-12
            site_price = np.where(open_sites, price, np.inf)
            low = site_price.min()
            if not np.isfinite(low):  # no site sells at this price
                k = 0
            # the smallest block among them, less the tolerance of the fit test
            need = float(heads.gpus[:k].min()) - 1e-9 if k else 0.0
            bids = (
                heads,
                price,
                k,
                open_sites,
                site_price,
                heads.block_hours[:k] * low,
                np.flatnonzero(open_sites),
                need,
                heads.agent[:k],
                heads.reserve_cash[:k],
            )
            self.__dict__["_spot_bids"] = bids
        _, _, k, open_sites, site_price, cost_at_low, open_idx, need, agent, keep = bids
        if k == 0:
            return
        # no open site has room now for the smallest block: none fits (``_fits_now``'s test)
        room = np.maximum.reduce(self.ledger.free_in(t, open_idx))
        if not room >= need:
            return
        budget = self.buyers.cash.take(agent)
        budget -= keep
        np.maximum(budget, 0.0, out=budget)
        # the tests of ``allocate_blocks``: price (the prefix), budget, then a free block
        rows = (cost_at_low <= budget + 1e-9).nonzero()[0]
        if rows.size == 0:
            return
        value, gpus, periods = heads.value[:k], heads.gpus[:k], heads.periods[:k]
        if not room >= gpus[rows].min() - 1e-9:  # the same test for the runs that can pay
            return
        block_hours = heads.block_hours[:k]
        could = self._fits_now(t, rows, gpus, periods, value, budget, block_hours, site_price)
        if could.size == 0:
            return
        runs = heads.rows[could]
        req = BlockRequests(
            gpus=gpus[could],
            periods=periods[could],
            max_price=value[could],
            budget=budget[could],
            eligible=np.broadcast_to(open_sites, (runs.size, open_sites.size)),
        )
        free = self.ledger.free(t, int(req.periods.max()))
        alloc = allocate_blocks(free, np.full(open_sites.size, price), req, self.h)
        self._book_runs(t, runs, alloc, SPOT)

    def _heads_by_value(self) -> _Heads:
        """Each waiting owner's first run, highest value first (kept until ``pending``
        changes)."""
        pending = self.pending
        cached = self.__dict__.get("_heads_by_value_of")
        if cached is None or cached[0] is not pending:
            r, b = self.runs, self.buyers
            rows = self._first_per_owner(pending)
            rows = rows[(-r.value[rows]).argsort(kind="stable")]
            gpus, periods, agent = r.gpus[rows], r.periods[rows], r.agent[rows]
            heads = _Heads(
                rows=rows,
                value=r.value[rows],
                gpus=gpus,
                periods=periods,
                agent=agent,
                reserve_cash=3 * b.burn[agent],
                block_hours=gpus * periods * self.h,
            )
            cached = self.__dict__["_heads_by_value_of"] = (pending, heads)
        return cached[1]
