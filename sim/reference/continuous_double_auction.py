"""Continuous double auction: a limit-order book with price-time priority.

An incoming order trades at once against the best resting orders on the other side for as long
as prices cross, always at the resting order's price; whatever is left rests in the book. The
book is inherently sequential, so `LimitOrderBook` is a small mutable object; the registry's
`continuous_double_auction` wraps it as a pure function of an `OrderBook`, replaying the orders
in submission-time order, one book per product.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from sim.markets.orders import ClearingResult, OrderBook


@dataclass(frozen=True)
class Fill:
    """One trade: the resting order it hit, the quantity and the (resting) price."""

    resting_id: int
    qty: float
    price: float


class LimitOrderBook:
    """Bids and asks in two heaps; cancelled or filled orders are dropped lazily.

    Order ids must be unique for the life of the book (a cancelled id is never reused), since
    a stale heap entry is recognised by its id having no remaining quantity.
    """

    def __init__(self) -> None:
        self._bids: list[tuple[float, int, int]] = []  # (-price, arrival, id)
        self._asks: list[tuple[float, int, int]] = []  # (price, arrival, id)
        self._remaining: dict[int, float] = {}
        self._arrivals = 0

    def submit(self, order_id: int, is_buy: bool, qty: float, price: float) -> list[Fill]:
        """Match the order against the other side, rest any remainder, return the fills."""
        fills = []
        opposite = self._asks if is_buy else self._bids
        while qty > 0 and self._clean_top(opposite):
            key, _, resting = opposite[0]
            resting_price = key if is_buy else -key
            if (resting_price > price) if is_buy else (resting_price < price):
                break
            traded = min(qty, self._remaining[resting])
            fills.append(Fill(resting, traded, resting_price))
            qty -= traded
            self._remaining[resting] -= traded
        if qty > 0:
            self._remaining[order_id] = qty
            side = self._bids if is_buy else self._asks
            heapq.heappush(side, (-price if is_buy else price, self._arrivals, order_id))
            self._arrivals += 1
        return fills

    def cancel(self, order_id: int) -> None:
        self._remaining.pop(order_id, None)

    def best(self, is_buy: bool) -> float | None:
        """Best resting bid (is_buy) or ask, or None if that side is empty."""
        side = self._bids if is_buy else self._asks
        if not self._clean_top(side):
            return None
        return -side[0][0] if is_buy else side[0][0]

    def _clean_top(self, heap: list) -> bool:
        while heap and self._remaining.get(heap[0][2], 0.0) <= 0:
            self._remaining.pop(heapq.heappop(heap)[2], None)
        return bool(heap)


def continuous_double_auction(book: OrderBook) -> ClearingResult:
    """Replay the book's orders in submission order through one limit-order book per product.

    Buys precede sells at equal times. The reported price of a product is the volume-weighted
    average of its trades (NaN if none); each fill pays the resting order's price.
    """
    nb, ns = book.buy_qty.size, book.sell_qty.size
    times = np.concatenate([book.buy_time, book.sell_time])
    filled, paid = np.zeros(nb + ns), np.zeros(nb + ns)
    books = [LimitOrderBook() for _ in range(book.n_products)]
    qty = np.concatenate([book.buy_qty, book.sell_qty])
    limit = np.concatenate([book.buy_limit, book.sell_reserve])
    product = np.concatenate([book.buy_product, book.sell_product])
    for i in np.argsort(times, kind="stable").tolist():
        for fill in books[product[i]].submit(i, i < nb, float(qty[i]), float(limit[i])):
            for order in (i, fill.resting_id):
                filled[order] += fill.qty
                paid[order] += fill.qty * fill.price
    volume = np.bincount(book.buy_product, filled[:nb], book.n_products)
    money = np.bincount(book.buy_product, paid[:nb], book.n_products)
    price = np.divide(money, volume, out=np.full(book.n_products, np.nan), where=volume > 0)
    welfare = float(book.buy_limit @ filled[:nb] - book.sell_reserve @ filled[nb:])
    return ClearingResult(price, volume, filled[:nb], filled[nb:], paid[:nb], paid[nb:], welfare)
