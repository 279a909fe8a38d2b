"""Forward contracts on GPU capacity: specification, auction sessions and margin.

A contract is standardized (GPU type, region, delivery window, lot size) so that positions are
interchangeable and can be resold. Quantities are signed numbers of lots per holder (long > 0,
short < 0); prices are per GPU-hour. Everything here is a pure function on arrays; the
simulator keeps the accounts between calls (and settles delivery itself; the per-contract
settlement rules are stated in `sim.reference.settlement`, for the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.markets.orders import ClearingResult, OrderBook, settle
from sim.markets.uniform_price import uniform_price


@dataclass(frozen=True)
class ForwardContract:
    """`lot_gpus` GPUs of `gpu_type` in `region` for `delivery_periods` periods from
    `delivery_start`, each period lasting `period_hours`."""

    gpu_type: str
    region: str
    delivery_start: int
    delivery_periods: int
    lot_gpus: int
    period_hours: float = 1.0

    def __post_init__(self) -> None:
        if self.delivery_start < 0:
            raise ValueError(f'"delivery_start" must be >= 0, got {self.delivery_start}.')
        if self.delivery_periods <= 0 or self.lot_gpus <= 0 or not self.period_hours > 0:
            raise ValueError('"delivery_periods", "lot_gpus" and "period_hours" must be > 0.')

    @property
    def gpu_hours_per_lot(self) -> float:
        return self.lot_gpus * self.delivery_periods * self.period_hours


def clear_forward_session(book: OrderBook) -> ClearingResult:
    """Uniform-price auction of whole lots: `uniform_price`, then marginal fills rounded.

    Quantities must be whole lots. The volume is then a whole number, and the pro-rata shares
    at the marginal price are rounded by largest remainder (earlier submission first on ties),
    so every order gets whole lots and the two sides still match.
    """
    for name, qty in (("buy_qty", book.buy_qty), ("sell_qty", book.sell_qty)):
        if not np.array_equal(qty, np.round(qty)):
            raise ValueError(f'"{name}" must be whole lots in a forward session.')
    result = uniform_price(book)
    buy = _whole_lots(result.buy_filled, book.buy_qty, book.buy_product, book.buy_time)
    sell = _whole_lots(result.sell_filled, book.sell_qty, book.sell_product, book.sell_time)
    return settle(book, result.price, buy, sell)


def _whole_lots(filled, qty, product, time) -> np.ndarray:
    """Round fills to integers per product, keeping each product's total (largest remainder)."""
    floor = np.minimum(np.floor(filled + 1e-9), qty)
    n_products = int(product.max(initial=0)) + 1
    total = np.round(np.bincount(product, filled, n_products))
    missing = (total - np.bincount(product, floor, n_products)).astype(np.int64)
    fraction = np.where(floor < qty, filled - floor, -np.inf)
    order = np.lexsort((time, -fraction, product))
    first = np.searchsorted(product[order], np.arange(n_products))
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size) - first[product[order]]
    return floor + (rank < missing[product])


@dataclass(frozen=True)
class MarginAccounts:
    """Open positions (lots), posted collateral ($) and the price they were last marked at."""

    position: np.ndarray
    collateral: np.ndarray
    mark: float


@dataclass(frozen=True)
class MarginCall:
    accounts: MarginAccounts
    variation: np.ndarray  # variation margin credited (+) or debited (-) to each holder
    defaulted: np.ndarray  # holders whose collateral could not cover their debit
    shortfall: np.ndarray  # unpaid part of each defaulter's debit
    absorbed_position: float  # lots the clearing house takes over from defaulters

    @property
    def clearing_house_loss(self) -> float:
        return float(self.shortfall.sum())


def mark_to_market(
    contract: ForwardContract, accounts: MarginAccounts, new_mark: float
) -> MarginCall:
    """Settle the day's variation margin at `new_mark`, with the default rule.

    Each holder is credited position x (new mark - old mark) x GPU-hours per lot. A holder whose
    collateral cannot cover its debit defaults: its position is closed at the new mark (the
    clearing house takes it over, so open interest stays balanced), its collateral is seized,
    and the unpaid rest is the shortfall, a loss the clearing house bears so that the holders on
    the other side are paid in full.
    """
    position = np.asarray(accounts.position, dtype=float)
    variation = position * (new_mark - accounts.mark) * contract.gpu_hours_per_lot
    after = np.asarray(accounts.collateral, dtype=float) + variation
    defaulted = after < 0
    shortfall = np.where(defaulted, -after, 0.0)
    survivors = MarginAccounts(
        position=np.where(defaulted, 0.0, position),
        collateral=np.where(defaulted, 0.0, after),
        mark=new_mark,
    )
    absorbed = float(position[defaulted].sum())
    return MarginCall(survivors, variation, defaulted, shortfall, absorbed)


def initial_margin(
    contract: ForwardContract, position_lots: np.ndarray, price: float, rate: float
) -> np.ndarray:
    """Collateral to post when opening a position: ``rate`` times its notional value."""
    notional = np.abs(np.asarray(position_lots, dtype=float)) * price * contract.gpu_hours_per_lot
    return rate * notional


def trade_margin(
    contract: ForwardContract,
    accounts: MarginAccounts,
    traded: np.ndarray,
    price: float,
    rate: float,
) -> tuple[MarginAccounts, np.ndarray]:
    """Positions and collateral after holders trade ``traded`` lots (+ bought, - sold) at
    ``price``, and the collateral each posts (+) or gets back (-).

    Opening a position (or the part of a flip beyond zero) posts the initial margin on what it
    adds; closing one, in the secondary market, returns the closed share of the collateral."""
    held = accounts.position
    after = held + traded
    flip = held * after < 0
    opened = np.where(flip, np.abs(after), np.maximum(np.abs(after) - np.abs(held), 0.0))
    closed = np.where(flip, np.abs(held), np.maximum(np.abs(held) - np.abs(after), 0.0))
    back = accounts.collateral * np.divide(
        closed, np.abs(held), out=np.zeros_like(closed), where=np.abs(held) > 0
    )
    posted = initial_margin(contract, opened, price, rate) - back
    return MarginAccounts(after, accounts.collateral + posted, accounts.mark), posted
