"""Stylized markets that replace the agent world: textbook settings with known answers.

``cournot_forward``: n symmetric providers with constant marginal cost c sell GPU capacity into
linear inverse demand P = a - b Q (P in $/GPU-h, Q in GPUs, i.e. GPU-hours per hour). Before the
spot market there are N forward rounds; in each, every provider sells forward at the spot price
the market expects. Allaz and Vila (1993): forwards make each provider more aggressive in the
spot market, so the markup falls with N (CALIBRATION.md, "Results from economics").

The equilibrium comes from the numerical backward induction in
``sim.markets.cournot.allaz_vila_equilibrium``, which is written for b = 1. A general slope
reduces to it by measuring quantities in units of 1/b GPUs: with q' = b q and f' = b f,

    (a - b Q)(q - f) - c q = [(a - Q')(q' - f') - c q'] / b,

so every provider's payoff is the b = 1 payoff divided by the constant b. Dividing all payoffs by
the same positive constant leaves every stage's equilibrium unchanged, so the b = 1 solution
gives the same price and markup, and quantities, forward sales and profits divided by b. The
markup therefore does not depend on b and the closed forms apply as published.

Optional capacity: the solver has no output caps. When ``capacity_per_firm`` is below a
provider's uncapped output, the spot stage is solved again with the caps
(``cournot_spot_quantities``) at the forward positions of the uncapped game; with symmetric
firms every provider then produces at its cap. A binding cap also changes the forward game
itself (Murphy and Smeers 2010), which this does not model; ``stylized.capacity_binds`` flags
the case, and the closed-form markup is then only a reference for the uncapped market.

Everything is deterministic: every replication returns the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.markets.cournot import (
    allaz_vila_equilibrium,
    allaz_vila_markup_closed_form,
    cournot_spot_quantities,
)
from sim.schema import Scenario, StylizedMarket

ROUNDS_COLUMNS = ("replication", "round", "firm", "forward_sales", "position_after")
FIRMS_COLUMNS = ("replication", "firm", "spot_quantity", "forward_position", "profit")


def run_stylized(
    scenario: Scenario, replication: int = 0
) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """Summary metrics (``stylized.*``) and tables (``rounds``, ``firms``) of the stylized market.

    Quantities are in GPUs, prices in $/GPU-h, profits and surpluses in $ per hour of delivery.
    """
    spec = scenario.stylized
    if spec is None:
        raise ValueError("scenario has no stylized section")
    if spec.kind == "cournot_forward":
        return _cournot_forward(spec, replication)
    raise ValueError(f"unknown stylized market kind {spec.kind!r}")  # pragma: no cover


def _cournot_forward(
    spec: StylizedMarket, replication: int
) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    a, b, c = spec.demand_intercept, spec.demand_slope, spec.marginal_cost
    n, rounds = spec.firms, spec.forward_rounds
    eq = allaz_vila_equilibrium(a, c, n, rounds)  # in units of 1/b GPUs
    forward = eq.forward_sales / b  # [round, firm], GPUs
    position = forward.sum(axis=0)
    quantity = eq.quantity / b
    cap_per_firm = spec.capacity_per_firm
    capacity_binds = cap_per_firm is not None and bool(np.any(quantity > cap_per_firm))
    if cap_per_firm is not None and capacity_binds:
        cap = np.full(n, cap_per_firm * b)
        quantity = cournot_spot_quantities(a, c, position * b, cap).quantity / b
    total = float(quantity.sum())
    price = a - b * total
    markup = price - c
    closed = allaz_vila_markup_closed_form(a, c, n, rounds)
    competitive = (a - c) / b
    profit = (price - c) * quantity  # forwards sell at the expected spot price, which is realized
    summary = {
        "stylized.spot_price": price,
        "stylized.markup": markup,
        "stylized.markup_closed_form": closed,
        "stylized.markup_gap": markup / closed - 1,
        "stylized.markup_cournot": (a - c) / (n + 1),
        "stylized.lerner_index": markup / price,
        "stylized.total_quantity": total,
        "stylized.competitive_quantity": competitive,
        "stylized.forward_share": float(position.sum()) / total if total > 0 else float("nan"),
        "stylized.profit_per_firm": float(profit.mean()),
        "stylized.consumer_surplus": b * total**2 / 2,
        "stylized.deadweight_loss": b * (competitive - total) ** 2 / 2,
        "stylized.capacity_binds": float(capacity_binds),
    }
    summary = {k: float(v) for k, v in summary.items()}
    cumulative = np.cumsum(forward, axis=0)
    rounds_table = pd.DataFrame(
        {
            "replication": replication,
            "round": np.repeat(np.arange(1, rounds + 1), n),
            "firm": np.tile(np.arange(n), rounds),
            "forward_sales": forward.ravel(),
            "position_after": cumulative.ravel(),
        },
        columns=list(ROUNDS_COLUMNS),
    ).astype({"replication": "int64", "round": "int64", "firm": "int64"})
    firms_table = pd.DataFrame(
        {
            "replication": replication,
            "firm": np.arange(n),
            "spot_quantity": quantity,
            "forward_position": position,
            "profit": profit,
        },
        columns=list(FIRMS_COLUMNS),
    )
    return summary, {"rounds": rounds_table, "firms": firms_table}
