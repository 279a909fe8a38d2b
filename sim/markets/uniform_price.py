"""Uniform-price call auction for divisible orders, one clearing per product.

Rules (the contract the tests check):

* Volume. Each product trades the largest quantity Q at which the marginal bought unit is worth
  at least the marginal sold unit, i.e. Q = max over price levels p of min(D(p), S(p)), where
  D(p) is the quantity bid at limits >= p and S(p) the quantity offered at reserves <= p. This
  is the welfare optimum of the linear program in `sim/reference/divisible_lp.py`; zero-surplus
  trades at a tie are executed, so among welfare-optimal allocations the largest volume is
  chosen.
* Allocation. Orders strictly better than the marginal price level are filled in full; orders at
  the marginal level share what is left pro rata to their quantities, so splitting or merging
  orders at one price changes nothing and submission time does not matter.
* Price. The set of prices that clear the market (every filled buyer's limit >= p, every filled
  seller's reserve <= p, no rejected order would trade at p) is an interval [lo, hi]; the price
  is its midpoint (a k = 1/2 double auction). A product with no trade has price NaN.

Consequences: individual rationality, budget balance (one price per product) and quantity
balance hold by construction.

Cost. One argsort of all orders by (product, price), then a fixed number of O(n) passes and of
O(number of products) steps, with no Python loop: the clearing is meant to stay within a small
factor of a bare argsort of the same prices (see `benchmarks/bench_clearing.py`).
"""

from __future__ import annotations

import math

import numpy as np

from sim.markets.orders import ClearingResult, OrderBook

# Row offsets that turn the counts of `_clear` into run indices (see there).
_COUNT_BASE = np.array([[-1], [-1], [0], [0]])


def uniform_price(book: OrderBook) -> ClearingResult:
    """Clear every product of `book` at its own uniform price (rules in the module docstring)."""
    buy_limit, sell_reserve = book.buy_limit, book.sell_reserve
    price, paid, fill, product = _clear(
        book.buy_qty,
        buy_limit,
        book.buy_product,
        book.sell_qty,
        sell_reserve,
        book.sell_product,
        book.n_products,
    )
    nb = buy_limit.size
    buy_filled, sell_filled = fill[:nb], fill[nb:]
    money = fill * (paid[0] if product is None else paid.take(product))
    return ClearingResult(
        price=price,
        volume=np.bincount(book.buy_product, buy_filled, book.n_products),
        buy_filled=buy_filled,
        sell_filled=sell_filled,
        buy_payment=money[:nb],
        sell_revenue=money[nb:],
        welfare=float(buy_limit @ buy_filled - sell_reserve @ sell_filled),
    )


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
    price, _, fill, _ = _clear(
        buy_qty, buy_limit, buy_product, sell_qty, sell_reserve, sell_product, n_products
    )
    nb = buy_qty.size
    return price, fill[:nb], fill[nb:]


def clear_single(
    buy_qty: np.ndarray,
    buy_limit: np.ndarray,
    sell_qty: np.ndarray,
    sell_reserve: np.ndarray,
    memo: dict | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """`clear_divisible` for a book of one product: returns (price, NaN where nothing trades;
    buy fills; sell fills), the same numbers as the general routine (the same sort and the same
    sums, in the same order), with its per-product steps done on scalars.

    A caller that clears books whose prices often repeat (only quantities change) may pass the
    same ``memo`` dict each time: the sort of the prices is then kept while they are equal."""
    nb = buy_qty.size
    n = nb + sell_qty.size
    if nb == 0 or n == nb:
        return math.nan, np.zeros(nb), np.zeros(n - nb)
    price = np.concatenate((buy_limit, sell_reserve))
    last = memo.get("sort") if memo is not None else None
    if last is not None and last[0].size == n and (last[0] == price).all():
        _, order, sorted_price, bounds = last
    else:
        order, sorted_price, bounds = _runs_of(price)
        if memo is not None:
            memo["sort"] = (price, order, sorted_price, bounds)
    # Bids (negated) in row 0, offers in row 1: the real and imaginary parts of `_clear`, whose
    # complex cumulative sum adds each part on its own.
    qty = np.zeros((2, n))
    np.negative(buy_qty, out=qty[0, :nb])
    qty[1, nb:] = sell_qty
    cum = np.empty((2, n + 1))
    cum[:, 0] = 0.0
    np.add.accumulate(qty.take(order, axis=1), axis=1, out=cum[:, 1:])
    runs = bounds.size - 1
    bid, offer = cum.take(bounds, axis=1)
    total = bid[runs]
    bid -= total
    # per run: bids at >= its price (non-increasing: running sums of bids and one subtraction
    # are monotone), offers at <= it (non-decreasing)
    demand, supply = bid[:-1], offer[1:]
    volume = float(np.maximum.reduce(np.minimum(demand, supply)))
    if not volume > 0:
        return math.nan, np.zeros(nb), np.zeros(n - nb)
    last = runs - 1
    # runs of the marginal bid, the dearest rejected bid, the marginal offer and the cheapest
    # rejected offer, clamped to the runs as in `_clear`; the curves are monotone, so the runs
    # with demand >= volume (> volume) and supply < volume (<= volume) are counted by bisection
    falling = np.negative(demand)
    m0 = min(max(int(falling.searchsorted(-volume, "right")) - 1, 0), last)
    m1 = min(max(int(falling.searchsorted(-volume, "left")) - 1, 0), last)
    m2 = min(int(supply.searchsorted(volume, "left")), last)
    m3 = min(int(supply.searchsorted(volume, "right")), last)
    at0 = float(sorted_price[bounds[m0]])
    at1 = float(sorted_price[bounds[m1]])
    at2 = float(sorted_price[bounds[m2]])
    at3 = float(sorted_price[bounds[m3]])
    paid = (max(at1, at2) + min(at0, at3)) * 0.5
    buy_share = (volume - bid[m0 + 1]) / (bid[m0] - bid[m0 + 1])
    sell_share = (volume - offer[m2]) / (offer[m2 + 1] - offer[m2])
    buy_fill = buy_share * (buy_limit == at0)
    buy_fill += buy_limit > at0
    buy_fill *= buy_qty
    sell_fill = sell_share * (sell_reserve == at2)
    sell_fill += sell_reserve < at2
    sell_fill *= sell_qty
    return paid, buy_fill, sell_fill


def _runs_of(price: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(argsort of ``price``, the sorted prices, bounds of the runs of equal prices)."""
    n = price.size
    order = price.argsort()
    sorted_price = price.take(order)
    edge = np.empty(n + 1, dtype=bool)
    np.not_equal(sorted_price[1:], sorted_price[:-1], out=edge[1:n])
    edge[0] = edge[n] = True
    return order, sorted_price, edge.nonzero()[0]


def _clear(buy_qty, buy_limit, buy_product, sell_qty, sell_reserve, sell_product, n_products):
    """(price per product with NaN where nothing trades, the same with 0 there, fills of the
    buys then the sells, product of every order or None for a single product)."""
    nb = buy_qty.size
    n = nb + sell_qty.size
    if nb == 0 or n == nb:
        return np.full(n_products, np.nan), np.zeros(n_products), np.zeros(n), None
    price = np.concatenate((buy_limit, sell_reserve))
    if n_products == 1:
        product = None
        order = price.argsort()
        sorted_price = price.take(order)
        ends = np.array([0, n])
    else:
        product = np.concatenate((buy_product, sell_product))
        ends = np.zeros(n_products + 1, dtype=np.intp)
        np.cumsum(np.bincount(product, minlength=n_products), out=ends[1:])
        order, sorted_price = _sort_by_product_and_price(price, product, n_products, ends)
    # Bids (negated) in the real part, offers in the imaginary part: one cumulative sum does both.
    qty = np.zeros(n, dtype=complex)
    np.negative(buy_qty, out=qty.real[:nb])
    qty.imag[nb:] = sell_qty
    cum = np.empty(n + 1, dtype=complex)
    cum[0] = 0.0
    np.cumsum(qty.take(order), out=cum[1:])
    # Runs: maximal stretches of one product and one price.
    edge = np.empty(n + 1, dtype=bool)
    np.not_equal(sorted_price[1:], sorted_price[:-1], out=edge[1:n])
    edge[ends] = True
    bounds = edge.nonzero()[0]
    runs = bounds.size - 1
    cum = cum.take(bounds)
    if product is None:
        run_end = np.array([0, runs])
        ref = complex(cum.real[runs], 0.0)
        count = runs
    else:
        run_end = bounds.searchsorted(ends)
        count = run_end[1:] - run_end[:-1]
        ref = np.empty(n_products, dtype=complex)
        cum.real.take(run_end[1:], out=ref.real)
        cum.imag.take(run_end[:-1], out=ref.imag)
        ref = ref.repeat(count)
    first = run_end[:-1]
    # curves[0]: bids at >= the run's price (real), offers strictly below it (imag);
    # curves[1]: bids strictly above it (real), offers at <= it (imag); per product.
    curves = np.empty((2, runs), dtype=complex)
    np.subtract(cum[:-1], ref, out=curves[0])
    np.subtract(cum[1:], ref, out=curves[1])
    demand, supply = curves[0].real, curves[1].imag
    # Volume: the largest min(demand, supply); zero pads the last product's segment.
    level = np.zeros(runs + 1)
    np.minimum(demand, supply, out=level[:runs])
    volume = np.maximum.reduceat(level, first)
    at = volume if product is None else volume.repeat(count)
    # Per product: runs with demand >= volume, > volume; with supply < volume, <= volume.
    tests = np.zeros((4, runs + 1), dtype=bool)
    np.greater_equal(demand, at, out=tests[0, :runs])
    np.greater(demand, at, out=tests[1, :runs])
    np.less(supply, at, out=tests[2, :runs])
    np.less_equal(supply, at, out=tests[3, :runs])
    # Runs of the marginal bid, the dearest rejected bid (clamped to the first run), the
    # marginal offer and the cheapest rejected offer (clamped to the last run).
    counts = np.add.reduceat(tests.view(np.uint8), first, axis=1, dtype=np.int32)
    marginal = counts + (first + _COUNT_BASE)
    np.maximum(marginal, first, out=marginal)
    np.minimum(marginal, run_end[1:] - 1, out=marginal)
    at_price = sorted_price.take(bounds.take(marginal), mode="clip")
    hi = np.minimum(at_price[0], at_price[3])
    lo = np.maximum(at_price[1], at_price[2])
    traded = volume > 0
    if product is not None and not count.all():
        traded &= count > 0
    paid = np.zeros(n_products)
    np.add(lo, hi, out=paid, where=traded)
    paid *= 0.5
    clearing = np.where(traded, paid, np.nan)
    # Shares of the marginal bid and offer runs: (volume - better) / (at the run - better).
    # As floats, curves[0, r].real is flat[2r], .imag flat[2r + 1]; curves[1] starts at 2 runs.
    row = 2 * runs
    flat = curves.view(float).reshape(-1)
    vals = flat.take(2 * marginal[::2] + np.array([[[0], [row + 1]], [[row], [1]]]))
    share = np.zeros((2, n_products))
    np.divide(volume - vals[1], vals[0] - vals[1], out=share, where=traded)
    # Thresholds: bids above the marginal bid price fill, offers below the marginal offer
    # price fill (offers are negated so both read "price > threshold").
    threshold = np.full((2, n_products), np.inf)
    np.copyto(threshold[0], at_price[0], where=traded)
    np.negative(at_price[2], out=threshold[1], where=traded)
    signed = price.copy()
    np.negative(signed[nb:], out=signed[nb:])
    if product is None:
        side = np.zeros(n, dtype=np.intp)
        side[nb:] = 1
    else:
        side = product.copy()
        side[nb:] += n_products
    limit = threshold.take(side)
    part = share.take(side)
    part *= signed == limit
    part += signed > limit
    part *= np.concatenate((buy_qty, sell_qty))
    return clearing, paid, part, product


def _sort_by_product_and_price(price, product, n_products, ends):
    """Argsort by (product, price): one argsort of price + product * step when that key keeps
    every product's prices in order, otherwise a lexsort."""
    # A power of two >= 4 max|price|, so that products occupy disjoint ranges of the key.
    exponent = math.frexp(max(float(price.max()), -float(price.min())))[1] + 2
    step = math.ldexp(1.0, exponent) if exponent < 1000 else math.inf
    if math.isfinite(step * n_products):
        key = product * step
        key += price
        order = key.argsort()
        sorted_price = price.take(order)
        descent = np.zeros(price.size + 1, dtype=bool)
        np.less(sorted_price[1:], sorted_price[:-1], out=descent[1:-1])
        descent[ends] = False
        if not descent.any():
            return order, sorted_price
    order = np.lexsort((price, product))
    return order, price.take(order)
