"""Cournot competition with forward trading before the spot market (Allaz and Vila 1993).

n symmetric firms with constant marginal cost c face inverse demand P = a - Q. In each of N
forward rounds every firm sells forward simultaneously, at the price the market expects the spot
to clear at; then the spot stage is a Cournot game in which a firm that sold f forward earns
P * (q - f) - c * q on its production q. Selling forward makes a firm more aggressive in the
spot market, so forwards lower the markup.

`allaz_vila_equilibrium` finds the subgame-perfect equilibrium numerically, by backward
induction. The game is linear-quadratic, so each stage's equilibrium actions are affine in the
positions accumulated so far; each stage is solved for zero and for unit positions, which
identifies that affine map. Within a stage the Nash equilibrium is found by Newton's method on
the firms' own marginal profits, all derivatives taken by central finite differences of the
profit functions. No closed form enters the solver; `allaz_vila_markup_closed_form` exists only
to check it.

`cournot_best_response` and `cournot_spot_quantities` are what the simulator uses: strategic
providers' spot output (and so their withholding) given their forward commitments and limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Payoff = Callable[[int, np.ndarray], float]


@dataclass(frozen=True)
class Affine:
    """x = matrix @ positions + offset."""

    matrix: np.ndarray
    offset: np.ndarray

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        return self.matrix @ positions + self.offset


@dataclass(frozen=True)
class AllazVilaEquilibrium:
    spot_price: float
    markup: float
    quantity: np.ndarray  # spot output of each firm
    forward_sales: np.ndarray  # [round, firm]: forward sales in each round


def _own_marginals(payoff: Payoff, x: np.ndarray, step: float) -> np.ndarray:
    """d payoff_i / d x_i for every player i, by central differences."""
    out = np.empty(x.size)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = step
        out[i] = (payoff(i, x + e) - payoff(i, x - e)) / (2 * step)
    return out


def solve_nash(payoff: Payoff, n: int, scale: float, max_iter: int = 20) -> np.ndarray:
    """Actions at which every player's own marginal payoff is zero (Newton's method).

    The Jacobian of the marginals is itself taken by finite differences; for quadratic payoffs
    one step lands on the equilibrium and the next confirms it.
    """
    step = 1e-3 * scale
    x = np.zeros(n)
    for _ in range(max_iter):
        marginals = _own_marginals(payoff, x, step)
        jacobian = np.empty((n, n))
        for j in range(n):
            e = np.zeros(n)
            e[j] = step
            up, down = _own_marginals(payoff, x + e, step), _own_marginals(payoff, x - e, step)
            jacobian[:, j] = (up - down) / (2 * step)
        move = np.linalg.solve(jacobian, -marginals)
        x = x + move
        if np.abs(move).max() <= 1e-12 * scale:
            break
    return x


def _affine_response(solve_at: Callable[[np.ndarray], np.ndarray], n: int) -> Affine:
    """Identify an affine map of the positions by evaluating it at 0 and at unit vectors."""
    offset = solve_at(np.zeros(n))
    matrix = np.column_stack([solve_at(np.eye(n)[j]) - offset for j in range(n)])
    return Affine(matrix, offset)


def _spot_stage(a: float, c: float, n: int) -> Affine:
    """Spot Cournot outputs as a function of the firms' forward positions."""

    def solve_at(forward: np.ndarray) -> np.ndarray:
        def payoff(i: int, q: np.ndarray) -> float:
            return (a - q.sum()) * (q[i] - forward[i]) - c * q[i]

        return solve_nash(payoff, n, a - c)

    return _affine_response(solve_at, n)


def _forward_round(a: float, c: float, n: int, later: Affine) -> Affine:
    """Forward sales of one round as a function of the positions before it.

    `later` maps positions after this round to spot outputs (the rest of the game played out).
    Everything sold from now on fetches the spot price, so a firm's payoff is
    P * (q - f) - c * q, with f its position before this round.
    """

    def solve_at(before: np.ndarray) -> np.ndarray:
        def payoff(i: int, sales: np.ndarray) -> float:
            q = later(before + sales)
            return (a - q.sum()) * (q[i] - before[i]) - c * q[i]

        return solve_nash(payoff, n, a - c)

    return _affine_response(solve_at, n)


def allaz_vila_equilibrium(a: float, c: float, n: int, rounds: int) -> AllazVilaEquilibrium:
    """Subgame-perfect equilibrium of `rounds` forward rounds followed by spot Cournot."""
    if not a > c or n < 1 or rounds < 0:
        raise ValueError("need a > c, n >= 1 and rounds >= 0.")
    continuation = _spot_stage(a, c, n)
    policies = []
    for _ in range(rounds):
        policy = _forward_round(a, c, n, continuation)
        policies.append(policy)
        after = continuation
        continuation = Affine(
            after.matrix @ (np.eye(n) + policy.matrix), after.matrix @ policy.offset + after.offset
        )
    positions, sales = np.zeros(n), []
    for policy in reversed(policies):
        sales.append(policy(positions))
        positions = positions + sales[-1]
    quantity = _spot_stage(a, c, n)(positions)
    price = a - quantity.sum()
    forward = np.array(sales).reshape(rounds, n)
    return AllazVilaEquilibrium(price, price - c, quantity, forward)


def allaz_vila_markup_closed_form(a: float, c: float, n: int, rounds: int) -> float:
    """Published markups (CALIBRATION.md), used only as the tests' reference.

    Duopoly: (a - c) / (2N + 3); n >= 3: (a - c)(n - 2) / (n (n - 1)^(N + 1) - 2), which gives
    (a - c) / (n + 1) for N = 0 and (a - c) / (n^2 + 1) for N = 1.
    """
    if n == 2:
        return (a - c) / (2 * rounds + 3)
    if n == 1:
        return (a - c) / 2
    return (a - c) * (n - 2) / (n * (n - 1) ** (rounds + 1) - 2)


def cournot_best_response(
    a: float,
    c: float,
    others_quantity: np.ndarray | float,
    forward_position: np.ndarray | float,
    capacity: np.ndarray | float = np.inf,
) -> np.ndarray:
    """Profit-maximizing spot output given the others' output and one's own forward sales.

    Maximizes (a - Q_-i - q)(q - f) - c q: q = (a - c - Q_-i + f) / 2, kept within
    [0, capacity]. Forward sales f raise output: the firm no longer gains from a high price on
    the units it has already sold. Works elementwise on arrays.
    """
    q = (a - c - np.asarray(others_quantity, dtype=float) + forward_position) / 2
    return np.clip(q, 0.0, capacity)


@dataclass(frozen=True)
class CournotSpot:
    quantity: np.ndarray
    price: float
    withheld: np.ndarray  # capacity left idle by choice


def cournot_spot_quantities(
    a: float,
    c: float | np.ndarray,
    forward_positions: np.ndarray,
    capacity: np.ndarray | None = None,
    tol: float = 1e-10,
    max_sweeps: int = 10_000,
) -> CournotSpot:
    """Spot Cournot equilibrium of firms with forward positions, costs and capacities.

    Firms best-respond one after another until nothing moves. Linear Cournot is an exact
    potential game with a concave potential, so these sweeps converge, capacity limits
    included. `withheld` is capacity minus output: the strategic withholding the simulator
    reports.
    """
    forward = np.asarray(forward_positions, dtype=float)
    cost = np.broadcast_to(np.asarray(c, dtype=float), forward.shape)
    cap = np.full(forward.shape, np.inf) if capacity is None else np.asarray(capacity, float)
    q = np.zeros(forward.size)
    for _ in range(max_sweeps):
        moved = 0.0
        for i in range(q.size):
            new = cournot_best_response(a, cost[i], q.sum() - q[i], forward[i], cap[i])
            moved = max(moved, abs(float(new) - q[i]))
            q[i] = new
        if moved <= tol * max(1.0, a):
            break
    return CournotSpot(q, a - q.sum(), cap - q)
