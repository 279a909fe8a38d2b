"""Random market instances for tests and benchmarks, drawn from an explicit Generator.

Sizes and prices loosely follow CALIBRATION.md (H100 reserve around the $1.8-2.0/GPU-h owning
cost, bids up to on-demand-like prices, runs of 8-256 GPUs), scaled down so that the exact
MILP reference stays solvable.
"""

from __future__ import annotations

import numpy as np

from sim.markets.block_book import BlockOrderBook


def random_block_book(
    rng: np.random.Generator,
    n_sites: int = 4,
    n_periods: int = 12,
    n_blocks: int = 20,
    n_divisible: int = 30,
    n_regions: int = 2,
    gpus_per_site: int = 64,
) -> BlockOrderBook:
    """A spot session where blocks and divisible bids compete for tight capacity."""
    site_region = np.arange(n_sites) % n_regions
    capacity = rng.integers(gpus_per_site // 2, gpus_per_site + 1, n_sites)[:, None]
    capacity = np.repeat(capacity, n_periods, axis=1).astype(float)
    reserve = rng.uniform(1.6, 2.2, (n_sites, 1)) + rng.uniform(0.0, 0.3, (n_sites, n_periods))
    periods = rng.integers(1, max(1, n_periods // 2) + 1, n_blocks)
    block_site = np.where(rng.random(n_blocks) < 0.3, rng.integers(0, n_sites, n_blocks), -1)
    block_region = np.where(
        block_site >= 0, site_region[block_site], rng.integers(0, n_regions, n_blocks)
    )
    div_site = np.where(rng.random(n_divisible) < 0.4, rng.integers(0, n_sites, n_divisible), -1)
    div_region = np.where(
        div_site >= 0, site_region[div_site], rng.integers(0, n_regions, n_divisible)
    )
    return BlockOrderBook(
        capacity=capacity,
        reserve=reserve,
        site_region=site_region,
        block_gpus=rng.choice([4, 8, 16, 24, 32], n_blocks).astype(float),
        block_periods=periods,
        block_start=rng.integers(0, n_periods - periods + 1),
        block_limit=rng.uniform(1.8, 4.0, n_blocks),
        block_site=block_site,
        block_region=block_region,
        div_qty=rng.integers(1, 17, n_divisible).astype(float),
        div_limit=rng.uniform(1.5, 4.5, n_divisible),
        div_period=rng.integers(0, n_periods, n_divisible),
        div_site=div_site,
        div_region=div_region,
    )
