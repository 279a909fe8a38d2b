"""Block auction: welfare against the exact MILP, feasibility, individual rationality, money."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.markets.block_auction import block_auction, paradoxically_rejected
from sim.markets.block_book import BlockOrderBook, cells_sold
from sim.markets.orders import OrderBook
from sim.markets.uniform_price import uniform_price
from sim.reference.block_milp import block_auction_optimum
from sim.reference.instances import random_block_book

TOL = 1e-6


def check_block_result(book: BlockOrderBook, result) -> None:
    """No cell oversold, blocks whole at an eligible site, IR for everyone, money balances."""
    sold = cells_sold(book, result.block_site, result.divisible_alloc)
    np.testing.assert_allclose(result.sold, sold)
    assert (sold <= book.capacity + TOL).all()
    assert (result.divisible_alloc.sum(axis=1) <= book.div_qty + TOL).all()
    accepted = result.block_site >= 0
    fixed = book.block_site[accepted]
    assert ((fixed < 0) | (fixed == result.block_site[accepted])).all()
    regions = book.site_region[result.block_site[accepted]]
    assert (regions == book.block_region[accepted]).all()
    scale = TOL * max(1.0, np.abs(book.buy_limit).max(initial=1.0))
    assert (result.buy_payment <= book.buy_limit * result.buy_filled + scale).all()
    assert (result.sell_revenue >= book.sell_reserve * result.sell_filled - scale).all()
    assert result.buy_payment.sum() == pytest.approx(result.sell_revenue.sum(), abs=scale)
    assert result.buy_filled.sum() == pytest.approx(result.sell_filled.sum(), abs=scale)


def test_two_blocks_beat_one_bigger_block():
    # Greedy by value per GPU-hour would take A (6 GPUs at $10) and then nothing fits; B and C
    # (5 GPUs at $9.9 each) together are worth more.
    book = BlockOrderBook(
        capacity=[[10.0]],
        reserve=[[1.0]],
        block_gpus=[6, 5, 5],
        block_periods=[1, 1, 1],
        block_start=[0, 0, 0],
        block_limit=[10.0, 9.9, 9.9],
        block_region=[0, 0, 0],
    )
    result = block_auction(book)
    assert result.block_site.tolist() == [-1, 0, 0]
    check_block_result(book, result)


def test_no_paradoxically_accepted_block():
    # The block (8 GPUs x 2 periods at $3) leaves no room in period 0 for a divisible bid at $5.
    # Competitive prices would be 5 in period 0, making the block lose money; the pricing rule
    # keeps the block whole and charges it at most its limit on average.
    book = BlockOrderBook(
        capacity=[[8.0, 8.0]],
        reserve=[[1.0, 1.0]],
        block_gpus=[8],
        block_periods=[2],
        block_start=[0],
        block_limit=[3.0],
        block_region=[0],
        div_qty=[2],
        div_limit=[5.0],
        div_period=[0],
        div_region=[0],
    )
    result = block_auction(book)
    assert result.block_site.tolist() == [0]
    assert result.price[0].mean() <= 3.0 + TOL
    check_block_result(book, result)


def test_divisible_only_book_reaches_the_uniform_price_welfare():
    rng = np.random.default_rng(2)
    book = OrderBook(
        buy_qty=rng.integers(1, 20, 30),
        buy_limit=rng.uniform(1, 5, 30),
        buy_product=rng.integers(0, 3, 30),
        sell_qty=rng.integers(1, 20, 12),
        sell_reserve=rng.uniform(1, 5, 12),
        sell_product=rng.integers(0, 3, 12),
    )
    blocks = BlockOrderBook.from_divisible(book)
    result = block_auction(blocks)
    assert result.welfare == pytest.approx(uniform_price(book).welfare, rel=1e-9)
    check_block_result(blocks, result)


def exact(book: BlockOrderBook, result) -> None:
    """Welfare equals the independent MILP's optimum within 1e-6 relative."""
    optimum = block_auction_optimum(book)
    assert optimum.optimal and result.optimal and result.mip_gap == 0.0
    assert result.welfare == pytest.approx(optimum.welfare, rel=1e-6, abs=1e-6)


def test_seeded_batch_equals_the_independent_milp():
    rng = np.random.default_rng(2025)
    for _ in range(40):
        book = random_block_book(rng, n_sites=3, n_periods=6, n_blocks=6, n_divisible=10)
        result = block_auction(book)
        check_block_result(book, result)
        exact(book, result)


def test_identical_blocks_are_one_group_and_still_exact():
    # 7 identical blocks of 3 GPUs; two sites of 10 GPUs take three each (9 <= 10), the 7th
    # does not fit: one integer column per site serves the group
    book = BlockOrderBook(
        capacity=[[10.0, 10.0], [10.0, 10.0]],
        reserve=[[1.0, 1.0], [1.0, 1.0]],
        block_gpus=[3] * 7,
        block_periods=[2] * 7,
        block_start=[0] * 7,
        block_limit=[4.0] * 7,
        block_region=[0] * 7,
    )
    result = block_auction(book)
    check_block_result(book, result)
    assert (result.block_site >= 0).sum() == 6
    assert np.bincount(result.block_site[result.block_site >= 0]).tolist() == [3, 3]
    exact(book, result)


def test_regions_are_solved_apart_and_still_exact(monkeypatch):
    import sim.markets.block_auction as ba

    monkeypatch.setattr(ba, "SPLIT_CELLS", 0)  # split every book with two regions
    rng = np.random.default_rng(11)
    for _ in range(10):
        book = random_block_book(rng, n_sites=4, n_periods=5, n_blocks=8, n_divisible=8)
        result = block_auction(book)
        check_block_result(book, result)
        exact(book, result)


def test_paradoxically_rejected_blocks_are_counted():
    # Two blocks of 6 GPUs on 10: only one fits. The cell then has 4 idle GPUs, so it is priced
    # at its reserve of 1; the rejected block (limit 5) would gain at that price.
    book = BlockOrderBook(
        capacity=[[10.0]],
        reserve=[[1.0]],
        block_gpus=[6, 6],
        block_periods=[1, 1],
        block_start=[0, 0],
        block_limit=[6.0, 5.0],
        block_region=[0, 0],
    )
    result = block_auction(book)
    assert result.block_site.tolist() == [0, -1]
    assert result.price[0, 0] == pytest.approx(1.0)
    assert result.paradoxically_rejected == 1
    assert paradoxically_rejected(book, result.block_site, result.price) == 1


def test_a_stopped_solve_is_reported_not_hidden():
    # a node limit stops HiGHS the same way on every machine (a time limit takes the same path)
    book = random_block_book(
        np.random.default_rng(0), n_sites=6, n_periods=24, n_blocks=80, n_divisible=60
    )
    at_root = block_auction(book, node_limit=1)  # an incumbent, not proven optimal
    check_block_result(book, at_root)
    assert not at_root.optimal and 0.0 < at_root.mip_gap < 0.05
    assert at_root.welfare > 0
    none = block_auction(book, node_limit=0)  # stopped before any incumbent: nothing trades
    check_block_result(book, none)
    assert not none.optimal and none.mip_gap == 1.0 and none.welfare == 0.0
    full = block_auction(book)
    assert full.optimal and full.welfare >= at_root.welfare - TOL


def test_resold_capacity_serves_divisible_bids_only():
    # site 1 cannot serve blocks: the block must go to site 0 or be rejected
    book = BlockOrderBook(
        capacity=[[2.0], [8.0]],
        reserve=[[1.0], [0.0]],
        site_blocks=[True, False],
        block_gpus=[4],
        block_periods=[1],
        block_start=[0],
        block_limit=[9.0],
        block_region=[0],
        div_qty=[3],
        div_limit=[2.0],
        div_period=[0],
        div_region=[0],
    )
    result = block_auction(book)
    assert result.block_site.tolist() == [-1]
    assert result.divisible_alloc[0, 1] == pytest.approx(3.0)
    exact(book, result)


@st.composite
def block_books(draw):
    n_sites, n_periods = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    n_regions = draw(st.integers(1, n_sites))
    site_region = np.arange(n_sites) % n_regions
    gpus = st.integers(1, 12).map(float)
    price = st.integers(2, 12).map(lambda x: x / 2)
    grid = st.lists(price, min_size=n_sites * n_periods, max_size=n_sites * n_periods)
    n_blocks, n_div = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    periods = draw(st.lists(st.integers(1, n_periods), min_size=n_blocks, max_size=n_blocks))
    start = [draw(st.integers(0, n_periods - d)) for d in periods]

    def lists(strategy, n):
        return draw(st.lists(strategy, min_size=n, max_size=n))

    return BlockOrderBook(
        capacity=np.full((n_sites, n_periods), draw(st.integers(4, 16)), dtype=float),
        reserve=np.reshape(draw(grid), (n_sites, n_periods)),
        site_region=site_region,
        block_gpus=lists(gpus, n_blocks),
        block_periods=periods,
        block_start=start,
        block_limit=lists(price, n_blocks),
        block_region=lists(st.integers(0, n_regions - 1), n_blocks),
        div_qty=lists(gpus, n_div),
        div_limit=lists(price, n_div),
        div_period=lists(st.integers(0, n_periods - 1), n_div),
        div_region=lists(st.integers(0, n_regions - 1), n_div),
    )


@settings(max_examples=40, deadline=None)
@given(block_books())
def test_random_books_equal_the_independent_milp(book):
    result = block_auction(book)
    check_block_result(book, result)
    exact(book, result)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_sites=st.integers(1, 6),
    n_periods=st.integers(2, 16),
    n_blocks=st.integers(0, 24),
    n_divisible=st.integers(0, 60),
)
def test_moderate_random_instances_equal_the_independent_milp(
    seed, n_sites, n_periods, n_blocks, n_divisible
):
    rng = np.random.default_rng(seed)
    book = random_block_book(
        rng,
        n_sites=n_sites,
        n_periods=n_periods,
        n_blocks=n_blocks,
        n_divisible=n_divisible,
        n_regions=int(rng.integers(1, n_sites + 1)),
    )
    result = block_auction(book)
    check_block_result(book, result)
    exact(book, result)


def test_the_case_the_old_search_missed_is_solved_exactly():
    rng = np.random.default_rng(117)
    book = random_block_book(
        rng, n_sites=6, n_periods=15, n_blocks=17, n_divisible=0, n_regions=int(rng.integers(1, 7))
    )
    result = block_auction(book)
    check_block_result(book, result)
    exact(book, result)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"block_start": [3]}, "window"),
        ({"block_site": [0], "block_region": [1]}, "block_region"),
        ({"block_site": [-1], "block_region": None}, "block_region"),
        ({"capacity": [[-1.0, 1.0, 1.0]]}, "capacity"),
    ],
)
def test_bad_block_books_name_the_field(change, message):
    fields = {
        "capacity": [[4.0, 4.0, 4.0]],
        "reserve": [[1.0, 1.0, 1.0]],
        "site_region": [0],
        "block_gpus": [2],
        "block_periods": [2],
        "block_start": [0],
        "block_limit": [3.0],
        "block_site": [0],
        "block_region": [0],
    }
    with pytest.raises(ValueError, match=message):
        BlockOrderBook(**(fields | change))
