"""Spot call auction with all-or-nothing block bids, cleared exactly by HiGHS.

A session's book (`BlockOrderBook`) holds capacity and reserve per (site, period), divisible
bids (GPUs in one period) and block bids (N GPUs at one site for D consecutive periods, all or
nothing). Clearing is in two steps:

1. **Allocation**: the welfare-maximizing selection (bid value minus the sellers' reserve cost)
   as one mixed-integer program (`block_model`), solved by HiGHS through
   `scipy.optimize.milp`. Identical block bids are one integer column; regions share no bid,
   so each region is solved on its own. A time limit per session may stop HiGHS early: then
   its incumbent is used and the gap between it and the proven bound is in the result
   (``mip_gap``, ``optimal``), never silently.
2. **Prices**: a uniform price per (site, period) from an LP on the fixed allocation
   (`block_pricing`): no accepted bid pays above its limit and no seller is paid below its
   reserve (hard constraints, so no block is paradoxically accepted); the regret of bids left
   out is minimized. A rejected block whose limit exceeds the average price of its window at
   some site it could use is *paradoxically rejected*; the result counts them.

This is the treatment of block orders in European day-ahead market coupling (EUPHEMIA): blocks
are accepted or rejected whole, paradoxically accepted blocks are forbidden and paradoxically
rejected ones are allowed (docs/model.md gives the references).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from sim.markets.block_book import (
    BlockAuctionResult,
    BlockOrderBook,
    block_pairs,
    cells_sold,
    settle_blocks,
    window_reserve,
)
from sim.markets.block_model import build_model
from sim.markets.block_pricing import block_prices

MIP_REL_GAP = 1e-9  # HiGHS stops when incumbent and bound agree to this (relative)


@dataclass(frozen=True)
class Allocation:
    """Accepted blocks' sites, divisible GPUs per (bid, site), and how exact the solve was."""

    block_site: np.ndarray  # [block] site, -1 if rejected
    alloc: np.ndarray  # [divisible bid, site] GPUs
    welfare: float  # of the incumbent, by the solver's objective
    bound: float  # proven upper bound on welfare
    optimal: bool


def block_auction(
    book: BlockOrderBook, time_limit: float | None = None, node_limit: int | None = None
) -> BlockAuctionResult:
    """Clear a session exactly, unless ``time_limit`` (seconds per region) or ``node_limit``
    (branch-and-bound nodes, a limit that does not depend on the machine) stops HiGHS first."""
    regions = _regions(book) if _worth_splitting(book) else [_whole(book)]
    block_site = np.full(book.block_gpus.size, -1, dtype=np.int64)
    alloc = np.zeros((book.div_qty.size, book.n_sites))
    price = book.reserve.copy()
    welfare = bound = 0.0
    optimal = True
    for sites, blocks, bids in regions:
        whole = sites.size == book.n_sites
        sub = book if whole else _sub_book(book, sites, blocks, bids)
        got = allocate(sub, time_limit, node_limit)
        sub_price = block_prices(
            sub, got.block_site, got.alloc, cells_sold(sub, got.block_site, got.alloc)
        )
        chosen = got.block_site >= 0
        block_site[blocks[chosen]] = sites[got.block_site[chosen]]
        alloc[np.ix_(bids, sites)] = got.alloc
        price[sites] = sub_price
        welfare, bound = welfare + got.welfare, bound + got.bound
        optimal = optimal and got.optimal
    result = settle_blocks(book, block_site, alloc, price)
    gap = max(bound - welfare, 0.0) / max(abs(bound), 1e-9)
    return replace(
        result,
        mip_gap=0.0 if optimal and gap <= 1e-6 else gap,
        optimal=optimal,
        paradoxically_rejected=paradoxically_rejected(book, block_site, price),
    )


def allocate(
    book: BlockOrderBook, time_limit: float | None = None, node_limit: int | None = None
) -> Allocation:
    """The welfare-maximizing allocation of ``book`` by MILP (HiGHS)."""
    model = build_model(book)
    block_site = np.full(book.block_gpus.size, -1, dtype=np.int64)
    alloc = np.zeros((book.div_qty.size, book.n_sites))
    if model.gain.size == 0:
        return Allocation(block_site, alloc, 0.0, 0.0, True)
    res = milp(
        -model.gain,
        constraints=LinearConstraint(model.matrix, -np.inf, model.upper),
        integrality=model.integrality,
        bounds=Bounds(0.0, model.column_upper),
        options={
            "mip_rel_gap": MIP_REL_GAP,
            "time_limit": np.inf if time_limit is None else float(time_limit),
            "presolve": True,
            **({} if node_limit is None else {"node_limit": int(node_limit)}),
        },
    )
    if res.x is None:  # stopped before any incumbent: nothing is accepted, the gap is total
        dual = res.get("mip_dual_bound")
        if dual is None or not np.isfinite(dual):  # every column at its most, capacity aside
            nx = model.blocks.size
            qty = book.div_qty[model.bids]
            bound = float(model.gain[:nx] @ model.column_upper[:nx] + model.gain[nx:] @ qty)
        else:
            bound = -float(dual)
        return Allocation(block_site, alloc, 0.0, max(bound, 0.0), False)
    nx = model.blocks.size
    taken = np.rint(res.x[:nx]).astype(np.int64)
    _place(block_site, model.group, model.blocks, model.block_sites, taken)
    y = np.maximum(res.x[nx:], 0.0)
    np.add.at(alloc, (model.bids, model.bid_sites), y)
    alloc = np.minimum(alloc, book.div_qty[:, None])
    # the incumbent's welfare from the rounded solution (what is settled)
    welfare = float(model.gain[:nx] @ taken + model.gain[nx:] @ y)
    dual = res.get("mip_dual_bound")
    bound = max(welfare, -float(res.fun if dual is None else dual))
    return Allocation(block_site, alloc, welfare, bound, res.status == 0)


def _place(block_site, group, reps, sites, taken) -> None:
    """Give the blocks of each group the sites its integer columns chose, in block order."""
    members = np.argsort(group, kind="stable")  # blocks of each group together, in order
    starts = np.searchsorted(group[members], reps)
    order = np.lexsort((sites, reps))
    used: dict[int, int] = {}
    for k in order[taken[order] > 0]:
        g = int(reps[k])
        first = used.get(g, 0)
        pos = starts[k] + first
        block_site[members[pos : pos + taken[k]]] = sites[k]
        used[g] = first + int(taken[k])


def paradoxically_rejected(book: BlockOrderBook, block_site: np.ndarray, price: np.ndarray) -> int:
    """Rejected blocks whose limit exceeds the average price of their window at a site they
    could use (they would have gained at these prices)."""
    blocks, sites = block_pairs(book)
    out = block_site[blocks] < 0
    blocks, sites = blocks[out], sites[out]
    if blocks.size == 0:
        return 0
    cum = np.concatenate([np.zeros((book.n_sites, 1)), np.cumsum(price, axis=1)], axis=1)
    start, end = book.block_start[blocks], book.block_start[blocks] + book.block_periods[blocks]
    window = cum[sites, end] - cum[sites, start]
    value = book.block_periods[blocks] * book.block_limit[blocks]
    reserve = window_reserve(book)[blocks, sites]
    gains = (value > window + 1e-9 * np.maximum(value, 1.0)) & (value > reserve)
    return int(np.unique(blocks[gains]).size)


SPLIT_CELLS = 20_000  # books with more (site, period) cells x bids are solved per region


def _worth_splitting(book: BlockOrderBook) -> bool:
    """Regions share no bid, so solving each alone is exact; it pays on large books only (each
    solve has a fixed cost)."""
    bids = book.block_gpus.size + book.div_qty.size
    return np.unique(book.site_region).size > 1 and book.capacity.size * bids > SPLIT_CELLS


def _whole(book: BlockOrderBook):
    return (
        np.arange(book.n_sites),
        np.arange(book.block_gpus.size),
        np.arange(book.div_qty.size),
    )


def _regions(book: BlockOrderBook):
    """(sites, blocks, divisible bids) of each region that has sites."""
    out = []
    for r in np.unique(book.site_region):
        sites = np.flatnonzero(book.site_region == r)
        blocks = np.flatnonzero(book.block_region == r)
        bids = np.flatnonzero(book.div_region == r)
        out.append((sites, blocks, bids))
    return out


def _sub_book(book: BlockOrderBook, sites, blocks, bids) -> BlockOrderBook:
    """The part of ``book`` in one region, with sites renumbered from 0."""
    local = np.full(book.n_sites, -1, dtype=np.int64)
    local[sites] = np.arange(sites.size)
    bs, ds = book.block_site[blocks], book.div_site[bids]
    return BlockOrderBook(
        capacity=book.capacity[sites],
        reserve=book.reserve[sites],
        site_region=np.zeros(sites.size, dtype=np.int64),
        site_owner=book.site_owner[sites],
        site_blocks=book.site_blocks[sites],
        period_hours=book.period_hours,
        div_qty=book.div_qty[bids],
        div_limit=book.div_limit[bids],
        div_period=book.div_period[bids],
        div_site=np.where(ds >= 0, local[np.maximum(ds, 0)], -1),
        div_region=np.zeros(bids.size, dtype=np.int64),
        div_owner=book.div_owner[bids],
        block_gpus=book.block_gpus[blocks],
        block_periods=book.block_periods[blocks],
        block_start=book.block_start[blocks],
        block_limit=book.block_limit[blocks],
        block_site=np.where(bs >= 0, local[np.maximum(bs, 0)], -1),
        block_region=np.zeros(blocks.size, dtype=np.int64),
        block_owner=book.block_owner[blocks],
    )
