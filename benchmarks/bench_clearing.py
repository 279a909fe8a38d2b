"""Clearing benchmarks: uniform-price auction against a bare argsort, block auction against MILP.

Run with `python benchmarks/bench_clearing.py`. It prints (a) for several book sizes the time
to clear with `uniform_price` and to argsort the same prices, with their ratio (goal: within
3x), and (b) for several block-auction sizes the heuristic's welfare as a share of the MILP's
and both run times. Times are medians of a few repeats on this machine.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from sim.markets.orders import OrderBook
from sim.markets.uniform_price import uniform_price
from sim.reference.block_auction import block_auction
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


def bench_blocks() -> None:
    print("\nblock_auction vs MILP (HiGHS), 3 seeded instances per size")
    print(
        f"{'sites':>5} {'periods':>7} {'blocks':>6} {'div':>5} {'welfare %':>10} {'bound %':>8}"
        f" {'heur s':>8} {'milp s':>8} {'milp optimal':>12}"
    )
    sizes = [
        (3, 8, 10, 20),
        (4, 12, 20, 40),
        (6, 24, 40, 100),
        (8, 48, 80, 300),
        (12, 96, 200, 600),
    ]
    for sites, periods, blocks, div in sizes:
        rng = np.random.default_rng(sites)
        ratios, bounds, heur, exact, optimal = [], [], [], [], True
        for _ in range(3):
            book = random_block_book(
                rng, n_sites=sites, n_periods=periods, n_blocks=blocks, n_divisible=div
            )
            start = time.perf_counter()
            result = block_auction(book)
            heur.append(time.perf_counter() - start)
            start = time.perf_counter()
            best = block_auction_optimum(book, time_limit=20.0)
            exact.append(time.perf_counter() - start)
            optimal &= best.optimal
            ratios.append(result.welfare / best.welfare)
            bounds.append(result.welfare / best.bound)
        print(
            f"{sites:>5} {periods:>7} {blocks:>6} {div:>5} {100 * min(ratios):>9.2f}%"
            f" {100 * min(bounds):>7.2f}% {np.mean(heur):>8.3f} {np.mean(exact):>8.3f}"
            f" {str(optimal):>12}"
        )
    print(
        "welfare % is the worst of the three instances against the MILP's best solution, bound %"
        " against its proven upper bound (a floor on the true ratio); MILP time limit 20 s"
    )


if __name__ == "__main__":
    warnings.simplefilter("error")
    bench_uniform()
    bench_blocks()
