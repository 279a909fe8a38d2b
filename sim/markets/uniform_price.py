"""Uniform-price call auction for divisible orders, one clearing per product.

Rules (the contract the tests check):

* Volume. Each product trades the largest quantity Q at which the marginal bought unit is worth
  at least the marginal sold unit, i.e. Q = max over price levels p of min(D(p), S(p)), where
  D(p) is the quantity bid at limits >= p and S(p) the quantity offered at reserves <= p. This
  is the welfare optimum of the linear program in `reference.py`; zero-surplus trades at a tie
  are executed, so among welfare-optimal allocations the largest volume is chosen.
* Allocation. Orders strictly better than the marginal price level are filled in full; orders at
  the marginal level share what is left pro rata to their quantities, so splitting or merging
  orders at one price changes nothing and submission time does not matter.
* Price. The set of prices that clear the market (every filled buyer's limit >= p, every filled
  seller's reserve <= p, no rejected order would trade at p) is an interval [lo, hi]; the price
  is its midpoint (a k = 1/2 double auction). A product with no trade has price NaN.

Consequences: individual rationality, budget balance (one price per product) and quantity
balance hold by construction. The work is one argsort plus O(n) passes, with no Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.markets.orders import ClearingResult, OrderBook, settle


def uniform_price(book: OrderBook) -> ClearingResult:
    """Clear every product of `book` at its own uniform price (rules in the module docstring)."""
    price, buy_filled, sell_filled = clear_divisible(
        book.buy_qty,
        book.buy_limit,
        book.buy_product,
        book.sell_qty,
        book.sell_reserve,
        book.sell_product,
        book.n_products,
    )
    return settle(book, price, buy_filled, sell_filled)


@dataclass(frozen=True)
class _Runs:
    """Orders sorted by (product, price), grouped into runs of equal product and price."""

    order: np.ndarray  # permutation that sorts the merged orders
    run_of: np.ndarray  # run of each sorted order
    price: np.ndarray  # price of each run
    buy_qty: np.ndarray  # quantity bid in each run
    sell_qty: np.ndarray  # quantity offered in each run
    product_of: np.ndarray  # dense index of the run's product among products present
    first: np.ndarray  # first run of each present product
    end: np.ndarray  # one past the last run of each present product
    product: np.ndarray  # product id of each present product


def clear_divisible(
    buy_qty: np.ndarray,
    buy_limit: np.ndarray,
    buy_product: np.ndarray,
    sell_qty: np.ndarray,
    sell_reserve: np.ndarray,
    sell_product: np.ndarray,
    n_products: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Array core of `uniform_price`: returns (price per product, buy fills, sell fills).

    Kept free of dataclasses so the block auction can call it on many small products cheaply.
    """
    nb = buy_qty.size
    price = np.full(n_products, np.nan)
    if nb == 0 or sell_qty.size == 0:
        return price, np.zeros(nb), np.zeros(sell_qty.size)
    is_buy = np.arange(nb + sell_qty.size) < nb
    qty = np.concatenate([buy_qty, sell_qty])
    runs = _group_runs(
        np.concatenate([buy_limit, sell_reserve]),
        np.concatenate([buy_product, sell_product]),
        is_buy,
        qty,
        n_products,
    )
    demand, demand_next, supply, supply_prev = _step_curves(runs)
    volume = np.maximum.reduceat(np.minimum(demand, supply), runs.first)
    marginal = _marginal_runs(runs, demand, supply, volume)
    fill = _fills(runs, marginal, volume, demand, demand_next, supply, supply_prev, is_buy, qty)
    traded = volume > 0
    price[runs.product[traded]] = _midpoint_price(runs, marginal, volume, demand, supply)[traded]
    return price, fill[:nb], fill[nb:]


def _group_runs(price, product, is_buy, qty, n_products) -> _Runs:
    """Sort once by price, then stably by product (a radix sort for small product ids)."""
    order = np.argsort(price)
    if n_products > 1:
        key = product[order].astype(np.uint16 if n_products < 2**16 else np.int64)
        order = order[np.argsort(key, kind="stable")]
    p, g, q, b = price[order], product[order], qty[order], is_buy[order]
    new_run = np.ones(p.size, dtype=bool)
    new_run[1:] = (p[1:] != p[:-1]) | (g[1:] != g[:-1])
    starts = np.flatnonzero(new_run)
    run_product = g[starts]
    new_product = np.ones(starts.size, dtype=bool)
    new_product[1:] = run_product[1:] != run_product[:-1]
    first = np.flatnonzero(new_product)
    return _Runs(
        order=order,
        run_of=np.cumsum(new_run) - 1,
        price=p[starts],
        buy_qty=np.add.reduceat(np.where(b, q, 0.0), starts),
        sell_qty=np.add.reduceat(np.where(b, 0.0, q), starts),
        product_of=np.cumsum(new_product) - 1,
        first=first,
        end=np.append(first[1:], starts.size),
        product=run_product[first],
    )


def _step_curves(runs: _Runs):
    """Demand D(p) (bids at >= p) and supply S(p) (offers at <= p) at every run's price.

    Segmented sums come from one global cumulative sum; a stretch with no orders adds exact
    zeros, so a product with nothing bid above some price gets exactly zero demand there.
    """
    cum_sell = np.concatenate([[0.0], np.cumsum(runs.sell_qty)])
    cum_buy_from = np.concatenate([np.cumsum(runs.buy_qty[::-1])[::-1], [0.0]])
    index = np.arange(runs.price.size)
    base = cum_sell[runs.first][runs.product_of]
    tail = cum_buy_from[runs.end][runs.product_of]
    supply = cum_sell[index + 1] - base
    supply_prev = cum_sell[index] - base
    demand = cum_buy_from[index] - tail
    demand_next = cum_buy_from[index + 1] - tail
    return demand, demand_next, supply, supply_prev


def _marginal_runs(runs: _Runs, demand, supply, volume) -> tuple[np.ndarray, np.ndarray]:
    """The highest run whose demand covers the volume and the lowest whose supply covers it."""
    v = volume[runs.product_of]
    n_covered = np.add.reduceat((demand >= v).astype(np.int64), runs.first)
    n_short = np.add.reduceat((supply < v).astype(np.int64), runs.first)
    return runs.first + n_covered - 1, runs.first + n_short


def _fills(runs, marginal, volume, demand, demand_next, supply, supply_prev, is_buy, qty):
    """Full fills above the marginal level, pro-rata fills at it, nothing below."""
    buy_run, sell_run = marginal
    traded = volume > 0
    above = demand_next[buy_run]
    below = supply_prev[sell_run]
    buy_share = np.divide(
        volume - above, demand[buy_run] - above, where=traded, out=np.zeros(volume.size)
    )
    sell_share = np.divide(
        volume - below, supply[sell_run] - below, where=traded, out=np.zeros(volume.size)
    )
    run = runs.run_of
    k = runs.product_of[run]
    b = is_buy[runs.order]
    buy_part = np.where(run > buy_run[k], 1.0, np.where(run == buy_run[k], buy_share[k], 0.0))
    sell_part = np.where(run < sell_run[k], 1.0, np.where(run == sell_run[k], sell_share[k], 0.0))
    part = np.where(b, buy_part, sell_part) * traded[k]
    fill = np.empty(qty.size)
    fill[runs.order] = qty[runs.order] * part
    return fill


def _midpoint_price(runs: _Runs, marginal, volume, demand, supply) -> np.ndarray:
    """Midpoint of [lo, hi]: lo is the dearer of the marginal offer and the best rejected bid,
    hi the cheaper of the marginal bid and the cheapest rejected offer."""
    buy_run, sell_run = marginal
    n = runs.price.size
    index = np.arange(n)
    next_sell = np.minimum.accumulate(np.where(runs.sell_qty > 0, index, n)[::-1])[::-1]
    next_sell = np.append(next_sell, n)  # next_sell[r + 1]: first run after r with an offer
    prev_buy = np.maximum.accumulate(np.where(runs.buy_qty > 0, index, -1))
    prev_buy = np.concatenate([[-1], prev_buy])  # prev_buy[r]: last run before r with a bid
    rejected_sell = np.where(volume < supply[sell_run], sell_run, next_sell[sell_run + 1])
    rejected_buy = np.where(volume < demand[buy_run], buy_run, prev_buy[buy_run])
    rejected_sell_price = np.where(
        rejected_sell < runs.end, runs.price[np.minimum(rejected_sell, n - 1)], np.inf
    )
    rejected_buy_price = np.where(
        rejected_buy >= runs.first, runs.price[np.maximum(rejected_buy, 0)], -np.inf
    )
    hi = np.minimum(runs.price[buy_run], rejected_sell_price)
    lo = np.maximum(runs.price[sell_run], rejected_buy_price)
    return (lo + hi) / 2
