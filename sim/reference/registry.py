"""Reference clearing mechanisms by name, so that tests can run one instance through all of them.

Every entry takes a divisible `OrderBook` and returns a result with the arrays
`sim.markets.registry` documents. The names are disjoint from `sim.markets.registry.MECHANISMS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from sim.markets.orders import OrderBook
from sim.reference.continuous_double_auction import continuous_double_auction
from sim.reference.divisible_lp import uniform_price_reference


class Clearing(Protocol):
    """What every clearing result exposes, indexed like the book's buy and sell orders."""

    @property
    def buy_filled(self) -> np.ndarray: ...
    @property
    def buy_payment(self) -> np.ndarray: ...
    @property
    def sell_filled(self) -> np.ndarray: ...
    @property
    def sell_revenue(self) -> np.ndarray: ...
    @property
    def welfare(self) -> float: ...


REFERENCES: dict[str, Callable[[OrderBook], Clearing]] = {
    "uniform_price_lp": uniform_price_reference,
    "continuous_double_auction": continuous_double_auction,
}
