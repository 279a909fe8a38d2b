"""Strategic providers: Cournot withholding of idle capacity from a spot auction.

A strategic provider reads the session's bids as a linear inverse demand P = A - B Q (fitted to
the bid curve), takes the other providers' offers as given, and offers the quantity that
maximizes its profit (a Cournot best response, ``sim.markets.cournot``), given what it has
already sold forward: forward sales raise the offer, which is the Allaz-Vila channel by which
forward markets discipline market power. Best responses are iterated to a fixed point (a Nash
equilibrium in quantities); price-taking providers offer all their idle capacity.
"""

from __future__ import annotations

import numpy as np

from sim.markets.cournot import cournot_best_response


def linear_inverse_demand(limit: np.ndarray, qty: np.ndarray) -> tuple[float, float]:
    """(A, B) of the line P = A - B Q fitted, quantity-weighted, to the bid step curve."""
    keep = qty > 0
    if keep.sum() < 2:
        return (float(limit[keep].max()) if keep.any() else 0.0), np.inf
    order = np.argsort(-limit[keep], kind="stable")
    p, q = limit[keep][order], qty[keep][order]
    mid = np.cumsum(q) - q / 2
    slope, intercept = np.polyfit(mid, p, 1, w=np.sqrt(q))
    if slope >= 0:
        return float(p.max()), np.inf
    return float(intercept), float(-slope)


def strategic_offers(
    idle: np.ndarray,
    cost: np.ndarray,
    strategic: np.ndarray,
    intercept: float,
    slope: float,
    forward: np.ndarray | None = None,
    sweeps: int = 200,
) -> np.ndarray:
    """GPUs each provider offers: all idle capacity for price-takers, the Cournot fixed point
    for strategic ones (in units where the demand slope is 1, then scaled back)."""
    offer = idle.astype(float).copy()
    if not strategic.any() or not np.isfinite(slope) or slope <= 0:
        return offer
    f = np.zeros_like(offer) if forward is None else forward
    who = np.flatnonzero(strategic)
    for _ in range(sweeps):
        before = offer[who].copy()
        for i in who:  # Gauss-Seidel over the few strategic providers
            others = (offer.sum() - offer[i]) * slope
            q = cournot_best_response(intercept, cost[i], others, f[i] * slope, idle[i] * slope)
            offer[i] = float(q) / slope
        if np.allclose(before, offer[who], rtol=1e-9, atol=1e-9):
            break
    return offer
