"""Optimal service of divisible bids from the capacity that blocks leave free.

With blocks fixed, what remains is a transportation problem per (region, period): bids for a
given site compete for that site, bids for "any site of the region" for all of them. It is
solved exactly by two uniform-price clearings, without an LP:

1. each (site, period) cell clears its own site-specific bids against its free capacity;
2. each (region, period) pool then clears the region-wide bids against what is left at every
   cell (at the cell's reserve) plus every site-specific fill from step 1, offered at that bid's
   limit. A region-wide bid that buys such an offer displaces the site-specific bid, which is
   right exactly when it is worth more, so the two steps together reach the joint optimum.

The block search calls `welfare` thousands of times on a few periods of one region, so bids are
pre-sorted by (region, period) and every call works on contiguous slices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.markets.uniform_price import clear_divisible
from sim.reference.block_book import BlockOrderBook


@dataclass(frozen=True)
class _Bids:
    """Divisible bids of one kind, sorted by group = region * n_periods + period."""

    index: np.ndarray  # position in the book
    qty: np.ndarray
    limit: np.ndarray
    period: np.ndarray
    site: np.ndarray
    group_start: np.ndarray  # group_start[g]: first sorted bid of group g; length n_groups + 1

    @classmethod
    def select(cls, book: BlockOrderBook, mask: np.ndarray) -> _Bids:
        groups = book.div_region * book.n_periods + book.div_period
        index = np.flatnonzero(mask)
        index = index[np.argsort(groups[index], kind="stable")]
        n_groups = book.n_regions * book.n_periods
        return cls(
            index=index,
            qty=book.div_qty[index],
            limit=book.div_limit[index],
            period=book.div_period[index],
            site=book.div_site[index],
            group_start=np.searchsorted(groups[index], np.arange(n_groups + 1)),
        )

    def window(self, region: int, t0: int, t1: int, n_periods: int) -> slice:
        g = region * n_periods
        return slice(self.group_start[g + t0], self.group_start[g + t1])


@dataclass(frozen=True)
class _Cleared:
    welfare: np.ndarray  # per period of the window
    specific_fill: np.ndarray  # final fill of each site-specific bid in the slice
    pool_fill: np.ndarray  # fill of each region-wide bid in the slice
    pool_share: np.ndarray  # [period, local site]: share of the pool served at each site


class SiteMarket:
    """Divisible bids of one book, ready to be cleared against any free-capacity grid."""

    def __init__(self, book: BlockOrderBook) -> None:
        self.book = book
        self.specific = _Bids.select(book, book.div_site >= 0)
        self.pool = _Bids.select(book, book.div_site < 0)
        self.region_sites = [np.flatnonzero(book.site_region == r) for r in range(book.n_regions)]
        local = np.zeros(book.n_sites, dtype=np.int64)
        for sites in self.region_sites:
            local[sites] = np.arange(sites.size)
        self.local_site = local

    def has_bids(self, region: int, t0: int, t1: int) -> bool:
        """Whether any divisible bid could use capacity of this region in periods [t0, t1)."""
        n = self.book.n_periods
        spec, pool = self.specific.window(region, t0, t1, n), self.pool.window(region, t0, t1, n)
        return spec.stop > spec.start or pool.stop > pool.start

    def welfare(self, free: np.ndarray, region: int, t0: int, t1: int) -> np.ndarray:
        """Welfare of the divisible bids of `region` in each period of [t0, t1), given `free`."""
        if not self.has_bids(region, t0, t1):
            return np.zeros(t1 - t0)
        return self._clear(free, region, t0, t1).welfare

    def allocate(self, free: np.ndarray) -> np.ndarray:
        """GPUs each divisible bid gets at each site: [bid, site]."""
        book = self.book
        alloc = np.zeros((book.div_qty.size, book.n_sites))
        for region, sites in enumerate(self.region_sites):
            if sites.size == 0 or not self.has_bids(region, 0, book.n_periods):
                continue
            cleared = self._clear(free, region, 0, book.n_periods)
            spec = self.specific.window(region, 0, book.n_periods, book.n_periods)
            alloc[self.specific.index[spec], self.specific.site[spec]] = cleared.specific_fill
            pool = self.pool.window(region, 0, book.n_periods, book.n_periods)
            period = self.pool.period[pool]
            split = cleared.pool_fill[:, None] * cleared.pool_share[period]
            alloc[self.pool.index[pool][:, None], sites[None, :]] = split
        return alloc

    def _clear(self, free: np.ndarray, region: int, t0: int, t1: int) -> _Cleared:
        sites = self.region_sites[region]
        n_local, n_cells = sites.size, sites.size * (t1 - t0)
        cell_free = free[sites, t0:t1].T.ravel()  # cell = (period - t0) * n_local + local site
        cell_reserve = self.book.reserve[sites, t0:t1].T.ravel()
        cell_period = np.repeat(np.arange(t1 - t0), n_local)
        spec = self.specific.window(region, t0, t1, self.book.n_periods)
        s_period = self.specific.period[spec] - t0
        s_cell = s_period * n_local + self.local_site[self.specific.site[spec]]
        s_qty, s_limit = self.specific.qty[spec], self.specific.limit[spec]
        _, s_fill, cell_sold = clear_divisible(
            s_qty, s_limit, s_cell, cell_free, cell_reserve, np.arange(n_cells), n_cells
        )
        pool = self.pool.window(region, t0, t1, self.book.n_periods)
        p_period = self.pool.period[pool] - t0
        offer_qty = np.concatenate([cell_free - cell_sold, s_fill])
        offer_price = np.concatenate([cell_reserve, s_limit])
        offer_period = np.concatenate([cell_period, s_period])
        _, p_fill, offer_sold = clear_divisible(
            self.pool.qty[pool],
            self.pool.limit[pool],
            p_period,
            offer_qty,
            offer_price,
            offer_period,
            t1 - t0,
        )
        n_periods = t1 - t0
        welfare = (
            np.bincount(s_period, s_limit * s_fill, n_periods)
            - np.bincount(cell_period, cell_reserve * cell_sold, n_periods)
            + np.bincount(p_period, self.pool.limit[pool] * p_fill, n_periods)
            - np.bincount(offer_period, offer_price * offer_sold, n_periods)
        )
        displaced = offer_sold[n_cells:]
        to_pool = offer_sold[:n_cells] + np.bincount(s_cell, displaced, n_cells)
        to_pool = to_pool.reshape(n_periods, n_local)
        total = to_pool.sum(axis=1, keepdims=True)
        share = np.divide(to_pool, total, out=np.zeros_like(to_pool), where=total > 0)
        return _Cleared(welfare, s_fill - displaced, p_fill, share)
