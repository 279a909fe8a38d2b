"""The book of one spot session under the exact block auction, and what its clearing sells.

Sellers are the sites' free GPUs per period (from now to the end of the longest block bid) at
the providers' reserve, and, with resale on, the contract holders' spare pool GPUs for this
period at their reserve (one pseudo-site that serves divisible bids only: a resold pool is not a
free block). Buyers are the steady load not covered by pools (a divisible bid for this period at
the buyer's value per GPU-hour) and each waiting owner's first run (a block: its GPUs at one site
for its length from now, at the run's value per GPU-hour capped by what its budget pays).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.markets.block_auction import block_auction
from sim.markets.block_book import BlockAuctionResult, BlockOrderBook


@dataclass(frozen=True)
class Heads:
    """Block bids: the waiting runs that bid, in the order of ``rows``."""

    rows: np.ndarray  # run rows
    gpus: np.ndarray
    periods: np.ndarray
    limit: np.ndarray  # $/GPU-h


@dataclass(frozen=True)
class ExactSession:
    result: BlockAuctionResult
    bidders: np.ndarray  # [divisible bid] buyer
    heads: Heads
    n_sites: int  # real sites (the pseudo-site of resale, if any, comes after them)
    holders: np.ndarray  # buyers whose resale is in the pseudo-site
    resale: np.ndarray  # [holder] GPUs offered

    @property
    def price_now(self) -> np.ndarray:
        """[site] price this period at the real sites."""
        return self.result.price[: self.n_sites, 0]

    @property
    def divisible_gpus(self) -> np.ndarray:
        """[divisible bid] GPUs bought for this period."""
        return self.result.divisible_alloc.sum(axis=1)

    @property
    def divisible_cost(self) -> np.ndarray:
        """[divisible bid] $ paid for this period."""
        return self.result.buy_payment[: self.bidders.size]

    @property
    def sold_per_site(self) -> np.ndarray:
        """[real site] GPUs sold to divisible bids this period."""
        return self.result.divisible_alloc[:, : self.n_sites].sum(axis=0)

    def site_revenue(self, hours: float) -> np.ndarray:
        """[real site] $ from divisible bids this period."""
        return self.sold_per_site * self.price_now * hours

    @property
    def resold(self) -> float:
        """GPUs of the pseudo-site sold this period."""
        a = self.result.divisible_alloc
        return float(a[:, self.n_sites :].sum()) if a.shape[1] > self.n_sites else 0.0

    def resale_income(self, hours: float) -> np.ndarray:
        """[holder] $, pro rata to what each offered (all offer at the same reserve)."""
        if self.holders.size == 0:
            return np.zeros(0)
        price = float(self.result.price[self.n_sites, 0])
        share = self.resale / self.resale.sum()
        return share * self.resold * price * hours


def clear_session(
    *,
    free: np.ndarray,  # [site, period] free GPUs from now
    reserve: np.ndarray,  # [site] $/GPU-h
    ask: np.ndarray,  # [buyer] GPUs bid this period
    value: np.ndarray,  # [buyer] $/GPU-h
    resale: np.ndarray,  # [buyer] GPUs offered from pools
    resale_reserve: float,
    heads: Heads,
    hours: float,
    time_limit: float,
) -> ExactSession:
    n_sites, width = free.shape
    bidders = np.flatnonzero(ask > 1e-9)
    holders = np.flatnonzero(resale > 1e-9)
    capacity = np.maximum(free, 0.0)
    price_floor = np.repeat(reserve[:, None], width, axis=1)
    blocks_ok = np.ones(n_sites, dtype=bool)
    if holders.size:
        pseudo = np.zeros((1, width))
        pseudo[0, 0] = resale[holders].sum()
        capacity = np.vstack([capacity, pseudo])
        price_floor = np.vstack([price_floor, np.full((1, width), resale_reserve)])
        blocks_ok = np.append(blocks_ok, False)
    book = BlockOrderBook(
        capacity=capacity,
        reserve=price_floor,
        site_blocks=blocks_ok,
        period_hours=hours,
        div_qty=ask[bidders],
        div_limit=value[bidders],
        div_period=np.zeros(bidders.size, dtype=np.int64),
        div_site=np.full(bidders.size, -1),
        div_region=np.zeros(bidders.size, dtype=np.int64),
        block_gpus=heads.gpus,
        block_periods=heads.periods,
        block_start=np.zeros(heads.rows.size, dtype=np.int64),
        block_limit=heads.limit,
        block_site=np.full(heads.rows.size, -1),
        block_region=np.zeros(heads.rows.size, dtype=np.int64),
    )
    result = block_auction(book, time_limit=time_limit)
    return ExactSession(result, bidders, heads, n_sites, holders, resale[holders])
