"""Choosing which block bids to accept, and where: greedy construction plus threshold search.

The search state is the set of accepted blocks with their sites. Its welfare is the blocks'
value minus reserve, plus the best welfare the divisible bids reach in the capacity left free,
which `SiteWelfare` computes exactly for any (region, window). Every change is judged on its
exact welfare change. Most changes need no recomputation at all: the state keeps the GPUs an
optimal divisible allocation uses per cell, and a block that fits beside them leaves that
allocation feasible, hence still optimal, so the divisible welfare is unchanged. The divisible
welfare of one (region, period) depends only on that period's free capacity at the region's
sites, so it is memoized on that column: the search revisits the same columns constantly.

1. Construction: greedy insertion in several orders (net value per GPU-hour, net value, size,
   length), keeping the best. Each block goes to the site with the largest exact gain (its net
   value minus the divisible welfare it displaces), if that gain is positive.
2. Ejection moves under threshold acceptance: pick a seed block and a site it may use other than
   its current one; eject the blocks overlapping its window there (lowest noisy value density
   first) until it fits, place it, then re-insert greedily the ejected blocks (at any site)
   together with a few rejected blocks whose windows meet the changed cells. A move is kept if
   welfare drops by less than a threshold that falls linearly to zero over the iterations
   (accepting small losses lets the search leave local optima); the best state seen is
   returned. One move covers insertion with ejection, relocation, swaps and drop-and-add.

The randomness comes from a Generator seeded by the caller, so a book and a seed always give the
same answer.
"""

from __future__ import annotations

import numpy as np

from sim.reference.block_book import BlockOrderBook, block_net_values
from sim.reference.site_welfare import SiteWelfare

RETRIES = 8  # rejected blocks retried after a move, at most
THRESHOLD = 1.0  # initial threshold, in mean net value of a candidate block
CHAIN = 3  # longest ejection chain


class BlockSearch:
    """Mutable search state over one book; `run()` returns the chosen site of each block."""

    def __init__(self, book: BlockOrderBook, welfare: SiteWelfare) -> None:
        self.book = book
        self.divisible = welfare
        self.net = block_net_values(book)
        self.start = book.block_start
        self.end = book.block_start + book.block_periods
        self.gpus = book.block_gpus
        hours = book.block_gpus * book.block_periods * book.period_hours
        self.density = self.net.max(axis=1, initial=-np.inf) / hours
        self.candidates = np.flatnonzero(self.density > 0)
        self.sites_by_net = [self._rank_sites(b) for b in range(book.block_gpus.size)]
        self.eligible = [np.flatnonzero(self.net[b] > 0) for b in range(book.block_gpus.size)]
        self.region_sites = [np.flatnonzero(book.site_region == r) for r in range(book.n_regions)]
        region_of_site = book.site_region
        self.region_blocks = np.zeros((book.n_regions, book.block_gpus.size), dtype=bool)
        for b in self.candidates:
            self.region_blocks[region_of_site[self.eligible[b]], b] = True
        finite = self.net[np.isfinite(self.net)]
        self.tol = 1e-9 * max(1.0, float(np.abs(finite).sum()))
        # per (region, period): bytes of a free-capacity column -> (welfare, usage per site)
        self.memo: list[dict[bytes, tuple[float, np.ndarray]]] = [
            {} for _ in range(book.n_regions * book.n_periods)
        ]
        self.site = np.full(book.block_gpus.size, -1, dtype=np.int64)
        self.free = book.capacity.copy()
        self.usage = np.zeros(book.capacity.shape)
        self.group_welfare = np.zeros((book.n_regions, book.n_periods))
        self.block_welfare = 0.0
        for region in range(book.n_regions):
            self._refresh(region, 0, book.n_periods)

    def run(self, rng: np.random.Generator, iterations: int, patience: int) -> np.ndarray:
        """Construct, then search for `iterations` moves or until `patience` moves in a row
        bring no new best state."""
        self._construct()
        if self.candidates.size < 2:
            return self.site.copy()
        best, best_welfare = self._save(), self.total_welfare()
        mean_net = self.net.max(axis=1)[self.candidates].mean()
        threshold = THRESHOLD * float(mean_net)
        stale = 0
        for i in range(iterations):
            self._eject_move(rng, threshold * (1.0 - i / iterations))
            welfare = self.total_welfare()
            if welfare > best_welfare + self.tol:
                best, best_welfare, stale = self._save(), welfare, 0
            else:
                stale += 1
                if stale >= patience:
                    break
        self._restore(best)
        return self.site.copy()

    def total_welfare(self) -> float:
        return self.block_welfare + float(self.group_welfare.sum())

    # --- state ---------------------------------------------------------------------------
    def _save(self):
        arrays = (self.site, self.free, self.usage, self.group_welfare)
        return tuple(a.copy() for a in arrays) + (self.block_welfare,)

    def _restore(self, saved) -> None:
        self.site, self.free, self.usage, self.group_welfare = (a.copy() for a in saved[:4])
        self.block_welfare = saved[4]

    def _fits(self, b: int, s: int) -> bool:
        return bool(self.free[s, self.start[b] : self.end[b]].min() >= self.gpus[b])

    def _place(self, b: int, s: int) -> None:
        self.site[b] = s
        self.free[s, self.start[b] : self.end[b]] -= self.gpus[b]
        self.block_welfare += self.net[b, s]

    def _remove(self, b: int) -> None:
        s = self.site[b]
        self.free[s, self.start[b] : self.end[b]] += self.gpus[b]
        self.block_welfare -= self.net[b, s]
        self.site[b] = -1

    def _rank_sites(self, b: int) -> list[int]:
        """Sites where b has a positive net value, best first."""
        sites = np.flatnonzero(self.net[b] > 0)
        return sites[np.argsort(-self.net[b, sites], kind="stable")].tolist()

    def _leaves_divisible_alone(self, b: int, s: int) -> bool:
        t0, t1 = self.start[b], self.end[b]
        room = self.free[s, t0:t1] - self.gpus[b]
        return bool((room >= self.usage[s, t0:t1]).all())

    def _refresh(self, region: int, t0: int, t1: int) -> None:
        """Bring the divisible welfare and usage of a region's window up to date."""
        welfare, usage = self._columns(region, t0, t1)
        self.group_welfare[region, t0:t1] = welfare
        self.usage[self.region_sites[region], t0:t1] = usage

    def _columns(self, region: int, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray]:
        """Divisible welfare per period of a region's window at the current free capacity, and
        the GPUs an optimal allocation uses at each [local site, period]. Memoized per column
        of free capacity, since the search keeps coming back to the same columns."""
        sites = self.region_sites[region]
        width = 8 * sites.size
        columns = np.ascontiguousarray(self.free[sites, t0:t1].T, dtype=np.float64).tobytes()
        keys = [columns[i * width : (i + 1) * width] for i in range(t1 - t0)]
        base = region * self.book.n_periods + t0
        memo = self.memo[base : base + t1 - t0]
        missing = [i for i, key in enumerate(keys) if key not in memo[i]]
        if missing:
            lo, hi = missing[0], missing[-1] + 1
            values, (at, period, used) = self.divisible.welfare_and_usage(
                self.free, region, t0 + lo, t0 + hi
            )
            usage = np.zeros((hi - lo, self.book.n_sites))
            np.add.at(usage, (period - t0 - lo, at), used)
            usage = usage[:, sites]
            for i in range(lo, hi):
                memo[i][keys[i]] = (float(values[i - lo]), usage[i - lo])
        found = [memo[i][key] for i, key in enumerate(keys)]
        welfare = np.fromiter((hit[0] for hit in found), np.float64, len(found))
        return welfare, np.array([hit[1] for hit in found]).T.reshape(sites.size, -1)

    # --- greedy insertion ----------------------------------------------------------------
    def _gain(self, b: int, s: int) -> float:
        """Exact welfare gain of placing b at s: net value minus divisible welfare displaced."""
        if self._leaves_divisible_alone(b, s):
            return float(self.net[b, s])
        region, t0, t1 = int(self.book.site_region[s]), int(self.start[b]), int(self.end[b])
        self._place(b, s)
        after = self._columns(region, t0, t1)[0].sum()
        self._remove(b)
        return float(self.net[b, s] + after - self.group_welfare[region, t0:t1].sum())

    def _put(self, b: int, s: int) -> None:
        """Place b at s and bring the divisible welfare and usage up to date."""
        quiet = self._leaves_divisible_alone(b, s)
        self._place(b, s)
        if not quiet:
            self._refresh(int(self.book.site_region[s]), int(self.start[b]), int(self.end[b]))

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
        if best_site >= 0:
            self._put(b, best_site)

    def _recreate(self, order: np.ndarray) -> None:
        for b in order:
            if self.site[b] < 0:
                self._insert(int(b))

    def _construct(self) -> None:
        """Greedy in several orders from the empty state; keep the best packing."""
        c = self.candidates
        net = self.net.max(axis=1, initial=-np.inf)[c]
        gpus, periods = self.gpus[c], self.book.block_periods[c]
        keys = [-self.density[c], -net, -gpus, -periods, gpus * periods]
        empty, best, best_welfare = self._save(), None, -np.inf
        for key in keys:
            self._restore(empty)
            self._recreate(c[np.lexsort((-self.density[c], key))])
            if self.total_welfare() > best_welfare + self.tol:
                best, best_welfare = self._save(), self.total_welfare()
        self._restore(best)

    # --- ejection moves -------------------------------------------------------------------
    def _eject_move(self, rng: np.random.Generator, threshold: float) -> bool:
        """Force a seed block onto a new site, ejecting what is in its way; possibly force the
        most valuable ejected block onto another site in turn (an ejection chain); re-insert.
        Kept if welfare falls by less than `threshold`; returns whether it was kept."""
        saved, old = self._save(), self.total_welfare()
        seed = int(self.candidates[rng.integers(self.candidates.size)])
        region = int(self.book.block_region[seed])
        ejected, lo, hi = [], int(self.start[seed]), int(self.end[seed])
        for _ in range(1 + int(rng.integers(CHAIN))):
            forced = self._force(seed, rng)
            if forced is None:
                break
            ejected += forced
            if not ejected:
                break
            lo = min(lo, int(self.start[ejected].min()))
            hi = max(hi, int(self.end[ejected].max()))
            pending = [b for b in ejected if self.site[b] < 0]
            if not pending:
                break
            seed = max(pending, key=lambda b: self.net[b].max())
        if lo >= hi or self.total_welfare() == old and not ejected:
            self._restore(saved)
            return False
        self._refresh(region, lo, hi)
        near = (self.site < 0) & self.region_blocks[region] & (self.start < hi) & (self.end > lo)
        near[ejected] = False
        retry = np.flatnonzero(near)
        if retry.size > RETRIES:
            retry = rng.choice(retry, RETRIES, replace=False)
        blocks = np.concatenate([np.asarray(ejected, dtype=np.int64), retry])
        noisy = self.density[blocks] * rng.uniform(0.8, 1.2, blocks.size)
        self._recreate(blocks[np.argsort(-noisy, kind="stable")])
        if self.total_welfare() > old - threshold:
            return True
        self._restore(saved)
        return False

    def _force(self, b: int, rng: np.random.Generator) -> list[int] | None:
        """Move b to a random eligible site other than its own, ejecting the blocks overlapping
        its window there (lowest noisy density first) until it fits. Returns the ejected blocks,
        or None (state unchanged) if it cannot fit. Divisible welfare is left stale."""
        current = int(self.site[b])
        sites = self.eligible[b]
        if current >= 0:
            sites = sites[sites != current]
        if sites.size == 0:
            return None
        s = int(sites[rng.integers(sites.size)])
        t0, t1 = int(self.start[b]), int(self.end[b])
        overlap = np.flatnonzero((self.site == s) & (self.start < t1) & (self.end > t0))
        noisy = self.density[overlap] * rng.uniform(0.5, 1.5, overlap.size)
        room = self.free[s, t0:t1].copy()
        ejected = []
        for e in overlap[np.argsort(noisy)]:
            if room.min() >= self.gpus[b]:
                break
            ejected.append(int(e))
            room[max(self.start[e], t0) - t0 : min(self.end[e], t1) - t0] += self.gpus[e]
        if room.min() < self.gpus[b]:
            return None
        if current >= 0:
            self._remove(b)
        for e in ejected:
            self._remove(e)
        self._place(b, s)
        return ejected
