"""Forward contracts: whole-lot sessions, conservation in settlement and margin, defaults."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.markets.forward import (
    ForwardContract,
    MarginAccounts,
    clear_forward_session,
    initial_margin,
    mark_to_market,
)
from sim.markets.orders import OrderBook
from sim.reference.settlement import cash_settlement, physical_settlement

CONTRACT = ForwardContract("H100", "us-east", delivery_start=24, delivery_periods=168, lot_gpus=8)


def test_contract_arithmetic_and_validation():
    assert CONTRACT.gpu_hours_per_lot == 8 * 168
    with pytest.raises(ValueError, match="lot_gpus"):
        ForwardContract("H100", "us-east", 0, 10, 0)


@settings(max_examples=60, deadline=None)
@given(
    buys=st.lists(st.tuples(st.integers(0, 9), st.integers(1, 8)), max_size=8),
    sells=st.lists(st.tuples(st.integers(0, 9), st.integers(1, 8)), max_size=8),
)
def test_sessions_trade_whole_lots_and_balance(buys, sells):
    book = OrderBook(
        buy_qty=[q for q, _ in buys],
        buy_limit=[p for _, p in buys],
        sell_qty=[q for q, _ in sells],
        sell_reserve=[p for _, p in sells],
    )
    result = clear_forward_session(book)
    for filled, qty in ((result.buy_filled, book.buy_qty), (result.sell_filled, book.sell_qty)):
        np.testing.assert_array_equal(filled, np.round(filled))
        assert (filled <= qty).all() and (filled >= 0).all()
    assert result.buy_filled.sum() == result.sell_filled.sum()
    assert (result.buy_payment <= book.buy_limit * result.buy_filled + 1e-9).all()
    assert (result.sell_revenue >= book.sell_reserve * result.sell_filled - 1e-9).all()


def test_marginal_lots_go_to_the_larger_remainder_then_the_earlier_order():
    book = OrderBook(buy_qty=[2, 2, 2], buy_limit=[5, 5, 5], sell_qty=[3], sell_reserve=[1])
    result = clear_forward_session(book)
    assert result.buy_filled.tolist() == [1.0, 1.0, 1.0]
    book = OrderBook(buy_qty=[1, 1], buy_limit=[5, 5], sell_qty=[1], sell_reserve=[1])
    assert clear_forward_session(book).buy_filled.tolist() == [1.0, 0.0]


def test_fractional_lots_are_rejected():
    with pytest.raises(ValueError, match="whole lots"):
        clear_forward_session(OrderBook(buy_qty=[1.5], buy_limit=[1], sell_qty=[], sell_reserve=[]))


def test_physical_settlement_delivers_exactly_the_lots():
    delivery = physical_settlement(CONTRACT, np.array([10, 11, 12, 13]), np.array([3, -1, 2, -4]))
    assert delivery.receiver.tolist() == [10, 12]
    assert delivery.receive_gpus.tolist() == [24, 16]
    assert delivery.provider.tolist() == [11, 13]
    assert delivery.receive_gpus.sum() == delivery.deliver_gpus.sum() == 5 * 8
    assert (delivery.start, delivery.periods) == (24, 168)
    with pytest.raises(ValueError, match="sum to zero"):
        physical_settlement(CONTRACT, np.array([1]), np.array([2]))


@settings(max_examples=60, deadline=None)
@given(
    trades=st.lists(st.tuples(st.integers(1, 20), st.floats(0.5, 8.0)), min_size=1, max_size=10),
    index=st.floats(0.0, 10.0),
)
def test_cash_settlement_sums_to_zero_across_longs_and_shorts(trades, index):
    lots = np.array([q for q, _ in trades], dtype=float)
    price = np.array([p for _, p in trades])
    positions = np.concatenate([lots, -lots])  # each trade has a long and a short side
    cash = cash_settlement(CONTRACT, positions, np.concatenate([price, price]), index)
    assert cash.sum() == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(cash[: lots.size], lots * (index - price) * 8 * 168)


def test_initial_margin_is_a_fraction_of_notional():
    margin = initial_margin(CONTRACT, np.array([2, -3]), price=2.0, rate=0.1)
    np.testing.assert_allclose(margin, [0.1 * 2 * 2.0 * 1344, 0.1 * 3 * 2.0 * 1344])


@settings(max_examples=60, deadline=None)
@given(
    lots=st.lists(st.integers(1, 10), min_size=1, max_size=6),
    collateral=st.lists(st.floats(0, 5_000), min_size=12, max_size=12),
    move=st.floats(-3, 3),
)
def test_margin_conserves_money_and_default_losses_fall_on_the_house(lots, collateral, move):
    lots = np.array(lots, dtype=float)
    position = np.concatenate([lots, -lots])
    posted = np.array(collateral[: position.size])
    accounts = MarginAccounts(position, posted, mark=2.0)
    call = mark_to_market(CONTRACT, accounts, 2.0 + move)
    assert call.variation.sum() == pytest.approx(0.0, abs=1e-6)
    change = call.accounts.collateral.sum() - posted.sum()
    assert change == pytest.approx(call.clearing_house_loss, abs=1e-6)
    assert (call.accounts.collateral >= 0).all()
    assert (call.accounts.position[call.defaulted] == 0).all()
    open_interest = call.accounts.position.sum() + call.absorbed_position
    assert open_interest == pytest.approx(0.0)


def test_a_holder_who_cannot_pay_defaults_and_is_closed_at_the_mark():
    accounts = MarginAccounts(np.array([1.0, -1.0]), np.array([100.0, 100.0]), mark=2.0)
    call = mark_to_market(CONTRACT, accounts, 2.5)  # the short owes 0.5 * 1344 = 672
    assert call.defaulted.tolist() == [False, True]
    assert call.shortfall[1] == pytest.approx(672 - 100)
    assert call.accounts.collateral[0] == pytest.approx(100 + 672)
    assert call.absorbed_position == -1.0


@settings(max_examples=100, deadline=None)
@given(
    held=st.lists(st.integers(-5, 5), min_size=3, max_size=3),
    traded=st.lists(st.integers(-5, 5), min_size=3, max_size=3),
    price=st.floats(0.1, 10.0),
)
def test_trade_margin_posts_on_what_opens_and_returns_what_closes(held, traded, price):
    from sim.markets.forward import MarginAccounts, trade_margin

    rate = 0.2
    start = np.array(held, dtype=float)
    collateral = initial_margin(CONTRACT, start, price, rate)
    before = MarginAccounts(start, collateral, price)
    after, posted = trade_margin(CONTRACT, before, np.array(traded, dtype=float), price, rate)
    assert np.allclose(after.position, start + traded)
    assert np.allclose(after.collateral, collateral + posted)
    assert (after.collateral >= -1e-9).all()
    # at one price, collateral stays the initial margin of the position held
    assert np.allclose(after.collateral, initial_margin(CONTRACT, after.position, price, rate))
    closed, _ = trade_margin(CONTRACT, after, -after.position, price, rate)
    assert np.allclose(closed.collateral, 0.0)
