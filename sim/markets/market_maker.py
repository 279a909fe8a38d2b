"""Two-sided forward quotes of a market maker (Avellaneda and Stoikov 2008).

The maker quotes around a reservation price r = fair - inventory * gamma * sigma^2 * tau: a long
inventory lowers both quotes so that it sells more and buys less, and the skew grows with risk
aversion gamma, volatility sigma and the time to delivery tau. The spread is
gamma * sigma^2 * tau + (2 / gamma) * ln(1 + gamma / k), where k is how fast order arrivals fall
with distance from the fair value. Quotes are floored so the bid is never negative; the spread
is kept.

Sizes shrink to what the maker can carry: the bid side stops at `max_inventory` and the ask
side at -`max_inventory`, and a position can only grow while its initial margin fits in the
capital. A maker with no capital left is bust and quotes nothing. Works elementwise, so a
population of makers is quoted in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QuotePolicy:
    risk_aversion: float = 0.1  # gamma, per dollar
    arrival_decay: float = 1.5  # k, per dollar
    quote_size: float = 10.0  # lots per side when nothing binds
    max_inventory: float = 100.0  # lots, long or short
    margin_rate: float = 0.2  # initial margin as a fraction of notional


@dataclass(frozen=True)
class Quotes:
    bid: np.ndarray
    ask: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray


def market_maker_quotes(
    capital: np.ndarray | float,
    inventory: np.ndarray | float,
    fair_value: np.ndarray | float,
    volatility: np.ndarray | float,
    time_to_delivery: np.ndarray | float,
    policy: QuotePolicy,
    lot_value: float = 1.0,
) -> Quotes:
    """Bid and ask prices and sizes (lots). `lot_value` converts a price into a lot's notional
    (GPU-hours per lot). Bust makers (capital <= 0) get NaN prices and zero sizes."""
    capital, inventory = np.asarray(capital, float), np.asarray(inventory, float)
    fair = np.asarray(fair_value, float)
    risk = policy.risk_aversion * np.asarray(volatility, float) ** 2 * time_to_delivery
    reservation = fair - inventory * risk
    spread = risk + 2 / policy.risk_aversion * np.log1p(policy.risk_aversion / policy.arrival_decay)
    bid = np.maximum(reservation - spread / 2, 0.0)
    ask = bid + spread
    room = capital / (policy.margin_rate * np.maximum(fair, 1e-12) * lot_value)
    bid_size = _side_size(policy, inventory, room)
    ask_size = _side_size(policy, -inventory, room)
    bust = capital <= 0
    nan = np.where(bust, np.nan, 0.0)
    return Quotes(
        bid=bid + nan,
        ask=ask + nan,
        bid_size=np.where(bust, 0.0, bid_size),
        ask_size=np.where(bust, 0.0, ask_size),
    )


def _side_size(policy: QuotePolicy, toward: np.ndarray, room: np.ndarray) -> np.ndarray:
    """Lots a side may trade when each fill moves the position up by one from `toward`.

    The position after k lots, toward + k, must stay within the inventory limit and within the
    lots the capital can margin (`room`); trades that shrink a short position always fit."""
    limit = np.minimum(policy.max_inventory, room) - toward
    return np.clip(np.minimum(policy.quote_size, limit), 0.0, None)
