"""Fast exact welfare of the divisible bids for a given free-capacity grid (no allocation).

The block search asks "how much divisible welfare is left if this block takes these cells?"
thousands of times, so the answer must cost a few numpy calls. The trick is that, per
(region, period) group, every price in the problem is fixed; only quantities move with the
free capacity c. Precomputed once, in price order, are the offers each site makes to the
region-wide pool (see `site_market`): its capacity beyond site-specific demand at the reserve,
and each site-specific bid it serves at that bid's limit. For a given c the offered quantities
are simple clips, the pool's volume is max_j min(D(p_j), C_j) over offer prices p_j (pool
demand at >= p_j against cumulative offers), and welfare follows from the two cumulative
curves. `site_market.SiteMarket` computes the same number the slow way; a test keeps them equal.
"""

from __future__ import annotations

import numpy as np

from sim.reference.block_book import BlockOrderBook


def _segment_counts(flags: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Number of True flags in each [start, end) segment; empty segments give 0."""
    cum = np.concatenate([[0], np.cumsum(flags)])
    return cum[ends] - cum[starts]


class SiteWelfare:
    """Divisible welfare of any (region, window) of a book, for any free-capacity grid."""

    def __init__(self, book: BlockOrderBook) -> None:
        self.n_periods = book.n_periods
        n_groups = book.n_regions * book.n_periods
        self._build_offers(book, n_groups)
        self._build_pool(book, n_groups)
        self._build_offer_demand()
        chunks = np.bincount(self.offer_group[~self.offer_reserve], minlength=n_groups)
        self._chunks_before = np.concatenate([[0], np.cumsum(chunks)])

    def _build_offers(self, book: BlockOrderBook, n_groups: int) -> None:
        """Reserve offers (one per cell) and chunk offers (one per served site-specific bid)."""
        t, n_cells = book.n_periods, book.capacity.size
        spec = np.flatnonzero(book.div_site >= 0)
        spec_reserve = book.reserve[book.div_site[spec], book.div_period[spec]]
        keep = book.div_limit[spec] > spec_reserve
        spec, spec_reserve = spec[keep], spec_reserve[keep]
        cell = book.div_site[spec] * t + book.div_period[spec]
        order = np.lexsort((-book.div_limit[spec], cell))
        spec, spec_reserve, cell = spec[order], spec_reserve[order], cell[order]
        qty = book.div_qty[spec]
        cell_start = np.searchsorted(cell, np.arange(n_cells + 1))
        cum = np.concatenate([[0.0], np.cumsum(qty)])
        ahead = cum[:-1] - cum[cell_start[cell]]  # better bids at the same cell
        cell_total = cum[cell_start[1:]] - cum[cell_start[:-1]]
        sites, periods = np.divmod(np.arange(n_cells), t)
        site = np.concatenate([sites, book.div_site[spec]])
        period = np.concatenate([periods, book.div_period[spec]])
        price = np.concatenate([book.reserve.ravel(), book.div_limit[spec]])
        group = book.site_region[site] * t + period
        order = np.lexsort((price, group))
        self.offer_site, self.offer_period = site[order], period[order]
        self.offer_price, self.offer_group = price[order], group[order]
        self.offer_reserve = (np.arange(site.size) < n_cells)[order]
        self.offer_ahead = np.concatenate([cell_total, ahead])[order]
        self.offer_cap = np.concatenate([np.full(n_cells, np.inf), qty])[order]
        margin = np.concatenate([np.zeros(n_cells), book.div_limit[spec] - spec_reserve])
        self.offer_margin = margin[order]
        self.offer_start = np.searchsorted(self.offer_group, np.arange(n_groups + 1))

    def _build_pool(self, book: BlockOrderBook, n_groups: int) -> None:
        """Region-wide bids by group, best first, with within-group cumulative curves."""
        t = book.n_periods
        pool = np.flatnonzero(book.div_site < 0)
        group = book.div_region[pool] * t + book.div_period[pool]
        order = np.lexsort((-book.div_limit[pool], group))
        pool, group = pool[order], group[order]
        start = np.searchsorted(group, np.arange(n_groups + 1))
        qty, limit = book.div_qty[pool], book.div_limit[pool]
        cum_q = np.concatenate([[0.0], np.cumsum(qty)])
        cum_v = np.concatenate([[0.0], np.cumsum(qty * limit)])
        self.pool_cum_qty = cum_q[1:] - cum_q[start[group]]
        self.pool_cum_value = cum_v[1:] - cum_v[start[group]]
        self.pool_limit, self.pool_group, self.pool_start = limit, group, start

    def _build_offer_demand(self) -> None:
        """Pool quantity bid at or above each offer's price, within the offer's group."""
        self.offer_demand = np.zeros(self.offer_price.size)
        for g in np.flatnonzero(np.diff(self.pool_start) > 0):
            lo, hi = self.pool_start[g], self.pool_start[g + 1]
            offers = slice(self.offer_start[g], self.offer_start[g + 1])
            n_ge = np.searchsorted(-self.pool_limit[lo:hi], -self.offer_price[offers], "right")
            self.offer_demand[offers] = np.concatenate([[0.0], self.pool_cum_qty[lo:hi]])[n_ge]

    def has_bids(self, region: int, t0: int, t1: int) -> bool:
        """Whether any divisible bid could use capacity of `region` in periods [t0, t1)."""
        g0, g1 = region * self.n_periods + t0, region * self.n_periods + t1
        chunks = self._chunks_before[g1] > self._chunks_before[g0]
        return bool(chunks or self.pool_start[g1] > self.pool_start[g0])

    def welfare(self, free: np.ndarray, region: int, t0: int, t1: int) -> np.ndarray:
        """Welfare of the divisible bids of `region` in each period of [t0, t1), given `free`."""
        return self.welfare_and_usage(free, region, t0, t1)[0]

    def welfare_and_usage(self, free: np.ndarray, region: int, t0: int, t1: int):
        """Welfare per period of [t0, t1), and the GPUs an optimal allocation uses, as
        (welfare, (site, period, gpus)) with one entry per offer of the window."""
        g0, n = region * self.n_periods + t0, t1 - t0
        lo, hi = self.offer_start[g0], self.offer_start[g0 + n]
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        if lo == hi or not self.has_bids(region, t0, t1):
            return np.zeros(n), empty
        o = slice(lo, hi)
        starts = self.offer_start[g0 : g0 + n] - lo
        ends = self.offer_start[g0 + 1 : g0 + n + 1] - lo
        local = self.offer_group[o] - g0
        price = self.offer_price[o]
        free_here = free[self.offer_site[o], self.offer_period[o]]
        qty = np.clip(free_here - self.offer_ahead[o], 0.0, self.offer_cap[o])
        specific = np.bincount(local, qty * self.offer_margin[o], n)
        cum_q = np.concatenate([[0.0], np.cumsum(qty)])
        cum_c = np.concatenate([[0.0], np.cumsum(qty * price)])
        supply = cum_q[1:] - cum_q[starts][local]
        cost_curve = cum_c[1:] - cum_c[starts][local]
        volume = np.maximum.reduceat(np.minimum(self.offer_demand[o], supply), starts)
        j = starts + _segment_counts(supply < volume[local], starts, ends)
        j = np.minimum(j, ends - 1)
        cost = cost_curve[j] - (supply[j] - volume) * price[j]
        value = self._pool_value(volume, g0, n)
        welfare = specific + np.where(volume > 0, value - cost, 0.0)
        pooled = np.clip(volume[local] - (supply - qty), 0.0, qty)
        used = np.where(self.offer_reserve[o], pooled, qty)
        return welfare, (self.offer_site[o], self.offer_period[o], used)

    def _pool_value(self, volume: np.ndarray, g0: int, n: int) -> np.ndarray:
        """Value of the best `volume` units bid by the pool of each group."""
        lo, hi = self.pool_start[g0], self.pool_start[g0 + n]
        if lo == hi:
            return np.zeros(n)
        starts = self.pool_start[g0 : g0 + n] - lo
        ends = self.pool_start[g0 + 1 : g0 + n + 1] - lo
        cum_qty = self.pool_cum_qty[lo:hi]
        below = cum_qty < volume[self.pool_group[lo:hi] - g0]
        k = np.clip(starts + _segment_counts(below, starts, ends), 0, hi - lo - 1)
        value = self.pool_cum_value[lo:hi][k] - (cum_qty[k] - volume) * self.pool_limit[lo:hi][k]
        return np.where(ends > starts, value, 0.0)
