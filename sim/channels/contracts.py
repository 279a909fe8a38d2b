"""Long-term take-or-pay contracts: the book of contracts, who asks for one, billing, defaults.

The buyer's rule (documented in docs/model.md): a buyer asks for a contract of ``G`` GPUs for a
term when the GPU-hours it expects to use over the term, valued at its own value per GPU-hour,
cover the contract cost (expected surplus >= 0) and, unless a run of its is waiting for a block
it cannot find on demand, the contract is cheaper per GPU-hour actually used than on-demand.
Providers screen credit (cash covering some months of payments) and sign at most a set share of a
site's capacity; an academic may not commit past its grant, nor beyond the money it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class ContractBook:
    """Growable arrays, one row per contract ever signed."""

    FIELDS = ("holder", "site", "provider", "gpus", "start", "end", "price", "active", "billed")

    def __init__(self) -> None:
        self.n = 0
        self._cap = 64
        self.holder = np.zeros(self._cap, dtype=np.int64)
        self.site = np.zeros(self._cap, dtype=np.int64)
        self.provider = np.zeros(self._cap, dtype=np.int64)
        self.gpus = np.zeros(self._cap)
        self.start = np.zeros(self._cap, dtype=np.int64)
        self.end = np.zeros(self._cap, dtype=np.int64)
        self.price = np.zeros(self._cap)
        self.active = np.zeros(self._cap, dtype=bool)
        self.billed = np.zeros(self._cap, dtype=np.int64)  # periods billed so far (from start)
        self.defaulted = np.zeros(self._cap)  # $ of the term left unpaid

    def add(self, holder, site, provider, gpus, start, end, price) -> np.ndarray:
        k = np.asarray(holder).size
        while self.n + k > self._cap:
            self._grow()
        rows = np.arange(self.n, self.n + k)
        for name, value in zip(
            ("holder", "site", "provider", "gpus", "start", "end", "price"),
            (holder, site, provider, gpus, start, end, price),
            strict=True,
        ):
            getattr(self, name)[rows] = value
        self.active[rows] = True
        self.billed[rows] = 0
        self.n += k
        return rows

    def _grow(self) -> None:
        self._cap *= 2
        for name in (*self.FIELDS, "defaulted"):
            old = getattr(self, name)
            new = np.zeros(self._cap, dtype=old.dtype)
            new[: old.size] = old
            setattr(self, name, new)

    def live(self) -> np.ndarray:
        return np.flatnonzero(self.active[: self.n])


@dataclass(frozen=True)
class Bill:
    rows: np.ndarray  # contracts billed
    amount: np.ndarray  # $ due per contract this bill
    periods: np.ndarray  # periods covered per contract


def bill(book: ContractBook, now: int, hours_per_period: float) -> Bill:
    """Amounts due for every live contract for the periods in ``[billed, now)`` of its term.

    ``price`` is in $/GPU-h; a period is ``hours_per_period`` hours."""
    rows = book.live()
    covered_to = np.minimum(now, book.end[rows]) - book.start[rows]
    periods = np.maximum(covered_to - book.billed[rows], 0)
    return Bill(
        rows=rows,
        amount=periods * hours_per_period * book.gpus[rows] * book.price[rows],
        periods=periods,
    )


def settle(cash: np.ndarray, holder: np.ndarray, due: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split each holder's cash over its bills; returns (paid per bill, holders that defaulted).

    A holder whose cash covers its total due pays in full; otherwise it pays what it has, pro
    rata over its contracts, and is in default.
    """
    total = np.bincount(holder, weights=due, minlength=cash.size)
    short = total > cash + 1e-9
    ratio = np.where(short, np.divide(cash, total, out=np.zeros_like(cash), where=total > 0), 1.0)
    paid = due * ratio[holder]
    return paid, np.flatnonzero(short & (total > 0))


def expected_use_share(
    load_gpus: np.ndarray,
    pending_gpu_hours: np.ndarray,
    runs_per_year: float | np.ndarray,
    mean_run_gpu_hours: np.ndarray,
    contract_gpus: np.ndarray,
    term_years: float,
) -> np.ndarray:
    """Share of a contract's GPU-hours the buyer expects to use over the term (0..1)."""
    term_hours = term_years * 365.0 * 24
    expected = (
        np.minimum(load_gpus, contract_gpus) * term_hours
        + pending_gpu_hours
        + runs_per_year * mean_run_gpu_hours * term_years
    )
    return np.clip(expected / np.maximum(contract_gpus * term_hours, 1e-9), 0.0, 1.0)
