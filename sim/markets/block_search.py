"""Choosing which block bids to accept, and where: greedy construction plus local search.

The search state is the set of accepted blocks with their sites. Its welfare is the blocks'
value minus reserve, plus the best welfare the divisible bids reach in the capacity left free,
which `SiteWelfare` computes exactly for any (region, window). Every change is judged on its
exact welfare change. Most changes need no recomputation at all: the state keeps the GPUs an
optimal divisible allocation uses per cell, and a block that fits beside them leaves that
allocation feasible, hence still optimal, so the divisible welfare is unchanged.

1. Construction: greedy insertion in several orders (net value per GPU-hour, net value, size,
   length), keeping the best. Each block goes to the site with the largest exact gain (its net
   value minus the divisible welfare it displaces), if that gain is positive.
2. Large-neighbourhood search ("ruin and recreate"): pick a seed block, clear every accepted
   block of the seed's region whose window overlaps the seed's, then re-insert the seed and the
   cleared and rejected blocks of that neighbourhood greedily in a shuffled density order; keep
   the new packing only if total welfare rises. This finds the relocations and two-for-one swaps
   that greedy misses, e.g. moving a block that could use any site away from the only site
   another block may use.

The shuffles come from a Generator seeded by the caller, so a book and a seed always give the
same answer.
"""

from __future__ import annotations

import numpy as np

from sim.markets.block_book import BlockOrderBook, block_net_values
from sim.markets.site_welfare import SiteWelfare


class BlockSearch:
    """Mutable search state over one book; `run()` returns the chosen site of each block."""

    def __init__(self, book: BlockOrderBook, welfare: SiteWelfare) -> None:
        self.book = book
        self.divisible = welfare
        self.net = block_net_values(book)
        self.end = book.block_start + book.block_periods
        hours = book.block_gpus * book.block_periods * book.period_hours
        self.density = self.net.max(axis=1, initial=-np.inf) / hours
        self.candidates = np.flatnonzero(self.density > 0)
        self.sites_by_net = [self._rank_sites(b) for b in range(book.block_gpus.size)]
        finite = self.net[np.isfinite(self.net)]
        self.tol = 1e-9 * max(1.0, float(np.abs(finite).sum()))
        self.site = np.full(book.block_gpus.size, -1, dtype=np.int64)
        self.free = book.capacity.copy()
        self.usage = np.zeros(book.capacity.shape)
        self.group_welfare = np.zeros((book.n_regions, book.n_periods))
        for region in range(book.n_regions):
            self._refresh(region, 0, book.n_periods)

    def run(self, rng: np.random.Generator, iterations: int, patience: int) -> np.ndarray:
        """Construct, then search until `patience` moves in a row fail or `iterations` end."""
        self._construct()
        failures = 0
        for _ in range(iterations if self.candidates.size > 1 else 0):
            failures = 0 if self._ruin_and_recreate(rng) else failures + 1
            if failures >= patience:
                break
        return self.site.copy()

    def total_welfare(self) -> float:
        placed = self.site >= 0
        blocks = float(self.net[placed, self.site[placed]].sum())
        return blocks + float(self.group_welfare.sum())

    # --- state ---------------------------------------------------------------------------
    def _save(self):
        return self.site.copy(), self.free.copy(), self.usage.copy(), self.group_welfare.copy()

    def _restore(self, saved) -> None:
        self.site, self.free, self.usage, self.group_welfare = (a.copy() for a in saved)

    def _fits(self, b: int, s: int) -> bool:
        window = self.free[s, self.book.block_start[b] : self.end[b]]
        return bool(window.min() >= self.book.block_gpus[b])

    def _place(self, b: int, s: int) -> None:
        self.site[b] = s
        self.free[s, self.book.block_start[b] : self.end[b]] -= self.book.block_gpus[b]

    def _remove(self, b: int) -> None:
        s = self.site[b]
        self.free[s, self.book.block_start[b] : self.end[b]] += self.book.block_gpus[b]
        self.site[b] = -1

    def _rank_sites(self, b: int) -> list[int]:
        """Sites where b has a positive net value, best first."""
        sites = np.flatnonzero(self.net[b] > 0)
        return sites[np.argsort(-self.net[b, sites], kind="stable")].tolist()

    def _leaves_divisible_alone(self, b: int, s: int) -> bool:
        t0, t1 = self.book.block_start[b], self.end[b]
        room = self.free[s, t0:t1] - self.book.block_gpus[b]
        return bool((room >= self.usage[s, t0:t1]).all())

    def _refresh(self, region: int, t0: int, t1: int) -> None:
        """Recompute the divisible welfare and usage of a region's window."""
        values, (sites, periods, used) = self.divisible.welfare_and_usage(self.free, region, t0, t1)
        self.group_welfare[region, t0:t1] = values
        self.usage[self.book.site_region == region, t0:t1] = 0.0
        np.add.at(self.usage, (sites, periods), used)

    # --- greedy insertion ----------------------------------------------------------------
    def _gain(self, b: int, s: int) -> float:
        """Exact welfare gain of placing b at s: net value minus divisible welfare displaced."""
        if self._leaves_divisible_alone(b, s):
            return float(self.net[b, s])
        region, t0, t1 = int(self.book.site_region[s]), int(self.book.block_start[b]), self.end[b]
        self._place(b, s)
        after = self.divisible.welfare(self.free, region, t0, t1)
        self._remove(b)
        return float(self.net[b, s] + after.sum() - self.group_welfare[region, t0:t1].sum())

    def _insert(self, b: int) -> None:
        """Place b at its best site if that raises welfare."""
        best, best_site = self.tol, -1
        for s in self.sites_by_net[b]:
            if self.net[b, s] <= best:
                break  # displacing divisible bids can only lower the gain
            if self._fits(b, s):
                gain = self._gain(b, s)
                if gain > best:
                    best, best_site = gain, s
        if best_site < 0:
            return
        quiet = self._leaves_divisible_alone(b, best_site)
        self._place(b, best_site)
        if not quiet:
            region = int(self.book.site_region[best_site])
            self._refresh(region, int(self.book.block_start[b]), int(self.end[b]))

    def _recreate(self, order: np.ndarray) -> None:
        for b in order:
            if self.site[b] < 0:
                self._insert(int(b))

    def _construct(self) -> None:
        """Greedy in several orders from the empty state; keep the best packing."""
        c = self.candidates
        net = self.net.max(axis=1, initial=-np.inf)[c]
        gpus, periods = self.book.block_gpus[c], self.book.block_periods[c]
        keys = [-self.density[c], -net, -gpus, -periods, gpus * periods]
        empty, best, best_welfare = self._save(), None, -np.inf
        for key in keys:
            self._restore(empty)
            self._recreate(c[np.lexsort((-self.density[c], key))])
            if self.total_welfare() > best_welfare + self.tol:
                best, best_welfare = self._save(), self.total_welfare()
        self._restore(best)

    # --- large-neighbourhood search -------------------------------------------------------
    def _neighbourhood(self, seed: int):
        """Accepted blocks to clear and rejected blocks to retry around a seed block."""
        region = int(self.book.site_region[self.sites_by_net[seed][0]])
        t0, t1 = int(self.book.block_start[seed]), int(self.end[seed])
        in_region = self.book.site_region[np.maximum(self.site, 0)] == region
        overlap = (self.book.block_start < t1) & (self.end > t0)
        ruined = np.flatnonzero((self.site >= 0) & in_region & overlap)
        eligible = (self.net[:, self.book.site_region == region] > 0).any(axis=1)
        pending = np.flatnonzero((self.site < 0) & eligible & overlap)
        lo = min(t0, int(self.book.block_start[ruined].min(initial=t0)))
        hi = max(t1, int(self.end[ruined].max(initial=t1)))
        return region, lo, hi, ruined, pending

    def _ruin_and_recreate(self, rng: np.random.Generator) -> bool:
        seed = int(rng.choice(self.candidates))
        region, lo, hi, ruined, pending = self._neighbourhood(seed)
        saved, old = self._save(), self.total_welfare()
        for b in ruined:
            self._remove(int(b))
        self._refresh(region, lo, hi)
        blocks = np.union1d(ruined, pending)
        noisy = self.density[blocks] * rng.uniform(0.7, 1.3, blocks.size)
        order = blocks[np.argsort(-noisy, kind="stable")]
        if rng.random() < 0.5:
            order = np.concatenate([[seed], order[order != seed]])
        self._recreate(order)
        if self.total_welfare() > old + self.tol:
            return True
        self._restore(saved)
        return False
