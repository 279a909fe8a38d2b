import numpy as np
import pytest

from sim.channels.withholding import linear_inverse_demand, strategic_offers
from sim.markets.cournot import allaz_vila_markup_closed_form


def test_fit_recovers_a_linear_demand():
    q = np.full(200, 0.5)
    limit = 10 - 0.5 * (np.cumsum(q) - q / 2)  # P = 10 - 0.5 Q sampled on 200 steps
    a, b = linear_inverse_demand(limit, q)
    assert a == pytest.approx(10, rel=1e-6)
    assert b == pytest.approx(0.5, rel=1e-6)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_symmetric_strategic_providers_reach_the_cournot_markup(n):
    a, c, b = 10.0, 2.0, 0.5
    offer = strategic_offers(np.full(n, 1e6), np.full(n, c), np.ones(n, bool), a, b)
    price = a - b * offer.sum()
    assert price - c == pytest.approx(allaz_vila_markup_closed_form(a, c, n, 0), rel=1e-6)


def test_price_takers_offer_everything_and_forward_sales_raise_offers():
    idle = np.array([100.0, 100.0, 50.0])
    cost = np.array([2.0, 2.0, 2.0])
    mask = np.array([True, True, False])
    plain = strategic_offers(idle, cost, mask, 10.0, 0.05)
    assert plain[2] == 50.0
    assert np.all(plain[:2] < idle[:2])
    hedged = strategic_offers(idle, cost, mask, 10.0, 0.05, forward=np.array([40.0, 40.0, 0.0]))
    assert np.all(hedged[:2] > plain[:2])
