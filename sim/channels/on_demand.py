"""Posted-price on-demand service of steady load (many short jobs) from idle capacity.

Steady load is divisible: it does not need a block, only GPUs this period. Providers are visited
from the cheapest list price up; at each one, every buyer still wanting GPUs, valuing them at or
above the price and able to pay, asks for what it still wants (capped by its cash); when asks
exceed the provider's idle GPUs, each is served the same share (pro-rata rationing), and the
rest spills over to the next provider.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoadService:
    served: np.ndarray  # [buyer] GPUs served this period
    paid: np.ndarray  # [buyer] $ paid
    sold: np.ndarray  # [provider] GPUs sold this period
    revenue: np.ndarray  # [provider] $ received


def serve_load(
    want: np.ndarray,
    value: np.ndarray,
    cash: np.ndarray,
    price: np.ndarray,
    idle: np.ndarray,
    hours_per_period: float,
) -> LoadService:
    """Serve ``want`` [buyer] GPUs from providers' ``idle`` GPUs at list ``price`` [provider]."""
    sold = np.zeros(price.size)
    revenue = np.zeros(price.size)
    idx = np.flatnonzero((want > 0) & (cash > 0))
    rest = want[idx].astype(float)
    money = cash[idx].astype(float)
    val = value[idx]
    got_all = np.zeros(idx.size)
    for p in np.argsort(price, kind="stable"):
        if idle[p] <= 0 or price[p] <= 0:
            continue
        unit = price[p] * hours_per_period
        ask = np.minimum(rest, money / unit)
        ask[val < price[p]] = 0.0
        total = ask.sum()
        if total <= 1e-12:
            continue
        got = ask if total <= idle[p] else ask * (idle[p] / total)
        rest -= got
        money -= got * unit
        got_all += got
        sold[p] = min(total, idle[p])
        revenue[p] = sold[p] * unit
    served = np.zeros(want.size)
    served[idx] = got_all
    paid = np.zeros(want.size)
    paid[idx] = cash[idx] - money
    return LoadService(served=served, paid=paid, sold=sold, revenue=revenue)


def spread_over_sites(
    total: np.ndarray, site_provider: np.ndarray, site_idle: np.ndarray
) -> np.ndarray:
    """Split each provider's sold GPUs over its sites in proportion to their idle GPUs."""
    provider_idle = np.bincount(site_provider, weights=site_idle, minlength=total.size)
    share = np.divide(
        site_idle,
        provider_idle[site_provider],
        out=np.zeros_like(site_idle),
        where=provider_idle[site_provider] > 0,
    )
    return np.minimum(total[site_provider] * share, site_idle)
