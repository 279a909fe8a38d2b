"""Clearing benchmarks: uniform-price auction against a bare argsort, block auction against MILP.

Run with `python benchmarks/bench_clearing.py`. It prints (a) for several book sizes the time
to clear with `uniform_price` and to argsort the same prices, with their ratio (goal: within
3x), and (b) on 60 random block books the exact `block_auction` (allocation, prices and
settlement) against a plain HiGHS MILP of the same welfare problem: the welfare ratio and the
time ratio, both against the MILP's solve alone (`solve`) and against the independent
formulation built and solved (`build+solve`, `sim.reference.block_milp`). Goal: median time
ratio <= 1.5 against the plain MILP.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from sim.markets.block_auction import block_auction
from sim.markets.block_model import build_model
from sim.markets.orders import OrderBook
from sim.markets.uniform_price import uniform_price
from sim.reference.block_milp import block_auction_optimum
from sim.reference.instances import random_block_book


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_uniform(sizes=(1_000, 10_000, 100_000, 1_000_000), products: int = 8) -> None:
    print("uniform_price vs np.argsort of the same prices")
    print(f"{'orders':>10} {'clear ms':>10} {'argsort ms':>11} {'ratio':>7}")
    rng = np.random.default_rng(0)
    for n in sizes:
        half = n // 2
        book = OrderBook(
            buy_qty=rng.integers(1, 64, half).astype(float),
            buy_limit=rng.normal(2.5, 0.5, half),
            buy_product=rng.integers(0, products, half),
            sell_qty=rng.integers(1, 64, half).astype(float),
            sell_reserve=rng.normal(2.2, 0.5, half),
            sell_product=rng.integers(0, products, half),
        )
        prices = np.concatenate([book.buy_limit, book.sell_reserve])
        repeats = 15 if n <= 100_000 else 5
        uniform_price(book), np.argsort(prices)  # warm-up: first calls pay one-off costs
        clear = median_time(lambda book=book: uniform_price(book), repeats)
        sort = median_time(lambda prices=prices: np.argsort(prices), repeats)
        print(f"{n:>10} {clear * 1e3:>10.2f} {sort * 1e3:>11.2f} {clear / sort:>7.2f}")


def plain_milp_seconds(book) -> float:
    """HiGHS on the welfare MILP alone (model already built): the floor of any exact auction."""
    m = build_model(book)
    start = time.perf_counter()
    milp(
        -m.gain,
        constraints=LinearConstraint(m.matrix, -np.inf, m.upper),
        integrality=m.integrality,
        bounds=Bounds(0.0, m.column_upper),
    )
    return time.perf_counter() - start


def bench_blocks(instances: int = 60) -> None:
    print(f"\nblock_auction (exact, HiGHS) vs a plain MILP, {instances} random books")
    rng = np.random.default_rng(20261204)
    welfare, vs_solve, vs_build = [], [], []
    for _ in range(instances):
        book = random_block_book(
            rng,
            n_sites=int(rng.integers(2, 9)),
            n_periods=int(rng.integers(4, 25)),
            n_blocks=int(rng.integers(1, 41)),
            n_divisible=int(rng.integers(0, 41)),
            n_regions=int(rng.integers(1, 3)),
        )
        start = time.perf_counter()
        result = block_auction(book)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        best = block_auction_optimum(book)
        reference = time.perf_counter() - start
        welfare.append(result.welfare / best.welfare if best.welfare > 0 else 1.0)
        vs_solve.append(ours / plain_milp_seconds(book))
        vs_build.append(ours / reference)
    w, a, b = np.array(welfare), np.array(vs_solve), np.array(vs_build)
    print(f"{'':24} {'min':>8} {'median':>8} {'max':>8}")
    print(f"{'welfare / MILP optimum':24} {w.min():>8.6f} {np.median(w):>8.6f} {w.max():>8.6f}")
    print(f"{'time / MILP solve':24} {a.min():>8.2f} {np.median(a):>8.2f} {a.max():>8.2f}")
    print(f"{'time / MILP build+solve':24} {b.min():>8.2f} {np.median(b):>8.2f} {b.max():>8.2f}")
    print(
        "block_auction's time includes the pricing LP and settlement; goal: median time / MILP"
        f" solve <= 1.5 ({'met' if np.median(a) <= 1.5 else 'NOT met'})"
    )


if __name__ == "__main__":
    warnings.simplefilter("error")
    bench_uniform()
    bench_blocks()
