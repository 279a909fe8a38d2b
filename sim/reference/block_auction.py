"""Spot call auction with all-or-nothing block bids (the SPEC's spot market design).

Clearing happens in three steps, each in its own module:

1. `block_search`: choose the accepted blocks and their sites (greedy, then ejection-chain moves
   under threshold acceptance, each move judged on its exact welfare change);
2. `site_market`: serve divisible bids optimally from the capacity the blocks leave free;
3. `block_pricing`: prices per (site, period) from an LP on that fixed allocation, with hard
   individual-rationality constraints for every accepted bid and seller.

`block_milp.block_auction_reference` solves the same selection exactly as a MILP; the tests ask
this heuristic for at least 99% of that welfare on random instances. No scenario runs this
auction: the simulated spot market clears with `sim.markets.uniform_price` and places blocks
with `sim.channels.blocks`.
"""

from __future__ import annotations

import numpy as np

from sim.reference.block_book import (
    BlockAuctionResult,
    BlockOrderBook,
    block_usage,
    cells_sold,
    settle_blocks,
)
from sim.reference.block_pricing import block_prices
from sim.reference.block_search import BlockSearch
from sim.reference.site_market import SiteMarket
from sim.reference.site_welfare import SiteWelfare

MOVES_PER_BLOCK = 50
MIN_MOVES = 100


def block_auction(
    book: BlockOrderBook,
    seed: int = 0,
    iterations: int | None = None,
    patience: int | None = None,
) -> BlockAuctionResult:
    """Clear a spot session with block bids: accepted blocks, their sites, and prices.

    The search makes `iterations` moves (default: MOVES_PER_BLOCK per block bid, at least
    MIN_MOVES), or stops earlier after `patience` moves in a row without a new best state
    (default: never, since the threshold only falls to zero at the last move); `seed` fixes its random choices, so the result is a pure function of the
    arguments.
    """
    if iterations is None:
        iterations = max(MIN_MOVES, MOVES_PER_BLOCK * book.block_gpus.size)
    patience = iterations if patience is None else patience
    search = BlockSearch(book, SiteWelfare(book))
    block_site = search.run(np.random.default_rng(seed), iterations, patience)
    return clear_with_blocks(book, block_site)


def clear_with_blocks(
    book: BlockOrderBook, block_site: np.ndarray, market: SiteMarket | None = None
) -> BlockAuctionResult:
    """Serve divisible bids around a fixed block selection, price it and settle the money."""
    market = SiteMarket(book) if market is None else market
    alloc = market.allocate(book.capacity - block_usage(book, block_site))
    price = block_prices(book, block_site, alloc, cells_sold(book, block_site, alloc))
    return settle_blocks(book, block_site, alloc, price)
