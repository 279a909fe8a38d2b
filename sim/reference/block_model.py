"""The block auction as a mathematical program, shared by the exact MILP and the relaxation.

Columns: x[block, site] (binary in the MILP, in [0, 1] in the relaxation) for every site a block
may use with a positive net value, then y[bid, site] >= 0 GPUs for every divisible bid and site
with a positive margin (pairs without one never appear in an optimum). Rows: GPUs used per
(site, period) <= capacity; sum over sites of x[block, :] <= 1; sum of y[bid, :] <= qty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from sim.reference.block_book import BlockOrderBook, block_net_values, eligible_pairs


@dataclass(frozen=True)
class BlockModel:
    blocks: np.ndarray  # block of each x column
    block_sites: np.ndarray  # site of each x column
    bids: np.ndarray  # divisible bid of each y column
    bid_sites: np.ndarray  # site of each y column
    gain: np.ndarray  # welfare per unit of each column
    matrix: sparse.csr_matrix
    upper: np.ndarray  # row upper bounds
    column_upper: np.ndarray
    integrality: np.ndarray  # 1 for x columns, 0 for y columns


def _block_entries(book: BlockOrderBook):
    blocks, sites = eligible_pairs(book.block_site, book.block_region, book.site_region)
    net = block_net_values(book)[blocks, sites]
    keep = net > 0
    blocks, sites, net = blocks[keep], sites[keep], net[keep]
    periods = book.block_periods[blocks]
    col = np.repeat(np.arange(blocks.size), periods)
    offset = np.arange(periods.sum()) - np.repeat(np.cumsum(periods) - periods, periods)
    row = sites[col] * book.n_periods + book.block_start[blocks][col] + offset
    return blocks, sites, net, row, col, book.block_gpus[blocks][col]


def _divisible_entries(book: BlockOrderBook):
    bids, sites = eligible_pairs(book.div_site, book.div_region, book.site_region)
    gain = (book.div_limit[bids] - book.reserve[sites, book.div_period[bids]]) * book.period_hours
    keep = gain > 0
    bids, sites, gain = bids[keep], sites[keep], gain[keep]
    return bids, sites, gain, sites * book.n_periods + book.div_period[bids]


def build_model(book: BlockOrderBook) -> BlockModel:
    """Assemble the sparse constraint matrix and objective of the welfare maximization."""
    blocks, b_sites, net, b_row, b_col, b_val = _block_entries(book)
    bids, d_sites, gain, d_row = _divisible_entries(book)
    nx, ny, n_cells = blocks.size, bids.size, book.capacity.size
    n_blocks = book.block_gpus.size
    rows = np.concatenate([b_row, n_cells + blocks, d_row, n_cells + n_blocks + bids])
    cols = np.concatenate([b_col, np.arange(nx), nx + np.arange(ny), nx + np.arange(ny)])
    vals = np.concatenate([b_val, np.ones(nx), np.ones(2 * ny)])
    n_rows = n_cells + n_blocks + book.div_qty.size
    return BlockModel(
        blocks=blocks,
        block_sites=b_sites,
        bids=bids,
        bid_sites=d_sites,
        gain=np.concatenate([net, gain]),
        matrix=sparse.csr_matrix((vals, (rows, cols)), shape=(n_rows, nx + ny)),
        upper=np.concatenate([book.capacity.ravel(), np.ones(n_blocks), book.div_qty]),
        column_upper=np.concatenate([np.ones(nx), np.full(ny, np.inf)]),
        integrality=np.concatenate([np.ones(nx), np.zeros(ny)]),
    )
