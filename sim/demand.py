"""Demand over time: seasonal and shock profiles, and the training runs each buyer will need.

Runs are drawn up front for the whole horizon (a non-homogeneous Poisson process per agent, by
thinning), so a replication's demand does not depend on how the markets treat it; a startup that
has failed by a run's arrival simply never asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.agents import ACADEMIC, BUYER_CLASSES, STARTUP, Buyers
from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR, Calendar
from sim.schema import Scenario

# run status codes
FUTURE, PENDING, RUNNING, COMPLETED, ABANDONED, KILLED, VOID, RESERVED = range(8)
STATUS_NAMES = (
    "future",
    "pending",
    "running",
    "completed",
    "abandoned",
    "killed",
    "void",
    "reserved",
)
CHANNELS = ("none", "on_demand", "contract", "spot", "forward", "public")
NONE, ON_DEMAND, CONTRACT, SPOT, FORWARD, PUBLIC = range(6)


def academic_season(sc: Scenario, cal: Calendar) -> np.ndarray:
    """Multiplier of academic demand per period, peaking before conference deadlines; mean 1."""
    ac = sc.buyers.academics
    day = np.arange(cal.horizon) / cal.periods_per_day
    day_of_year = day % DAYS_PER_YEAR
    peak = np.zeros(cal.horizon, dtype=bool)
    for month in ac.conference_deadline_months:
        deadline = (month - 1) * DAYS_PER_MONTH + 14  # mid-month
        before = (deadline - day_of_year) % DAYS_PER_YEAR
        peak |= before < ac.peak_weeks * 7
    factor = np.where(peak, ac.peak_factor, 1.0)
    return factor / factor.mean()


def boom_profile(sc: Scenario, cal: Calendar, cls: str) -> np.ndarray:
    """Multiplier of demand for buyer class ``cls`` per period from demand_boom shocks."""
    out = np.ones(cal.horizon)
    for shock in sc.shocks:
        if shock.kind != "demand_boom" or (shock.classes and cls not in shock.classes):
            continue
        a = int(shock.start_day * cal.periods_per_day)
        b = int((shock.start_day + shock.duration_days) * cal.periods_per_day)
        out[a:b] *= shock.magnitude
    return out


def demand_profiles(sc: Scenario, cal: Calendar) -> np.ndarray:
    """[class, period] multiplier of steady demand (seasons and booms)."""
    prof = np.stack([boom_profile(sc, cal, c) for c in BUYER_CLASSES])
    prof[ACADEMIC] *= academic_season(sc, cal)
    return prof


@dataclass
class Runs:
    """Training runs, sorted by arrival then a random tie-break: row order is queue priority."""

    agent: np.ndarray
    gpus: np.ndarray
    hours: np.ndarray
    periods: np.ndarray
    arrival: np.ndarray  # period the need appears
    latest_start: np.ndarray  # last period the owner will still start it
    value: np.ndarray  # $/GPU-h
    gpu_hours: np.ndarray = field(init=False)
    host: np.ndarray = field(init=False)  # holder whose contract pool runs it (-1: none)
    status: np.ndarray = field(init=False)
    channel: np.ndarray = field(init=False)
    start: np.ndarray = field(init=False)
    price: np.ndarray = field(init=False)  # $/GPU-h paid
    paid: np.ndarray = field(init=False)  # $ paid for the block directly (not through a pool)
    site: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = self.agent.size
        self.gpu_hours = self.gpus * self.hours
        self.host = np.full(n, -1, dtype=np.int64)
        self.status = np.full(n, FUTURE, dtype=np.int8)
        self.channel = np.zeros(n, dtype=np.int8)
        self.start = np.full(n, -1, dtype=np.int64)
        self.price = np.full(n, np.nan)
        self.paid = np.zeros(n)
        self.site = np.full(n, -1, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.agent.size)


def generate_runs(
    sc: Scenario, cal: Calendar, buyers: Buyers, profiles: np.ndarray, rng: np.random.Generator
) -> Runs:
    st, ac = sc.buyers.startups, sc.buyers.academics
    parts = [
        _class_runs(cal, buyers, STARTUP, st.runs_per_year, st, profiles[STARTUP], rng),
        _class_runs(cal, buyers, ACADEMIC, ac.runs_per_year, ac, profiles[ACADEMIC], rng),
    ]
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cols.pop("tiebreak"), cols["arrival"]))
    return Runs(**{k: v[order] for k, v in cols.items()})


def _class_runs(cal, buyers, kind, rate_per_year, spec, profile, rng) -> dict[str, np.ndarray]:
    agents = np.flatnonzero(buyers.kind == kind)
    years = cal.horizon / cal.periods_per_day / DAYS_PER_YEAR
    peak = float(profile.max()) if profile.size else 1.0
    counts = rng.poisson(rate_per_year * peak * years, agents.size)
    agent = np.repeat(agents, counts)
    arrival = rng.integers(0, cal.horizon, agent.size)
    keep = rng.random(agent.size) * peak < profile[arrival]
    agent, arrival = agent[keep], arrival[keep]
    n = agent.size
    gpus = np.maximum(1, np.round(spec.run_gpus.sample(rng, n)))
    hours = np.maximum(1.0, spec.run_hours.sample(rng, n))
    periods = cal.periods_for_hours(hours)
    slack = cal.periods_per_day * spec.deadline_slack_days.sample(rng, n)
    return {
        "agent": agent,
        "gpus": gpus,
        "hours": periods * float(cal.hours_per_period),
        "periods": periods,
        "arrival": arrival,
        "latest_start": arrival + np.floor(slack).astype(np.int64),
        "value": spec.value_per_gpu_hour.sample(rng, n),
        "tiebreak": rng.random(n),
    }
