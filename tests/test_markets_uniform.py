"""Uniform-price call auction: worked examples, and properties checked against the exact LP."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.markets.orders import OrderBook
from sim.markets.uniform_price import clear_divisible, clear_single, uniform_price
from sim.reference.divisible_lp import uniform_price_reference

TOL = 1e-7


def test_worked_example_midpoint_price():
    # Demand 5@10, 3@8, 2@6; supply 4@5, 4@7, 4@9. Eight units trade; the clearing interval is
    # [7 (marginal offer), 8 (marginal bid)], so the price is 7.5.
    book = OrderBook(
        buy_qty=[5, 3, 2], buy_limit=[10, 8, 6], sell_qty=[4, 4, 4], sell_reserve=[5, 7, 9]
    )
    result = uniform_price(book)
    assert result.price[0] == pytest.approx(7.5)
    np.testing.assert_allclose(result.buy_filled, [5, 3, 0])
    np.testing.assert_allclose(result.sell_filled, [4, 4, 0])
    assert result.welfare == pytest.approx(5 * 10 + 3 * 8 - 4 * 5 - 4 * 7)


def test_marginal_level_is_shared_pro_rata():
    book = OrderBook(buy_qty=[2, 6], buy_limit=[10, 10], sell_qty=[4], sell_reserve=[1])
    result = uniform_price(book)
    np.testing.assert_allclose(result.buy_filled, [1, 3])
    assert result.price[0] == pytest.approx(10.0)


def test_no_crossing_means_no_trade_and_nan_price():
    book = OrderBook(buy_qty=[3], buy_limit=[4], sell_qty=[3], sell_reserve=[5])
    result = uniform_price(book)
    assert np.isnan(result.price[0])
    assert result.volume[0] == 0 and result.welfare == 0


def test_one_sided_and_empty_books():
    result = uniform_price(OrderBook(buy_qty=[1], buy_limit=[3], sell_qty=[], sell_reserve=[]))
    assert np.isnan(result.price).all() and result.buy_filled.tolist() == [0.0]
    empty = uniform_price(OrderBook(buy_qty=[], buy_limit=[], sell_qty=[], sell_reserve=[]))
    assert empty.welfare == 0


def test_products_clear_independently():
    rng = np.random.default_rng(3)
    books = [random_book(rng, 1) for _ in range(3)]
    joint = OrderBook(
        buy_qty=np.concatenate([b.buy_qty for b in books]),
        buy_limit=np.concatenate([b.buy_limit for b in books]),
        buy_product=np.repeat(np.arange(3), [b.buy_qty.size for b in books]),
        sell_qty=np.concatenate([b.sell_qty for b in books]),
        sell_reserve=np.concatenate([b.sell_reserve for b in books]),
        sell_product=np.repeat(np.arange(3), [b.sell_qty.size for b in books]),
    )
    result = uniform_price(joint)
    for k, book in enumerate(books):
        alone = uniform_price(book)
        np.testing.assert_allclose(result.price[k], alone.price[0])
        np.testing.assert_allclose(result.buy_filled[joint.buy_product == k], alone.buy_filled)
        np.testing.assert_allclose(result.sell_filled[joint.sell_product == k], alone.sell_filled)


def test_splitting_an_order_changes_nobody_else():
    rng = np.random.default_rng(11)
    book = random_book(rng, 1)
    split = OrderBook(
        buy_qty=np.concatenate([book.buy_qty[:1] / 2, book.buy_qty[:1] / 2, book.buy_qty[1:]]),
        buy_limit=np.concatenate([book.buy_limit[:1], book.buy_limit]),
        sell_qty=book.sell_qty,
        sell_reserve=book.sell_reserve,
    )
    a, b = uniform_price(book), uniform_price(split)
    np.testing.assert_allclose(b.buy_filled[2:], a.buy_filled[1:])
    np.testing.assert_allclose(b.buy_filled[:2].sum(), a.buy_filled[0])
    np.testing.assert_allclose(b.price, a.price)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"buy_qty": [-1], "buy_limit": [1]}, "buy_qty"),
        ({"buy_qty": [1], "buy_limit": [np.nan]}, "buy_limit"),
        ({"buy_qty": [1, 2], "buy_limit": [1]}, "buy_limit"),
        ({"buy_qty": [1], "buy_limit": [1], "buy_product": [-1]}, "product"),
    ],
)
def test_bad_books_are_rejected_with_the_field_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OrderBook(sell_qty=[1], sell_reserve=[1], **kwargs)


def random_book(rng: np.random.Generator, n_products: int, size: int = 12) -> OrderBook:
    nb, ns = rng.integers(1, size, 2)
    return OrderBook(
        buy_qty=rng.integers(1, 20, nb).astype(float),
        buy_limit=rng.integers(0, 40, nb) / 2,
        buy_product=rng.integers(0, n_products, nb),
        sell_qty=rng.integers(1, 20, ns).astype(float),
        sell_reserve=rng.integers(0, 40, ns) / 2,
        sell_product=rng.integers(0, n_products, ns),
        n_products=n_products,
    )


@st.composite
def books(draw):
    n_products = draw(st.integers(1, 3))
    nb, ns = draw(st.integers(0, 10)), draw(st.integers(0, 10))
    qty = st.integers(0, 20).map(float)
    price = st.integers(0, 30).map(lambda x: x / 2)
    product = st.integers(0, n_products - 1)
    return OrderBook(
        buy_qty=draw(st.lists(qty, min_size=nb, max_size=nb)),
        buy_limit=draw(st.lists(price, min_size=nb, max_size=nb)),
        buy_product=draw(st.lists(product, min_size=nb, max_size=nb)),
        sell_qty=draw(st.lists(qty, min_size=ns, max_size=ns)),
        sell_reserve=draw(st.lists(price, min_size=ns, max_size=ns)),
        sell_product=draw(st.lists(product, min_size=ns, max_size=ns)),
        n_products=n_products,
    )


def check_market_properties(book: OrderBook, result) -> None:
    """Individual rationality, budget balance, no overselling, quantity balance."""
    assert (result.buy_filled >= 0).all() and (result.sell_filled >= 0).all()
    assert (result.buy_filled <= book.buy_qty + TOL).all()
    assert (result.sell_filled <= book.sell_qty + TOL).all()
    assert (result.buy_payment <= book.buy_limit * result.buy_filled + TOL).all()
    assert (result.sell_revenue >= book.sell_reserve * result.sell_filled - TOL).all()
    assert result.buy_payment.sum() == pytest.approx(result.sell_revenue.sum(), abs=TOL)
    bought = np.bincount(book.buy_product, result.buy_filled, book.n_products)
    sold = np.bincount(book.sell_product, result.sell_filled, book.n_products)
    np.testing.assert_allclose(bought, sold, atol=TOL)


@settings(max_examples=80, deadline=None)
@given(books())
def test_matches_the_lp_optimum_and_keeps_the_rules(book):
    result = uniform_price(book)
    exact = uniform_price_reference(book)
    check_market_properties(book, result)
    assert result.welfare == pytest.approx(exact.welfare, abs=1e-6)
    np.testing.assert_allclose(result.volume, exact.volume, atol=1e-6)
    np.testing.assert_array_equal(np.isnan(result.price), result.volume == 0)


@settings(max_examples=40, deadline=None)
@given(books())
def test_price_clears_the_market(book):
    # Nobody left out would trade at the price: rejected bids are at or below it and rejected
    # offers at or above it; filled orders are at least as good as it.
    result = uniform_price(book)
    price = result.price
    for side, limit, product, filled, qty, sign in [
        ("buy", book.buy_limit, book.buy_product, result.buy_filled, book.buy_qty, 1),
        ("sell", book.sell_reserve, book.sell_product, result.sell_filled, book.sell_qty, -1),
    ]:
        p = price[product]
        traded = ~np.isnan(p)
        unfilled = traded & (filled < qty - TOL)
        assert (sign * (limit[unfilled] - p[unfilled]) <= TOL).all(), side
        has_fill = traded & (filled > TOL)
        assert (sign * (limit[has_fill] - p[has_fill]) >= -TOL).all(), side


def test_large_random_book_matches_lp():
    rng = np.random.default_rng(5)
    n = 2_000
    book = OrderBook(
        buy_qty=rng.uniform(0, 10, n),
        buy_limit=rng.normal(3, 1, n),
        buy_product=rng.integers(0, 4, n),
        sell_qty=rng.uniform(0, 10, n),
        sell_reserve=rng.normal(2.5, 1, n),
        sell_product=rng.integers(0, 4, n),
    )
    result = uniform_price(book)
    exact = uniform_price_reference(book)
    check_market_properties(book, result)
    assert result.welfare == pytest.approx(exact.welfare, rel=1e-9)
    np.testing.assert_allclose(result.volume, exact.volume, rtol=1e-7)


def test_prices_too_close_for_one_sort_key_still_clear_exactly():
    # Prices 1 and 1 + 2**-52 merge once the product offset is added to the sort key, and a
    # huge price stretches the offset further; the clearing must then sort exactly instead.
    tiny = 2.0**-52
    book = OrderBook(
        buy_qty=[1, 1, 2, 1],
        buy_limit=[1 + tiny, 1e300, 1 + tiny, 1.0],
        buy_product=[0, 1, 1, 0],
        sell_qty=[1, 1, 1, 1],
        sell_reserve=[1.0, 1 + tiny, 1.0, 1 + tiny],
        sell_product=[0, 0, 1, 1],
        n_products=3,
    )
    result = uniform_price(book)
    check_market_properties(book, result)
    np.testing.assert_allclose(result.volume, [1, 2, 0])
    np.testing.assert_allclose(result.buy_filled, [1, 1, 1, 0])
    assert np.isnan(result.price[2])
    for k in range(2):
        alone = uniform_price(
            OrderBook(
                buy_qty=book.buy_qty[book.buy_product == k],
                buy_limit=book.buy_limit[book.buy_product == k],
                sell_qty=book.sell_qty[book.sell_product == k],
                sell_reserve=book.sell_reserve[book.sell_product == k],
            )
        )
        assert result.price[k] == alone.price[0]


def assert_single_product_path_equals_general(book: OrderBook) -> None:
    args = (book.buy_qty, book.buy_limit, book.sell_qty, book.sell_reserve)
    price, buy_fill, sell_fill = clear_single(*args)
    nb, ns = book.buy_qty.size, book.sell_qty.size
    general = clear_divisible(
        book.buy_qty,
        book.buy_limit,
        np.zeros(nb, dtype=np.int64),
        book.sell_qty,
        book.sell_reserve,
        np.zeros(ns, dtype=np.int64),
        1,
    )
    np.testing.assert_array_equal([price], general[0])
    np.testing.assert_array_equal(buy_fill, general[1])
    np.testing.assert_array_equal(sell_fill, general[2])
    # with a memo: once filled, then reused for the same prices with other quantities
    memo: dict = {}
    for scale in (1.0, 1.0, 0.5):
        kept = clear_single(book.buy_qty * scale, book.buy_limit, book.sell_qty, *args[3:], memo)
        alone = clear_single(book.buy_qty * scale, *args[1:])
        np.testing.assert_array_equal([kept[0]], [alone[0]])
        np.testing.assert_array_equal(kept[1], alone[1])
        np.testing.assert_array_equal(kept[2], alone[2])


@settings(max_examples=150, deadline=None)
@given(books())
def test_single_product_path_equals_general_on_small_books(book):
    assert_single_product_path_equals_general(
        OrderBook(
            buy_qty=book.buy_qty,
            buy_limit=book.buy_limit,
            sell_qty=book.sell_qty,
            sell_reserve=book.sell_reserve,
        )
    )


def test_single_product_path_equals_general_on_random_books():
    # Coarse prices (many ties), continuous prices and quantities (sums that round), books
    # from a few orders to a few hundred, one-sided and zero quantities included.
    rng = np.random.default_rng(11)
    for k in range(300):
        nb, ns = rng.integers(0, [8, 8] if k < 100 else [400, 30])
        if k % 2 == 0:
            buy_limit, sell_reserve = rng.integers(0, 20, nb) / 4, rng.integers(0, 20, ns) / 4
        else:
            buy_limit, sell_reserve = rng.lognormal(1, 0.5, nb), rng.lognormal(1, 0.5, ns)
        buy_qty = rng.uniform(0, 10, nb) * (rng.random(nb) > 0.1)
        sell_qty = rng.uniform(0, 50, ns) * (rng.random(ns) > 0.1)
        assert_single_product_path_equals_general(
            OrderBook(
                buy_qty=buy_qty,
                buy_limit=buy_limit,
                sell_qty=sell_qty,
                sell_reserve=sell_reserve,
            )
        )
