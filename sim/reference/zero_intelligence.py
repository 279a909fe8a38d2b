"""Zero-intelligence traders in a continuous double auction (Gode and Sunder 1993).

Each buyer holds the right to one unit worth a private value, each seller one unit at a private
cost. At every step one trader still holding its unit is picked at random and replaces its quote
in the limit-order book with a random one: ZI-C ("constrained") buyers bid uniformly between
the price floor and their value and sellers ask uniformly between their cost and the ceiling, so
they never trade at a loss; ZI-U ("unconstrained") traders quote uniformly over the whole range.
Gode and Sunder's point, which the tests reproduce, is that the market's rules alone get ZI-C
close to full allocative efficiency, while ZI-U falls well short.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.reference.continuous_double_auction import LimitOrderBook


@dataclass(frozen=True)
class ZISession:
    """Trades of one session: buyer and seller of each, its price, and the efficiency."""

    buyer: np.ndarray
    seller: np.ndarray
    price: np.ndarray
    surplus: float
    max_surplus: float

    @property
    def efficiency(self) -> float:
        """Realised surplus over the maximum (the competitive equilibrium's)."""
        return self.surplus / self.max_surplus if self.max_surplus > 0 else 1.0


def max_surplus(values: np.ndarray, costs: np.ndarray) -> float:
    """Best possible gains from trade with one unit each: match high values with low costs."""
    v, c = np.sort(values)[::-1], np.sort(costs)
    n = min(v.size, c.size)
    return float(np.clip(v[:n] - c[:n], 0.0, None).sum())


def _quote(rng, is_buy: bool, reservation: float, constrained: bool, lo: float, hi: float):
    if not constrained:
        return rng.uniform(lo, hi)
    return rng.uniform(lo, reservation) if is_buy else rng.uniform(reservation, hi)


def zi_session(
    values: np.ndarray,
    costs: np.ndarray,
    rng: np.random.Generator,
    constrained: bool = True,
    price_range: tuple[float, float] = (0.0, 200.0),
    max_steps: int | None = None,
) -> ZISession:
    """Run one session until `max_steps` quotes (default 200 per trader) or no trader is left.

    Trader k < len(values) is buyer k, the others are sellers. Values and costs must lie
    within `price_range`, as in the original experiments.
    """
    lo, hi = price_range
    values, costs = np.asarray(values, dtype=float), np.asarray(costs, dtype=float)
    if values.min(initial=lo) < lo or values.max(initial=hi) > hi:
        raise ValueError(f'"values" must lie in the price range {price_range}.')
    if costs.min(initial=lo) < lo or costs.max(initial=hi) > hi:
        raise ValueError(f'"costs" must lie in the price range {price_range}.')
    nb = values.size
    reservation = np.concatenate([values, costs])
    active = list(range(reservation.size))
    steps = 200 * reservation.size if max_steps is None else max_steps
    book = LimitOrderBook()
    order_of: dict[int, int] = {}  # trader -> id of its resting quote
    owner: dict[int, int] = {}  # quote id -> trader
    trades: list[tuple[int, int, float, int]] = []
    for step in range(steps):
        if step == 0 or (trades and trades[-1][3] == step - 1):
            if not _trade_possible(active, reservation, nb, constrained):
                break
        trader = active[int(rng.integers(len(active)))]
        is_buy = trader < nb
        book.cancel(order_of.get(trader, -1))
        price = _quote(rng, is_buy, reservation[trader], constrained, lo, hi)
        order_of[trader], owner[step] = step, trader
        for fill in book.submit(step, is_buy, 1.0, price):
            other = owner[fill.resting_id]
            buyer, seller = (trader, other) if is_buy else (other, trader)
            trades.append((buyer, seller - nb, fill.price, step))
            active.remove(trader)
            active.remove(other)
            book = LimitOrderBook()  # Gode and Sunder cancel all quotes after a trade
            order_of.clear()
    return _session(trades, values, costs)


def _trade_possible(active: list[int], reservation: np.ndarray, nb: int, constrained: bool):
    """Some buyer and seller are left and, for ZI-C, some value still covers some cost."""
    buyers = [reservation[k] for k in active if k < nb]
    sellers = [reservation[k] for k in active if k >= nb]
    if not buyers or not sellers:
        return False
    return not constrained or max(buyers) >= min(sellers)


def _session(trades, values: np.ndarray, costs: np.ndarray) -> ZISession:
    buyer = np.array([t[0] for t in trades], dtype=np.int64)
    seller = np.array([t[1] for t in trades], dtype=np.int64)
    price = np.array([t[2] for t in trades], dtype=float)
    surplus = float(values[buyer].sum() - costs[seller].sum())
    return ZISession(buyer, seller, price, surplus, max_surplus(values, costs))
