"""Exact references solved with HiGHS: the LP for divisible books, the MILP for block books.

They are slow next to the mechanisms they check, and exist so that tests and benchmarks can
compare a mechanism's welfare and volume with the true optimum of the same instance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from sim.markets.block_auction import clear_with_blocks
from sim.markets.block_book import BlockAuctionResult, BlockOrderBook
from sim.markets.block_model import build_model
from sim.markets.orders import ClearingResult, OrderBook, settle


def _balance_matrix(book: OrderBook) -> sparse.csr_matrix:
    """Row k says: quantity bought in product k equals quantity sold in product k."""
    nb, ns = book.buy_qty.size, book.sell_qty.size
    rows = np.concatenate([book.buy_product, book.sell_product])
    values = np.concatenate([np.ones(nb), -np.ones(ns)])
    return sparse.csr_matrix((values, (rows, np.arange(nb + ns))), shape=(book.n_products, nb + ns))


def _solve(cost, book, a_ub=None, b_ub=None):
    bounds = np.column_stack([np.zeros(cost.size), np.concatenate([book.buy_qty, book.sell_qty])])
    result = linprog(
        cost,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=_balance_matrix(book),
        b_eq=np.zeros(book.n_products),
        bounds=bounds,
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"HiGHS failed on the divisible reference LP: {result.message}")
    return result


def _snap(x: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Round solver noise (HiGHS's feasibility tolerance is 1e-7) onto the bounds 0 and qty."""
    tol = 1e-7 * max(1.0, float(upper.max(initial=0.0)))
    x = np.clip(x, 0.0, upper)
    x = np.where(x < tol, 0.0, x)
    return np.where(upper - x < tol, upper, x)


def uniform_price_reference(book: OrderBook) -> ClearingResult:
    """Welfare-maximizing allocation of a divisible book, largest volume among the optima.

    Stage one maximizes welfare; its balance-row duals are competitive prices. Stage two keeps
    welfare at the optimum (to a 1e-12 relative tolerance) and maximizes volume, which is the
    tie-break `uniform_price` documents, so the two can be compared volume for volume.
    """
    nb = book.buy_qty.size
    if nb == 0 or book.sell_qty.size == 0:
        return settle(
            book, np.full(book.n_products, np.nan), np.zeros(nb), np.zeros(book.sell_qty.size)
        )
    gains = np.concatenate([book.buy_limit, -book.sell_reserve])
    first = _solve(-gains, book)
    best = -first.fun
    slack = 1e-12 * max(1.0, abs(best))
    volume_cost = -np.concatenate([np.ones(nb), np.zeros(book.sell_qty.size)])
    second = _solve(volume_cost, book, a_ub=-gains[None, :], b_ub=np.array([-(best - slack)]))
    fills = _snap(second.x, np.concatenate([book.buy_qty, book.sell_qty]))
    volume = np.bincount(book.buy_product, weights=fills[:nb], minlength=book.n_products)
    price = np.where(volume > 0, -first.eqlin.marginals, np.nan)
    return settle(book, price, fills[:nb], fills[nb:])


@dataclass(frozen=True)
class BlockOptimum:
    """Exact (or best found within the time limit) block selection of a `BlockOrderBook`."""

    block_site: np.ndarray
    welfare: float
    bound: float  # proven upper bound on welfare; equals `welfare` when solved to optimality
    optimal: bool


def block_auction_optimum(
    book: BlockOrderBook, time_limit: float | None = None, mip_rel_gap: float = 1e-7
) -> BlockOptimum:
    """Welfare-maximizing selection by MILP (HiGHS): binaries x[block, site], continuous
    y[bid, site]; capacity per cell, at most one site per block, at most qty per bid."""
    model = build_model(book)
    block_site = np.full(book.block_gpus.size, -1, dtype=np.int64)
    if model.gain.size == 0:
        return BlockOptimum(block_site, 0.0, 0.0, True)
    options = {"mip_rel_gap": mip_rel_gap}
    if time_limit is not None:
        options["time_limit"] = time_limit
    result = milp(
        -model.gain,
        constraints=LinearConstraint(model.matrix, -np.inf, model.upper),
        integrality=model.integrality,
        bounds=Bounds(0.0, model.column_upper),
        options=options,
    )
    if result.x is None:
        raise RuntimeError(f"HiGHS found no solution of the block MILP: {result.message}")
    chosen = result.x[: model.blocks.size] > 0.5
    block_site[model.blocks[chosen]] = model.block_sites[chosen]
    dual_bound = result.get("mip_dual_bound")
    bound = -(result.fun if dual_bound is None else dual_bound)
    return BlockOptimum(block_site, -float(result.fun), float(bound), result.status == 0)


def block_auction_reference(book: BlockOrderBook) -> BlockAuctionResult:
    """Exact block selection, then the same divisible service and pricing as `block_auction`."""
    return clear_with_blocks(book, block_auction_optimum(book).block_site)
