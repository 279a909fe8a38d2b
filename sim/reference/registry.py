"""Reference clearing mechanisms by name, so that tests can run one instance through all of them.

Every entry takes a divisible `OrderBook` (a mechanism on another kind of book gets the book
embedded by that book's `from_divisible`) and returns a result with the arrays
`sim.markets.registry` documents. The names are disjoint from `sim.markets.registry.MECHANISMS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from sim.markets.orders import OrderBook
from sim.reference.block_auction import block_auction
from sim.reference.block_book import BlockAuctionResult, BlockOrderBook
from sim.reference.block_milp import block_auction_reference
from sim.reference.continuous_double_auction import continuous_double_auction
from sim.reference.divisible_lp import uniform_price_reference


class Clearing(Protocol):
    """What every clearing result exposes, indexed like the book's buy and sell orders."""

    @property
    def buy_filled(self) -> np.ndarray: ...
    @property
    def buy_payment(self) -> np.ndarray: ...
    @property
    def sell_filled(self) -> np.ndarray: ...
    @property
    def sell_revenue(self) -> np.ndarray: ...
    @property
    def welfare(self) -> float: ...


def _on_block_book(
    clear: Callable[[BlockOrderBook], BlockAuctionResult],
) -> Callable[[OrderBook], BlockAuctionResult]:
    def run(book: OrderBook) -> BlockAuctionResult:
        return clear(BlockOrderBook.from_divisible(book))

    run.__doc__ = f"`{clear.__name__}` on the divisible book embedded as a block book."
    return run


REFERENCES: dict[str, Callable[[OrderBook], Clearing]] = {
    "uniform_price_lp": uniform_price_reference,
    "block_auction": _on_block_book(block_auction),
    "block_auction_milp": _on_block_book(block_auction_reference),
    "continuous_double_auction": continuous_double_auction,
}
