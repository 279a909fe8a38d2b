"""Exact reference for block books: the welfare-maximizing MILP, solved with HiGHS.

The tests ask the heuristic `block_auction` for at least 99% of this welfare on random
instances; `benchmarks/bench_clearing.py` compares the two on larger ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from sim.reference.block_auction import clear_with_blocks
from sim.reference.block_book import BlockAuctionResult, BlockOrderBook
from sim.reference.block_model import build_model


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
    result = milp(
        -model.gain,
        constraints=LinearConstraint(model.matrix, -np.inf, model.upper),
        integrality=model.integrality,
        bounds=Bounds(0.0, model.column_upper),
        options={
            "mip_rel_gap": mip_rel_gap,
            "time_limit": np.inf if time_limit is None else time_limit,
        },
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
