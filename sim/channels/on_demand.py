"""Posted-price on-demand service of steady load (many short jobs) from idle capacity.

Steady load is divisible: it does not need a block, only GPUs for the slot. The rule:
providers are visited from the cheapest list price up; at each one, every buyer valuing GPUs at
or above the price asks for what it still wants; when asks exceed the provider's idle GPUs, each
is served the same share (pro-rata rationing), and the rest spills over to the next provider.
A buyer asks for no more than its cash buys at the highest list price it accepts, so it can pay
whatever mix of providers serves it.

Because eligibility is a value threshold, the buyers eligible at a provider are exactly those
eligible at every cheaper one, so all of them have lost the same share of their ask to rationing
so far. The whole sequence therefore reduces to one scalar recursion over providers, followed
by one vectorized step over buyers (tested against the plain provider-by-provider loop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoadService:
    served: np.ndarray  # [buyer] GPUs served this slot
    paid: np.ndarray  # [buyer] $ paid
    sold: np.ndarray  # [provider] GPUs sold this slot
    revenue: np.ndarray  # [provider] $ received


def capped_asks(want, value, cash, price, hours_per_period) -> tuple[np.ndarray, np.ndarray]:
    """(ask per buyer, number of providers whose price the buyer accepts)."""
    ladder = np.sort(price)
    reach = np.searchsorted(ladder, value, side="right")
    top = ladder[np.maximum(reach - 1, 0)] * hours_per_period
    afford = np.divide(cash, top, out=np.zeros_like(want, dtype=float), where=top > 0)
    ask = np.where(reach > 0, np.minimum(want, np.maximum(afford, 0.0)), 0.0)
    return ask, reach


def serve_load(
    want: np.ndarray,
    value: np.ndarray,
    cash: np.ndarray,
    price: np.ndarray,
    idle: np.ndarray,
    hours_per_period: float,
) -> LoadService:
    """Serve ``want`` [buyer] GPUs from providers' ``idle`` GPUs at list ``price`` [provider]."""
    order = np.argsort(price, kind="stable")
    ladder, room = price[order], np.maximum(idle[order], 0.0)
    ask, reach = capped_asks(want, value, cash, price, hours_per_period)
    n = price.size
    # asks of buyers eligible at the k-th cheapest provider and beyond
    eligible = np.cumsum(np.bincount(reach, ask, n + 1)[::-1])[::-1]
    left = np.ones(n + 1)  # share of an eligible ask not yet served before provider k
    cost = np.zeros(n + 1)  # $ per GPU asked, paid before provider k
    sold_sorted = np.zeros(n)
    for k in range(n):
        demand = left[k] * eligible[k + 1]
        share = min(1.0, room[k] / demand) if demand > 0 else 0.0
        sold_sorted[k] = share * demand
        cost[k + 1] = cost[k] + left[k] * share * ladder[k] * hours_per_period
        left[k + 1] = left[k] * (1.0 - share)
    served = ask * (1.0 - left[reach])
    paid = ask * cost[reach]
    sold = np.zeros(n)
    sold[order] = sold_sorted
    return LoadService(served=served, paid=paid, sold=sold, revenue=sold * price * hours_per_period)


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
