"""Clearing mechanisms by the name a scenario file uses for them.

One entry per mechanism a scenario can choose (the `mechanism` fields of `sim.schema`; a test
keeps the two lists equal). Every entry has the shape `mechanism(book) -> result` on a divisible
`OrderBook`; the result exposes `price`, `buy_filled`, `buy_payment`, `sell_filled`,
`sell_revenue` (indexed like the book's `buy_limit`/`buy_qty` and `sell_reserve`/`sell_qty`)
and `welfare`. Exact references and other mechanisms no scenario reaches live in
`sim.reference`, with a registry of their own.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.markets.block_auction import block_auction
from sim.markets.block_book import BlockAuctionResult, BlockOrderBook
from sim.markets.forward import clear_forward_session
from sim.markets.orders import ClearingResult, OrderBook
from sim.markets.uniform_price import uniform_price

Mechanism = Callable[[OrderBook], ClearingResult]


def block_auction_on(book: OrderBook | BlockOrderBook) -> BlockAuctionResult:
    """The exact block auction; a divisible book is embedded as a block book first (each
    product a region of one period), where the auction faces the uniform-price problem."""
    if isinstance(book, OrderBook):
        book = BlockOrderBook.from_divisible(book)
    return block_auction(book)


MECHANISMS: dict[str, Mechanism] = {
    "uniform_price": uniform_price,
    "block_auction": block_auction_on,  # type: ignore[dict-item]
    "forward_lots": clear_forward_session,
}


def get_mechanism(name: str) -> Mechanism:
    """The mechanism called `name`, or a ValueError listing the names allowed."""
    if name not in MECHANISMS:
        allowed = ", ".join(sorted(MECHANISMS))
        raise ValueError(f'unknown market mechanism "{name}"; allowed: {allowed}.')
    return MECHANISMS[name]
