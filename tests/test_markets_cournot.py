"""Allaz and Vila (1993): forward rounds lower the Cournot markup, solved numerically."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.markets.cournot import (
    allaz_vila_equilibrium,
    allaz_vila_markup_closed_form,
    cournot_best_response,
    cournot_spot_quantities,
)

A, C = 100.0, 10.0


@pytest.mark.parametrize("n, rounds", [(2, 0), (2, 1), (2, 3), (3, 1), (3, 2), (4, 1), (5, 2)])
def test_numerical_markup_matches_the_published_formula(n, rounds):
    equilibrium = allaz_vila_equilibrium(A, C, n, rounds)
    expected = allaz_vila_markup_closed_form(A, C, n, rounds)
    assert equilibrium.markup == pytest.approx(expected, rel=0.02)
    assert equilibrium.spot_price == pytest.approx(C + equilibrium.markup)


def test_closed_form_special_cases_agree():
    for n in (3, 4, 6):
        assert allaz_vila_markup_closed_form(A, C, n, 0) == pytest.approx((A - C) / (n + 1))
        assert allaz_vila_markup_closed_form(A, C, n, 1) == pytest.approx((A - C) / (n**2 + 1))


def test_more_rounds_lower_the_markup_and_firms_sell_forward():
    markups = [allaz_vila_equilibrium(A, C, 2, rounds).markup for rounds in range(4)]
    assert all(later < earlier for earlier, later in zip(markups, markups[1:], strict=False))
    equilibrium = allaz_vila_equilibrium(A, C, 3, 2)
    assert (equilibrium.forward_sales > 0).all()
    assert equilibrium.forward_sales.shape == (2, 3)


def test_spot_stage_given_the_forward_positions_reproduces_the_equilibrium():
    equilibrium = allaz_vila_equilibrium(A, C, 3, 2)
    positions = equilibrium.forward_sales.sum(axis=0)
    spot = cournot_spot_quantities(A, C, positions)
    np.testing.assert_allclose(spot.quantity, equilibrium.quantity, rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    others=st.floats(0, 80),
    forward=st.floats(0, 40),
    capacity=st.floats(1, 100),
)
def test_best_response_maximizes_profit(others, forward, capacity):
    q = float(cournot_best_response(A, C, others, forward, capacity))
    grid = np.linspace(0, capacity, 2001)
    profit = (A - others - grid) * (grid - forward) - C * grid
    best = (A - others - q) * (q - forward) - C * q
    assert best >= profit.max() - 1e-6 * max(1.0, abs(profit.max()))


def test_capacity_limits_bind_and_withholding_is_reported():
    spot = cournot_spot_quantities(A, C, np.zeros(3), capacity=np.array([5.0, 100.0, 100.0]))
    assert spot.quantity[0] == pytest.approx(5.0)
    assert spot.withheld[0] == pytest.approx(0.0)
    free = cournot_spot_quantities(A, C, np.zeros(3))
    np.testing.assert_allclose(free.quantity, (A - C) / 4)
    assert spot.price > free.price


def test_forward_sales_raise_own_spot_output():
    spot = cournot_spot_quantities(A, C, np.array([20.0, 0.0]))
    assert spot.quantity[0] > spot.quantity[1]
