"""Every registered mechanism on one common instance: the shared rules of a clearing."""

import numpy as np
import pytest

from sim.markets.orders import OrderBook
from sim.markets.reference import uniform_price_reference
from sim.markets.registry import BOOK_TYPES, MECHANISMS, book_for, get_mechanism

TOL = 1e-6
EXACT = {"uniform_price", "uniform_price_lp", "block_auction", "block_auction_milp"}


def common_book() -> OrderBook:
    """Two products, whole quantities (so the forward session can take it), ties included."""
    return OrderBook(
        buy_qty=[4, 3, 5, 2, 6, 1],
        buy_limit=[9.0, 7.5, 6.0, 6.0, 8.0, 3.0],
        buy_product=[0, 0, 0, 0, 1, 1],
        sell_qty=[3, 4, 5, 2, 4],
        sell_reserve=[5.0, 6.0, 8.0, 2.5, 7.0],
        sell_product=[0, 0, 0, 1, 1],
        buy_time=[0, 2, 4, 6, 1, 3],
        sell_time=[1, 3, 5, 0, 2],
    )


def test_registry_names_and_book_types_agree():
    assert set(MECHANISMS) == set(BOOK_TYPES)
    with pytest.raises(ValueError, match="allowed: block_auction"):
        get_mechanism("walrasian")


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_shared_properties(name):
    base = common_book()
    book = book_for(name, base)
    result = MECHANISMS[name](book)
    limit, wanted = book.buy_limit, book.buy_qty
    reserve, offered = book.sell_reserve, book.sell_qty
    assert (result.buy_filled >= -TOL).all() and (result.buy_filled <= wanted + TOL).all()
    assert (result.sell_filled >= -TOL).all() and (result.sell_filled <= offered + TOL).all()
    assert (result.buy_payment <= limit * result.buy_filled + TOL).all()
    assert (result.sell_revenue >= reserve * result.sell_filled - TOL).all()
    assert result.buy_payment.sum() == pytest.approx(result.sell_revenue.sum(), abs=TOL)
    assert result.buy_filled.sum() == pytest.approx(result.sell_filled.sum(), abs=TOL)
    optimum = uniform_price_reference(base).welfare
    assert result.welfare <= optimum + TOL
    if name in EXACT:
        assert result.welfare == pytest.approx(optimum, abs=TOL)
    np.testing.assert_allclose(
        result.welfare, limit @ result.buy_filled - reserve @ result.sell_filled, atol=TOL
    )
