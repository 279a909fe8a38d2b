"""The block auction as a mixed-integer program (solved by HiGHS in `block_auction`).

Identical block bids (same GPUs, length, start, limit and eligible sites) are one group of
``count`` bids. Columns: x[group, site], an integer in [0, count], for every site a group may
use with a positive net value, then y[bid, site] >= 0 GPUs for every divisible bid and site with
a positive margin (pairs without one never appear in an optimum). Rows: GPUs used per
(site, period) <= capacity; sum over sites of x[group, :] <= count; sum of y[bid, :] <= qty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from sim.markets.block_book import BlockOrderBook, block_net_values, block_pairs, eligible_pairs


@dataclass(frozen=True)
class BlockModel:
    blocks: np.ndarray  # representative block (first of its group) of each x column
    block_sites: np.ndarray  # site of each x column
    bids: np.ndarray  # divisible bid of each y column
    bid_sites: np.ndarray  # site of each y column
    gain: np.ndarray  # welfare per unit of each column
    matrix: sparse.csr_matrix
    upper: np.ndarray  # row upper bounds
    column_upper: np.ndarray
    integrality: np.ndarray  # 1 for x columns, 0 for y columns
    group: np.ndarray  # [block] its group's representative block


def block_groups(book: BlockOrderBook) -> np.ndarray:
    """[block] the first block with the same GPUs, length, start, limit, site and region."""
    n = book.block_gpus.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.column_stack(
        [
            book.block_gpus,
            book.block_periods,
            book.block_start,
            book.block_limit,
            book.block_site,
            book.block_region,
        ]
    )
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)]


def _block_entries(book: BlockOrderBook, group: np.ndarray):
    blocks, sites = block_pairs(book)
    rep = group[blocks] == blocks  # one column per group and site
    blocks, sites = blocks[rep], sites[rep]
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
    group = block_groups(book)
    count = np.bincount(group, minlength=book.block_gpus.size).astype(float)
    blocks, b_sites, net, b_row, b_col, b_val = _block_entries(book, group)
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
        upper=np.concatenate([book.capacity.ravel(), count, book.div_qty]),
        column_upper=np.concatenate([count[blocks], np.full(ny, np.inf)]),
        integrality=np.concatenate([np.ones(nx), np.zeros(ny)]),
        group=group,
    )
