"""Market-maker quotes: the qualitative properties of Avellaneda-Stoikov with limits."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.markets.market_maker import QuotePolicy, market_maker_quotes

POLICY = QuotePolicy()
state = {
    "capital": st.floats(1.0, 1e6),
    "inventory": st.floats(-100, 100),
    "fair_value": st.floats(0.5, 10.0),
    "volatility": st.floats(0.0, 2.0),
    "time_to_delivery": st.floats(0.0, 2.0),
}


@settings(max_examples=80, deadline=None)
@given(**state)
def test_bid_below_ask_and_sizes_within_limits(
    capital, inventory, fair_value, volatility, time_to_delivery
):
    q = market_maker_quotes(capital, inventory, fair_value, volatility, time_to_delivery, POLICY)
    assert q.bid < q.ask and q.bid >= 0
    assert 0 <= q.bid_size <= POLICY.quote_size and 0 <= q.ask_size <= POLICY.quote_size
    assert inventory + q.bid_size <= POLICY.max_inventory + 1e-9
    assert inventory - q.ask_size >= -POLICY.max_inventory - 1e-9


@settings(max_examples=80, deadline=None)
@given(**state, extra=st.floats(0.1, 50))
def test_longer_inventory_lowers_both_quotes(
    capital, inventory, fair_value, volatility, time_to_delivery, extra
):
    args = (fair_value, volatility, time_to_delivery, POLICY)
    low = market_maker_quotes(capital, inventory, *args)
    high = market_maker_quotes(capital, inventory + extra, *args)
    assert high.bid <= low.bid and high.ask <= low.ask
    if volatility > 0.1 and time_to_delivery > 0.1 and low.bid > 0:
        assert high.bid < low.bid and high.ask < low.ask


@settings(max_examples=40, deadline=None)
@given(capital=st.floats(-1e6, 0.0), inventory=st.floats(-100, 100))
def test_bust_makers_quote_nothing(capital, inventory):
    q = market_maker_quotes(capital, inventory, 2.0, 0.5, 1.0, POLICY)
    assert np.isnan(q.bid) and np.isnan(q.ask)
    assert q.bid_size == 0 and q.ask_size == 0


def test_limits_bind_one_side_at_a_time():
    full = market_maker_quotes(1e6, POLICY.max_inventory, 2.0, 0.5, 1.0, POLICY)
    assert full.bid_size == 0 and full.ask_size == POLICY.quote_size
    # Capital that margins only 5 lots: a flat maker quotes 5 each way.
    thin = market_maker_quotes(5 * 0.2 * 2.0, 0.0, 2.0, 0.5, 1.0, POLICY)
    np.testing.assert_allclose([thin.bid_size, thin.ask_size], [5.0, 5.0])


def test_a_population_is_quoted_in_one_call():
    q = market_maker_quotes(np.array([1e5, 0.0]), np.array([0.0, 5.0]), 2.0, 0.5, 1.0, POLICY)
    assert q.bid.shape == (2,) and np.isnan(q.bid[1]) and not np.isnan(q.bid[0])
