"""Agent populations as structures of arrays: one array per attribute, one row per agent.

Buyers of every class share one population (rows grouped by class) so that channel logic runs
once over all of them; class-specific behaviour reads ``kind``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.calendar import DAYS_PER_YEAR
from sim.schema import ProviderClass, Scenario

BUYER_CLASSES = ("frontier_labs", "startups", "academics", "public_programme")
DEMAND_CLASSES = BUYER_CLASSES[:3]  # classes that need compute (the programme only buys it)
LAB, STARTUP, ACADEMIC, PUBLIC = range(4)
PROVIDER_CLASSES = ("hyperscalers", "neoclouds")


def owning_cost_per_gpu_hour(pc: ProviderClass) -> tuple[float, float]:
    """(fixed $/installed GPU-h: capital annuity + other opex, energy $/used GPU-h)."""
    r, n = pc.cost_of_capital, pc.economic_life_years
    annuity = pc.gpu_capital_cost * (r / (1 - (1 + r) ** -n) if r > 0 else 1 / n)
    fixed = annuity / (DAYS_PER_YEAR * 24) + pc.other_opex_per_gpu_hour
    energy = pc.power_kw_per_gpu * pc.pue * pc.electricity_price
    return fixed, energy


@dataclass
class Sites:
    """Providers and their sites. Site arrays are indexed by site; provider arrays by provider."""

    provider_class: np.ndarray  # [provider] index into PROVIDER_CLASSES
    list_price: np.ndarray  # [provider] current on-demand price, $/GPU-h
    fixed_cost: np.ndarray  # [provider] $/installed GPU-h
    energy_cost: np.ndarray  # [provider] $/used GPU-h
    site_provider: np.ndarray  # [site] owning provider
    initial_gpus: np.ndarray  # [site]
    defaulted: np.ndarray = field(init=False)  # [provider] $ owed to it and never paid

    def __post_init__(self) -> None:
        self.defaulted = np.zeros(self.provider_class.size)

    @property
    def providers(self) -> int:
        return int(self.provider_class.size)

    @property
    def site_price(self) -> np.ndarray:
        return self.list_price[self.site_provider]

    @property
    def site_class(self) -> np.ndarray:
        return self.provider_class[self.site_provider]


def build_sites(sc: Scenario, rng: np.random.Generator) -> tuple[Sites, list[ProviderClass]]:
    classes = [sc.providers.hyperscalers, sc.providers.neoclouds]
    pcls: list[int] = []
    site_prov: list[int] = []
    price: list[float] = []
    fixed: list[float] = []
    energy: list[float] = []
    gpus: list[float] = []
    for k, pc in enumerate(classes):
        f, e = owning_cost_per_gpu_hour(pc)
        prices = pc.on_demand_price.sample(rng, pc.count)
        for i in range(pc.count):
            pid = len(pcls)
            pcls.append(k)
            price.append(prices[i])
            fixed.append(f)
            energy.append(e)
            site_prov.extend([pid] * pc.sites_per_provider)
            gpus.extend(np.round(pc.gpus_per_site.sample(rng, pc.sites_per_provider)))
    sites = Sites(
        provider_class=np.asarray(pcls, dtype=np.int64),
        list_price=np.asarray(price, dtype=np.float64),
        fixed_cost=np.asarray(fixed, dtype=np.float64),
        energy_cost=np.asarray(energy, dtype=np.float64),
        site_provider=np.asarray(site_prov, dtype=np.int64),
        initial_gpus=np.maximum(np.asarray(gpus, dtype=np.float64), 0.0),
    )
    return sites, classes


@dataclass
class Buyers:
    """All buyer agents. Money in $, compute in GPUs (rates) and GPU-hours (totals).

    ``cash`` is a read-only view of the buyers' balances in ``sim.accounts.Accounts`` once the
    world has opened their accounts (``attach_cash``); money moves only through the accounts."""

    kind: np.ndarray  # index into BUYER_CLASSES
    initial_cash: np.ndarray
    alive: np.ndarray  # startups fail; others stay alive
    base_load: (
        np.ndarray
    )  # steady demand (GPUs): lab steady use, startup inference, academic small jobs
    load_value: np.ndarray  # $/GPU-h of the steady demand
    burn: np.ndarray  # $/month outside compute (startups)
    grant: np.ndarray  # $/year (academics)
    cash: np.ndarray = field(init=False)
    demanded: np.ndarray = field(init=False)  # GPU-hours
    served: np.ndarray = field(init=False)  # GPU-hours
    value: np.ndarray = field(init=False)  # $ value of GPU-hours served
    largest_block: np.ndarray = field(init=False)
    defaulted: np.ndarray = field(init=False)  # $ owed and not paid
    runs_since_round: np.ndarray = field(init=False)
    next_round: np.ndarray = field(init=False)  # day of next funding attempt
    pool_gpus: np.ndarray = field(init=False)  # contracted GPUs held now
    pool_block: np.ndarray = field(init=False)  # largest single contract held now (GPUs)
    pool_busy: np.ndarray = field(init=False)  # GPUs of the pool running a training run
    pool_busy_until: np.ndarray = field(init=False)  # period the pool run ends
    public_gpus: np.ndarray = field(init=False)  # standing public grant (GPUs), academics

    def __post_init__(self) -> None:
        n = self.kind.size
        for name in ("initial_cash", "base_load", "load_value", "burn", "grant"):
            if getattr(self, name).size != n:
                raise ValueError(
                    f"buyer attribute {name!r} has {getattr(self, name).size} rows, not {n}"
                )
        self.cash = self.initial_cash.copy()
        self.cash.flags.writeable = False
        for name in (
            "demanded",
            "served",
            "value",
            "largest_block",
            "defaulted",
            "runs_since_round",
            "next_round",
            "pool_gpus",
            "pool_block",
            "pool_busy",
        ):
            setattr(self, name, np.zeros(n))
        self.pool_busy_until = np.zeros(n, dtype=np.int64)
        self.public_gpus = np.zeros(n)

    def __len__(self) -> int:
        return int(self.kind.size)

    def attach_cash(self, balances: np.ndarray) -> None:
        """Read cash from now on from ``balances`` (a read-only view of the accounts)."""
        self.cash = balances


def build_buyers(sc: Scenario, rng: np.random.Generator) -> Buyers:
    b = sc.buyers
    lab, st, ac = b.frontier_labs, b.startups, b.academics
    prog = int(sc.public_programme.enabled)
    n = (lab.count, st.count, ac.count, prog)
    kind = np.repeat(np.arange(4), n)
    has_budget = rng.random(ac.count) < ac.cloud_budget_share
    grant = np.where(has_budget, ac.annual_budget.sample(rng, ac.count), 0.0)
    first_grant_share = _months_to(sc, ac.grant_month) / 12
    cash = np.concatenate(
        [
            lab.cash.sample(rng, lab.count),
            st.initial_cash.sample(rng, st.count),
            grant * first_grant_share,
            np.zeros(prog),  # the programme receives its budget at each yearly cycle
        ]
    )
    base = np.concatenate(
        [
            lab.steady_gpus.sample(rng, lab.count),
            st.inference_gpus.sample(rng, st.count),
            ac.small_job_gpus.sample(rng, ac.count),
            np.zeros(prog),
        ]
    )
    value = np.concatenate(
        [
            lab.value_per_gpu_hour.sample(rng, lab.count),
            st.inference_value_per_gpu_hour.sample(rng, st.count),
            ac.value_per_gpu_hour.sample(rng, ac.count),
            np.zeros(prog),
        ]
    )
    burn = np.concatenate(
        [np.zeros(lab.count), st.monthly_burn.sample(rng, st.count), np.zeros(ac.count + prog)]
    )
    buyers = Buyers(
        kind=kind,
        initial_cash=cash,
        alive=np.ones(kind.size, dtype=bool),
        base_load=base,
        load_value=value,
        burn=burn,
        grant=np.concatenate([np.zeros(lab.count + st.count), grant, np.zeros(prog)]),
    )
    # stagger first funding rounds so startups are not in lockstep
    interval = st.round_interval_months * DAYS_PER_YEAR / 12
    buyers.next_round[kind == STARTUP] = rng.uniform(0, interval, st.count)
    buyers.next_round[kind != STARTUP] = np.inf
    return buyers


def _months_to(sc: Scenario, month: int) -> float:
    """Months from the scenario start (1 January) to the first grant renewal."""
    return float(month - 1) if month > 1 else 12.0
