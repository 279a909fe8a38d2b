"""First-come-first-served allocation of contiguous blocks at posted prices.

A request asks for ``gpus`` at ONE site for ``periods`` consecutive periods starting now. Each
request, in priority order, takes the cheapest site that has the block free for the whole window
and whose price it accepts and can pay; ties go to the lower site index. That sequential rule is
the definition; ``allocate_blocks`` computes exactly the same answer in a few vectorized passes:

1. every request picks its site as if it were first in line;
2. requests are accepted in priority order as long as the GPUs claimed at their site by all
   earlier requests still leave their block free (a sufficient condition: all requests start now,
   so earlier ones overlap the first period of every later one);
3. at the first request where that test fails, the accepted prefix is booked and the pass restarts
   from that request against the updated free capacity.

A request with no feasible site at the start of a session stays infeasible, because free capacity
only shrinks while the session runs, so it is dropped at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BlockRequests:
    """Block requests in priority order (index 0 is served first)."""

    gpus: np.ndarray  # GPUs in the block
    periods: np.ndarray  # consecutive periods (>= 1)
    max_price: np.ndarray  # highest acceptable price, $/GPU-h
    budget: np.ndarray  # money available for the whole block, $
    eligible: np.ndarray | None = None  # [request, site] bool: sites this request may use

    def __len__(self) -> int:
        return int(self.gpus.shape[0])


@dataclass(frozen=True)
class BlockAllocation:
    site: np.ndarray  # chosen site, -1 where not served
    price: np.ndarray  # $/GPU-h paid, NaN where not served
    cost: np.ndarray  # $ for the whole block, 0 where not served


def allocate_blocks(
    free: np.ndarray, price: np.ndarray, req: BlockRequests, hours_per_period: float
) -> BlockAllocation:
    """Serve ``req`` from ``free`` [site, period] (period 0 = now) at per-site ``price`` [site] or
    per-request-and-site prices [request, site]. ``free`` is not modified."""
    n = len(req)
    site = np.full(n, -1, dtype=np.int64)
    if n == 0 or free.shape[0] == 0:
        return _result(site, price, req, hours_per_period)
    rows = _possible(free, price, req, hours_per_period)
    if rows.size == 0:
        return _result(site, price, req, hours_per_period)
    width = int(req.periods[rows].max())
    # ``free`` is read in place and copied (as floats) only before the first booking that a
    # later request must see
    free = free[:, :width]
    own = free.dtype != float
    if own:
        free = free.astype(float)
    gpus, periods = req.gpus[rows], req.periods[rows]
    p = _prices(price, rows)
    # price, budget and eligibility do not change while the session runs; only free capacity does
    static = (p <= req.max_price[rows, None]) & (
        gpus[:, None] * periods[:, None] * hours_per_period * p <= req.budget[rows, None] + 1e-9
    )
    if req.eligible is not None:
        static &= req.eligible[rows]
    masked_price = np.where(static, p, np.inf)
    window = np.minimum.accumulate(free, axis=1)  # [site, d]: min free over the first d+1
    avail = window[:, periods - 1].T  # [request, site]
    todo = np.arange(rows.size)
    while todo.size:
        fits_now = avail[todo] >= gpus[todo, None] - 1e-9
        masked = np.where(fits_now, masked_price[todo], np.inf)
        choice = np.argmin(masked, axis=1)
        ok = np.isfinite(masked[np.arange(todo.size), choice])
        todo, choice = todo[ok], choice[ok]
        if todo.size == 0:
            break
        claimed = _claimed_at_site(choice, gpus[todo], free.shape[0])
        fits = claimed <= avail[todo, choice] + 1e-9
        stop = int(np.argmin(fits)) if not fits.all() else todo.size
        accepted, sites = todo[:stop], choice[:stop]
        site[rows[accepted]] = sites
        todo = todo[stop:]
        if todo.size:
            if not own:
                free, own = np.array(free, dtype=float), True
            changed = _book(free, sites, periods[accepted], gpus[accepted])
            if changed.size:
                window[changed] = np.minimum.accumulate(free[changed], axis=1)
                avail[np.ix_(todo, changed)] = window[changed][:, periods[todo] - 1].T
    return _result(site, price, req, hours_per_period)


def _possible(free, price, req, hours_per_period) -> np.ndarray:
    """Requests that could be served somewhere before anything is booked (a cheap filter:
    price, budget and size checks against the best case, without the window computation)."""
    low = price.min(axis=-1) if price.ndim == 2 else np.full(len(req), price.min())
    biggest = free.max()
    ok = (
        (low <= req.max_price)
        & (req.gpus * req.periods * hours_per_period * low <= req.budget + 1e-9)
        & (req.gpus <= biggest + 1e-9)
    )
    return np.flatnonzero(ok)


def _prices(price: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return price[rows] if price.ndim == 2 else np.broadcast_to(price, (rows.size, price.size))


def _claimed_at_site(choice: np.ndarray, gpus: np.ndarray, n_sites: int) -> np.ndarray:
    """GPUs claimed at each request's site by it and every earlier request choosing that site."""
    order = np.argsort(choice, kind="stable")
    csum = np.cumsum(gpus[order])
    starts = np.searchsorted(choice[order], np.arange(n_sites))
    before_group = np.concatenate(([0.0], csum))[starts]
    claimed = np.empty_like(csum)
    claimed[order] = csum - before_group[choice[order]]
    return claimed


def _book(free: np.ndarray, sites: np.ndarray, periods: np.ndarray, gpus: np.ndarray) -> np.ndarray:
    """Subtract the accepted blocks from ``free``; returns the sites that changed."""
    if sites.size == 0:
        return sites
    n_sites, width = free.shape
    flat = np.concatenate([sites * (width + 1), sites * (width + 1) + np.minimum(periods, width)])
    diff = np.bincount(flat, np.concatenate([gpus, -gpus]), n_sites * (width + 1))
    changed = np.unique(sites)
    delta = np.cumsum(diff.reshape(n_sites, width + 1)[changed], axis=1)[:, :width]
    free[changed] -= delta
    return changed


def _result(site, price, req, hours_per_period) -> BlockAllocation:
    served = site >= 0
    p = np.full(site.size, np.nan)
    if served.any():
        rows = np.flatnonzero(served)
        p[rows] = _prices(price, rows)[np.arange(rows.size), site[rows]]
    cost = np.where(
        served, req.gpus * req.periods * hours_per_period * np.where(served, p, 0.0), 0.0
    )
    return BlockAllocation(site=site, price=p, cost=cost)


def fits_now(
    free_over: Callable[[int], np.ndarray],
    rows: np.ndarray,
    gpus: np.ndarray,
    periods: np.ndarray,
    value: np.ndarray,
    budget: np.ndarray,
    block_hours: np.ndarray,
    site_price: np.ndarray,
) -> np.ndarray:
    """The requests among ``rows`` that ``allocate_blocks`` could serve if each were first in
    line: at some site the price is within the request's value and budget and its block is free
    over its whole window (``free_over(width)`` gives free GPUs [site, period] from now). The same
    tests and arithmetic as ``allocate_blocks``, which is why the others can be left out of it:
    free capacity only shrinks while it runs."""
    if rows.size == 0:
        return rows
    p = site_price[None, :]
    static = (p <= value[rows, None]) & (block_hours[rows, None] * p <= budget[rows, None] + 1e-9)
    free = free_over(int(periods[rows].max()))
    need = gpus[rows, None] - 1e-9
    # the block's first period first: a block not free now is not free over its window
    now = (static & (free[:, 0] >= need)).any(axis=1)
    if not now.all():
        rows, static, need = rows[now], static[now], need[now]
        if rows.size == 0:
            return rows
    if rows.size <= 4:  # few requests: the minimum over each one's window alone
        avail = np.array([np.minimum.reduce(free[:, :d], axis=1) for d in periods[rows]])
    else:
        avail = np.minimum.accumulate(free, axis=1)[:, periods[rows] - 1].T
    return rows[(static & (avail >= need)).any(axis=1)]
