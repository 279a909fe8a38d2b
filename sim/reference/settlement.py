"""Settlement rules of a single forward contract, written as pure functions on positions.

The simulator settles forwards inside the world (sim/world/forward.py), over all the windows
it trades at once; these per-contract versions state the rules plainly and the tests check
their conservation laws (every long has a short, cash sums to zero across a trade).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.markets.forward import ForwardContract


@dataclass(frozen=True)
class PhysicalDelivery:
    """Reservations to create: each long holder receives `receive_gpus` for the window, each
    short holder must provide `deliver_gpus` over the same window."""

    receiver: np.ndarray
    receive_gpus: np.ndarray
    provider: np.ndarray
    deliver_gpus: np.ndarray
    start: int
    periods: int


def physical_settlement(
    contract: ForwardContract, holder: np.ndarray, position_lots: np.ndarray
) -> PhysicalDelivery:
    """Turn net positions at delivery into reservations of GPUs for the delivery window."""
    position = np.asarray(position_lots, dtype=np.int64)
    if position.sum() != 0:
        raise ValueError('"position_lots" must sum to zero (every long has a short).')
    holder = np.asarray(holder)
    long, short = position > 0, position < 0
    return PhysicalDelivery(
        receiver=holder[long],
        receive_gpus=position[long] * contract.lot_gpus,
        provider=holder[short],
        deliver_gpus=-position[short] * contract.lot_gpus,
        start=contract.delivery_start,
        periods=contract.delivery_periods,
    )


def cash_settlement(
    contract: ForwardContract,
    position_lots: np.ndarray,
    entry_price: np.ndarray | float,
    index_price: float,
) -> np.ndarray:
    """Cash each position receives: (index - forward price) x lots x GPU-hours per lot.

    Longs gain when the spot index settles above the price they bought at, shorts lose the
    same; across a long and a short of one trade the payments cancel exactly.
    """
    gain = index_price - np.asarray(entry_price, dtype=float)
    return np.asarray(position_lots, dtype=float) * gain * contract.gpu_hours_per_lot
