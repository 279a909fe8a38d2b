"""Clearing mechanisms by the name a scenario file uses for them.

Every entry has the same shape: `mechanism(book) -> result`, where the book is the dataclass in
`BOOK_TYPES[name]` and the result exposes `buy_filled`, `buy_payment`, `sell_filled`,
`sell_revenue` (indexed like the book's `buy_limit`/`buy_qty` and `sell_reserve`/`sell_qty`) and
`welfare`. `book_for(name, book)` turns a divisible `OrderBook` into the book a mechanism takes,
so one instance can be run through all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.markets.block_auction import block_auction
from sim.markets.block_book import BlockOrderBook
from sim.markets.continuous_double_auction import continuous_double_auction
from sim.markets.forward import clear_forward_session
from sim.markets.orders import OrderBook
from sim.markets.reference import block_auction_reference, uniform_price_reference
from sim.markets.uniform_price import uniform_price

MECHANISMS: dict[str, Callable[[Any], Any]] = {
    "uniform_price": uniform_price,
    "uniform_price_lp": uniform_price_reference,
    "block_auction": block_auction,
    "block_auction_milp": block_auction_reference,
    "continuous_double_auction": continuous_double_auction,
    "forward_lots": clear_forward_session,
}

BOOK_TYPES: dict[str, type] = {
    "uniform_price": OrderBook,
    "uniform_price_lp": OrderBook,
    "block_auction": BlockOrderBook,
    "block_auction_milp": BlockOrderBook,
    "continuous_double_auction": OrderBook,
    "forward_lots": OrderBook,
}


def get_mechanism(name: str) -> Callable[[Any], Any]:
    """The mechanism called `name`, or a ValueError listing the names allowed."""
    if name not in MECHANISMS:
        allowed = ", ".join(sorted(MECHANISMS))
        raise ValueError(f'unknown market mechanism "{name}"; allowed: {allowed}.')
    return MECHANISMS[name]


def book_for(name: str, book: OrderBook):
    """The divisible `book` in the form mechanism `name` takes."""
    get_mechanism(name)
    return BOOK_TYPES[name].from_divisible(book)
