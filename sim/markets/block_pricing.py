"""Prices per (site, period) for a fixed block-auction allocation.

With indivisible blocks, prices that clear the market exactly may not exist. The rule, that of
European day-ahead market coupling for block orders (paradoxically accepted blocks are
forbidden, paradoxically rejected ones allowed), is an LP on the fixed allocation that

* never charges an accepted bid more than its limit (hard constraints: each cell's price is at
  most the limit of every divisible bid served there, and an accepted block's average price
  over its window is at most its limit) and never pays a seller less than its reserve
  (p >= reserve), so no block is paradoxically accepted;
* prices the divisible market on the capacity the blocks leave: it minimizes, for each
  unserved divisible GPU-hour, how much it would have gained at the cheapest eligible site at
  these prices, plus (p - reserve) on capacity left unsold; so a cell with unsold capacity is
  priced at its reserve and a cell where divisible demand is rationed at the limit of the
  marginal unserved bid;
* among such prices, takes the lowest (a tie-break of weight 1e-6 on price times capacity).

Rejected blocks do not enter the prices: a block rejected although its limit exceeds the
average price of its window at some site is *paradoxically rejected*, and
`block_auction.paradoxically_rejected` counts these. When the allocation is a competitive
equilibrium (e.g. divisible bids only) the regret is zero and the prices clear the market.
Prices equal to the reserve always satisfy the hard constraints, because the allocation only
serves bids whose limit covers the reserve, so the LP is always feasible. Every buyer pays the
cell price for every GPU-hour it uses and every seller receives it, so money balances exactly.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from sim.markets.block_book import BlockOrderBook, eligible_pairs

TIE_BREAK = 1e-6


def _window_cells(book: BlockOrderBook, blocks: np.ndarray, sites: np.ndarray):
    """(row, cell) entries: row i lists the cells of block blocks[i]'s window at sites[i]."""
    periods = book.block_periods[blocks]
    row = np.repeat(np.arange(blocks.size), periods)
    offset = np.arange(periods.sum()) - np.repeat(np.cumsum(periods) - periods, periods)
    cell = np.repeat(sites, periods) * book.n_periods + book.block_start[blocks][row] + offset
    return row, cell


def _rows(row, col, value, n_rows, n_cols) -> sparse.csr_matrix:
    return sparse.csr_matrix((value, (row, col)), shape=(n_rows, n_cols))


def _accepted_blocks(book: BlockOrderBook, block_site: np.ndarray):
    """Hard rows: sum of p over the window <= D * limit, for every accepted block."""
    blocks = np.flatnonzero(block_site >= 0)
    row, cell = _window_cells(book, blocks, block_site[blocks])
    cells = _rows(row, cell, np.ones(row.size), blocks.size, book.capacity.size)
    return cells, book.block_periods[blocks] * book.block_limit[blocks]


def _regret_rows(cells, owner, rhs, weight_of):
    """Attach one regret variable per distinct owner: cells - regret[owner] <= rhs."""
    owners, column = np.unique(owner, return_inverse=True)
    regret = _rows(np.arange(owner.size), column, -np.ones(owner.size), owner.size, owners.size)
    return cells, regret, rhs, weight_of(owners)


def _divisible_regrets(book: BlockOrderBook, unfilled: np.ndarray):
    """-p[s, t] - regret_d <= -limit_d for each unserved divisible bid at each eligible site."""
    bids, sites = eligible_pairs(book.div_site, book.div_region, book.site_region)
    gain = book.div_limit[bids] - book.reserve[sites, book.div_period[bids]]
    keep = (unfilled[bids] > 0) & (gain > 0)
    bids, sites = bids[keep], sites[keep]
    cell = sites * book.n_periods + book.div_period[bids]
    cells = _rows(np.arange(bids.size), cell, -np.ones(bids.size), bids.size, book.capacity.size)
    return _regret_rows(
        cells, bids, -book.div_limit[bids], lambda d: unfilled[d] * book.period_hours
    )


def _price_bounds(book: BlockOrderBook, alloc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p >= reserve everywhere; p <= limit of every divisible bid served in the cell."""
    upper = np.full(book.capacity.shape, np.inf)
    bids, sites = np.nonzero(alloc > 0)
    np.minimum.at(upper, (sites, book.div_period[bids]), book.div_limit[bids])
    lower = book.reserve
    return lower.ravel(), np.maximum(upper, lower).ravel()


def block_prices(
    book: BlockOrderBook, block_site: np.ndarray, alloc: np.ndarray, sold: np.ndarray
) -> np.ndarray:
    """Prices per (site, period) for the allocation (rule in the module docstring)."""
    unfilled = np.maximum(book.div_qty - alloc.sum(axis=1), 0.0)
    unfilled[unfilled <= 1e-9 * np.maximum(book.div_qty, 1.0)] = 0.0
    hard, hard_rhs = _accepted_blocks(book, block_site)
    d_cells, d_regret, d_rhs, d_weight = _divisible_regrets(book, unfilled)
    n_d = d_weight.size
    a_ub = sparse.bmat([[hard, None], [d_cells, d_regret]], format="csr")
    unsold = np.maximum(book.capacity - sold, 0.0).ravel()
    cell_cost = (unsold + TIE_BREAK * (book.capacity.ravel() + 1.0)) * book.period_hours
    lower, upper = _price_bounds(book, alloc)
    n_regret = n_d
    bounds = np.column_stack(
        [
            np.concatenate([lower, np.zeros(n_regret)]),
            np.concatenate([upper, np.full(n_regret, np.inf)]),
        ]
    )
    # scipy-stubs declare neither a sparse A_ub nor an (n, 2) array of bounds; linprog takes both
    result = linprog(  # type: ignore[call-overload]
        np.concatenate([cell_cost, d_weight]),
        A_ub=a_ub,
        b_ub=np.concatenate([hard_rhs, d_rhs]),
        bounds=bounds,
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"HiGHS failed on the block pricing LP: {result.message}")
    n_cells = book.capacity.size
    return np.clip(result.x[:n_cells], lower, upper).reshape(book.capacity.shape)
