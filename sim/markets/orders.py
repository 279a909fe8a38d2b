"""Order books and clearing results for divisible call markets.

Every auction mechanism in the registry takes a book dataclass and returns a result dataclass
that exposes the same four arrays (`buy_filled`, `buy_payment`, `sell_filled`, `sell_revenue`),
indexed like the book's `buy_limit`, `buy_qty`, `sell_reserve` and `sell_qty`. Code that settles
trades (the simulator's ledger, the registry tests) can then treat every mechanism alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FloatArray = np.ndarray
IntArray = np.ndarray


def as_float_array(name: str, values: object, length: int | None = None) -> FloatArray:
    """Copy `values` into a read-only 1-D float array; reject NaN so comparisons stay total."""
    array = np.array(values, dtype=float, ndmin=1)
    if array.ndim != 1:
        raise ValueError(f'"{name}" must be one-dimensional, got shape {array.shape}.')
    if length is not None and array.size != length:
        raise ValueError(f'"{name}" must have {length} entries, got {array.size}.')
    if np.isnan(array).any():
        raise ValueError(f'"{name}" must not contain NaN.')
    array.flags.writeable = False
    return array


def as_int_array(name: str, values: object, length: int) -> IntArray:
    """Copy `values` into a read-only 1-D int64 array of the given length."""
    array = np.array(values, dtype=np.int64, ndmin=1)
    if array.ndim != 1 or array.size != length:
        raise ValueError(f'"{name}" must have {length} entries, got shape {array.shape}.')
    array.flags.writeable = False
    return array


def _check_quantities(name: str, qty: FloatArray) -> None:
    if not np.isfinite(qty).all() or (qty < 0).any():
        raise ValueError(f'"{name}" must be finite and >= 0.')


def _check_prices(name: str, price: FloatArray) -> None:
    if not np.isfinite(price).all():
        raise ValueError(f'"{name}" must be finite.')


@dataclass(frozen=True)
class OrderBook:
    """Divisible buy and sell orders for one or more products (e.g. GPU type x region).

    Quantities are in units of the product (GPU-hours, or lots for forwards); prices are per
    unit. `*_owner` identifies the agent behind each order and is passed through untouched.
    `*_time` is the submission time, used only by continuous mechanisms for time priority.
    """

    buy_qty: FloatArray
    buy_limit: FloatArray
    sell_qty: FloatArray
    sell_reserve: FloatArray
    # None asks for the default, which __post_init__ fills in: the attributes are always arrays.
    buy_owner: IntArray = None  # type: ignore[assignment]  # default filled in __post_init__
    sell_owner: IntArray = None  # type: ignore[assignment]  # default filled in __post_init__
    buy_product: IntArray = None  # type: ignore[assignment]  # default filled in __post_init__
    sell_product: IntArray = None  # type: ignore[assignment]  # default filled in __post_init__
    buy_time: FloatArray = None  # type: ignore[assignment]  # default filled in __post_init__
    sell_time: FloatArray = None  # type: ignore[assignment]  # default filled in __post_init__
    n_products: int = field(default=0)

    def __post_init__(self) -> None:
        buy_qty = as_float_array("buy_qty", self.buy_qty)
        sell_qty = as_float_array("sell_qty", self.sell_qty)
        nb, ns = buy_qty.size, sell_qty.size
        _check_quantities("buy_qty", buy_qty)
        _check_quantities("sell_qty", sell_qty)
        values = {
            "buy_qty": buy_qty,
            "sell_qty": sell_qty,
            "buy_limit": as_float_array("buy_limit", self.buy_limit, nb),
            "sell_reserve": as_float_array("sell_reserve", self.sell_reserve, ns),
            "buy_owner": _ints_or_default("buy_owner", self.buy_owner, nb, np.arange(nb)),
            "sell_owner": _ints_or_default("sell_owner", self.sell_owner, ns, np.arange(ns)),
            "buy_product": _ints_or_default("buy_product", self.buy_product, nb, np.zeros(nb)),
            "sell_product": _ints_or_default("sell_product", self.sell_product, ns, np.zeros(ns)),
            "buy_time": _floats_or_default("buy_time", self.buy_time, nb),
            "sell_time": _floats_or_default("sell_time", self.sell_time, ns),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        _check_prices("buy_limit", self.buy_limit)
        _check_prices("sell_reserve", self.sell_reserve)
        self._check_products()

    def _check_products(self) -> None:
        products = np.concatenate([self.buy_product, self.sell_product])
        if (products < 0).any():
            raise ValueError('"buy_product" and "sell_product" must be >= 0.')
        needed = int(products.max()) + 1 if products.size else 1
        if self.n_products == 0:
            object.__setattr__(self, "n_products", needed)
        elif self.n_products < needed:
            raise ValueError(f'"n_products" must be >= {needed}, got {self.n_products}.')

    @classmethod
    def from_divisible(cls, book: OrderBook) -> OrderBook:
        """Identity adapter, so the registry can turn a divisible book into any book type."""
        return book


def _ints_or_default(name: str, values: object, length: int, default: np.ndarray) -> IntArray:
    return as_int_array(name, default if values is None else values, length)


def _floats_or_default(name: str, values: object, length: int) -> FloatArray:
    return as_float_array(name, np.arange(length) if values is None else values, length)


@dataclass(frozen=True)
class ClearingResult:
    """Outcome of clearing an `OrderBook`.

    `price[k]` is product k's clearing price (NaN when nothing traded). Fills and money are per
    order, in the book's order; `welfare` is the realised gains from trade at the stated limits.
    """

    price: FloatArray
    volume: FloatArray
    buy_filled: FloatArray
    sell_filled: FloatArray
    buy_payment: FloatArray
    sell_revenue: FloatArray
    welfare: float


def settle(
    book: OrderBook, price: FloatArray, buy_filled: FloatArray, sell_filled: FloatArray
) -> ClearingResult:
    """Build a `ClearingResult` where every fill pays its product's single price."""
    buy_price = np.where(buy_filled > 0, price[book.buy_product], 0.0)
    sell_price = np.where(sell_filled > 0, price[book.sell_product], 0.0)
    volume = np.bincount(book.buy_product, weights=buy_filled, minlength=book.n_products)
    welfare = float(book.buy_limit @ buy_filled - book.sell_reserve @ sell_filled)
    return ClearingResult(
        price=price,
        volume=volume,
        buy_filled=buy_filled,
        sell_filled=sell_filled,
        buy_payment=buy_price * buy_filled,
        sell_revenue=sell_price * sell_filled,
        welfare=welfare,
    )
