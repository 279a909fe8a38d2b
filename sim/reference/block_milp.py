"""An independent exact reference for block books: the welfare MILP written out plainly.

`sim.markets.block_auction` builds its program with grouped identical blocks, pruned columns,
sparse assembly and one solve per region. This module writes the same economic problem the
obvious way, with no shared code: one binary per (block, site) it may use and one continuous
variable per (divisible bid, site), every constraint a dense row filled by explicit loops, one
solve for the whole book. The tests hold the scenario mechanism's welfare to this optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from sim.markets.block_book import BlockOrderBook


@dataclass(frozen=True)
class BlockOptimum:
    block_site: np.ndarray  # [block] site, -1 if rejected
    welfare: float
    optimal: bool


def _may_use(site: int, region: int, s: int, site_region: np.ndarray) -> bool:
    return s == site if site >= 0 else site_region[s] == region


def block_auction_optimum(book: BlockOrderBook, time_limit: float = 60.0) -> BlockOptimum:
    h, n_sites, n_periods = book.period_hours, book.n_sites, book.n_periods
    columns: list[tuple[str, int, int]] = []  # ("block" | "bid", index, site)
    gain: list[float] = []
    for b in range(book.block_gpus.size):
        for s in range(n_sites):
            block_ok = book.site_blocks[s]
            if block_ok and _may_use(
                int(book.block_site[b]), int(book.block_region[b]), s, book.site_region
            ):
                start, d = int(book.block_start[b]), int(book.block_periods[b])
                reserve = float(book.reserve[s, start : start + d].sum())
                columns.append(("block", b, s))
                gain.append(book.block_gpus[b] * h * (d * book.block_limit[b] - reserve))
    for i in range(book.div_qty.size):
        for s in range(n_sites):
            if _may_use(int(book.div_site[i]), int(book.div_region[i]), s, book.site_region):
                columns.append(("bid", i, s))
                gain.append(h * (book.div_limit[i] - book.reserve[s, book.div_period[i]]))
    n = len(columns)
    if n == 0:
        return BlockOptimum(np.full(book.block_gpus.size, -1), 0.0, True)
    rows, upper = [], []
    for s in range(n_sites):  # capacity of each cell
        for t in range(n_periods):
            row = np.zeros(n)
            for j, (kind, k, site) in enumerate(columns):
                if site != s:
                    continue
                if kind == "block":
                    start = book.block_start[k]
                    if start <= t < start + book.block_periods[k]:
                        row[j] = book.block_gpus[k]
                elif book.div_period[k] == t:
                    row[j] = 1.0
            rows.append(row)
            upper.append(book.capacity[s, t])
    for b in range(book.block_gpus.size):  # a block at one site at most
        rows.append(np.array([1.0 if c[0] == "block" and c[1] == b else 0.0 for c in columns]))
        upper.append(1.0)
    for i in range(book.div_qty.size):  # a divisible bid up to its quantity
        rows.append(np.array([1.0 if c[0] == "bid" and c[1] == i else 0.0 for c in columns]))
        upper.append(book.div_qty[i])
    integer = np.array([1 if c[0] == "block" else 0 for c in columns])
    res = milp(
        -np.asarray(gain),
        constraints=LinearConstraint(np.array(rows), -np.inf, np.array(upper)),
        integrality=integer,
        bounds=Bounds(0.0, np.where(integer == 1, 1.0, np.inf)),
        options={"mip_rel_gap": 1e-10, "time_limit": time_limit},
    )
    if res.x is None:
        raise RuntimeError(f"HiGHS found no solution of the reference MILP: {res.message}")
    block_site = np.full(book.block_gpus.size, -1, dtype=np.int64)
    for j, (kind, k, s) in enumerate(columns):
        if kind == "block" and res.x[j] > 0.5:
            block_site[k] = s
    return BlockOptimum(block_site, -float(res.fun), res.status == 0)
