"""Gode and Sunder (1993): ZI-C traders reach near-full efficiency, ZI-U traders do not."""

import numpy as np
import pytest

from sim.markets.orders import OrderBook
from sim.reference.continuous_double_auction import LimitOrderBook, continuous_double_auction
from sim.reference.zero_intelligence import max_surplus, zi_session

# Step schedules in the style of Gode and Sunder's markets: eight intramarginal units on each
# side and four extramarginal ones, away from the equilibrium price band (90-110).
VALUES = np.concatenate([np.linspace(180, 110, 8), np.linspace(60, 40, 4)])
COSTS = np.concatenate([np.linspace(20, 90, 8), np.linspace(130, 150, 4)])


def efficiencies(constrained: bool, n: int = 100) -> np.ndarray:
    return np.array(
        [
            zi_session(VALUES, COSTS, np.random.default_rng(seed), constrained).efficiency
            for seed in range(n)
        ]
    )


def test_zi_c_reaches_97_percent_and_zi_u_falls_far_short():
    zi_c, zi_u = efficiencies(True), efficiencies(False)
    assert zi_c.mean() >= 0.97
    assert zi_u.mean() <= zi_c.mean() - 0.10


def test_zi_c_never_trades_at_a_loss():
    for seed in range(20):
        session = zi_session(VALUES, COSTS, np.random.default_rng(seed), constrained=True)
        assert (session.price <= VALUES[session.buyer]).all()
        assert (session.price >= COSTS[session.seller]).all()
        assert len(set(session.buyer)) == session.buyer.size  # one unit each


def test_zi_u_trades_at_a_loss_somewhere():
    losses = 0
    for seed in range(20):
        session = zi_session(VALUES, COSTS, np.random.default_rng(seed), constrained=False)
        losses += int((VALUES[session.buyer] < COSTS[session.seller]).sum())
    assert losses > 0


def test_same_seed_same_session():
    a = zi_session(VALUES, COSTS, np.random.default_rng(7))
    b = zi_session(VALUES, COSTS, np.random.default_rng(7))
    np.testing.assert_array_equal(a.price, b.price)


def test_max_surplus_matches_by_hand():
    assert max_surplus(np.array([10.0, 8, 3]), np.array([2.0, 9, 4])) == pytest.approx(8 + 4)


def test_values_outside_the_price_range_are_rejected():
    with pytest.raises(ValueError, match="values"):
        zi_session(np.array([250.0]), np.array([10.0]), np.random.default_rng(0))


def test_book_trades_at_the_resting_price_with_time_priority():
    book = LimitOrderBook()
    assert book.submit(0, False, 2, 10.0) == []
    assert book.submit(1, False, 2, 10.0) == []
    fills = book.submit(2, True, 3, 12.0)
    assert [(f.resting_id, f.qty, f.price) for f in fills] == [(0, 2, 10.0), (1, 1, 10.0)]
    assert book.best(is_buy=False) == 10.0
    book.cancel(1)
    assert book.best(is_buy=False) is None


def test_continuous_double_auction_on_an_order_book():
    book = OrderBook(
        buy_qty=[1, 1],
        buy_limit=[10.0, 6.0],
        buy_time=[1, 3],
        sell_qty=[1, 1],
        sell_reserve=[5.0, 7.0],
        sell_time=[0, 2],
    )
    result = continuous_double_auction(book)
    np.testing.assert_allclose(result.buy_filled, [1, 0])
    np.testing.assert_allclose(result.sell_filled, [1, 0])
    assert result.price[0] == pytest.approx(5.0)  # the resting ask sets the price
    assert result.buy_payment.sum() == pytest.approx(result.sell_revenue.sum())
