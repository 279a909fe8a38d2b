"""Exact reference for divisible books: the welfare-maximizing LP, solved with HiGHS.

It is slow next to `sim.markets.uniform_price`, and exists so that tests and benchmarks can
compare a mechanism's welfare and volume with the true optimum of the same instance.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

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
