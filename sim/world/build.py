"""The world's state at the start of a replication: populations drawn, accounts opened."""

from __future__ import annotations

import numpy as np

from sim.accounts import AccountLayout, Accounts
from sim.agents import ACADEMIC, PUBLIC, build_buyers, build_sites
from sim.calendar import Calendar
from sim.channels.contracts import ContractBook
from sim.demand import demand_profiles, generate_runs
from sim.ledger import CapacityLedger
from sim.schema import Scenario
from sim.seeding import component_rng
from sim.state import Fanout, MarketMakers, Pools, RunQueue, Signals, State, Usage


def build_state(scenario: Scenario, seed: np.random.SeedSequence) -> State:
    cal = Calendar.from_time(scenario.time)
    sites, provider_specs = build_sites(scenario, component_rng(seed, "sites"))
    buyers = build_buyers(scenario, component_rng(seed, "buyers"))
    profiles = demand_profiles(scenario, cal)
    # the season's segments: the profile changes exactly where the segment number does
    turns = np.any(profiles[:, 1:] != profiles[:, :-1], axis=0)
    season = np.concatenate([[0], np.cumsum(turns)])
    runs = generate_runs(scenario, cal, buyers, profiles, component_rng(seed, "runs"))
    mm = scenario.market_makers
    capital = mm.capital.sample(component_rng(seed, "markets"), mm.count)
    layout = AccountLayout(len(buyers), sites.providers, mm.count)
    accounts = open_accounts(layout, cal.horizon, buyers.initial_cash, buyers.kind, capital)
    buyers.attach_cash(accounts.cash_of(0, layout.buyers))
    prog = np.flatnonzero(buyers.kind == PUBLIC)
    return State(
        scenario=scenario,
        cal=cal,
        buyers=buyers,
        sites=sites,
        provider_specs=provider_specs,
        runs=runs,
        profiles=profiles,
        season=season,
        ledger=CapacityLedger(sites.initial_gpus, cal.horizon),
        book=ContractBook(),
        accounts=accounts,
        queue=RunQueue(runs, buyers),
        pools=Pools.empty(len(buyers)),
        signals=Signals(np.full(cal.horizon, np.nan)),
        usage=Usage.empty(cal.horizon),
        makers=MarketMakers(capital.copy(), np.zeros(mm.count)),
        waiting_blocked=np.zeros(len(buyers), dtype=bool),
        programme=int(prog[0]) if prog.size else None,
        listener=Fanout([]),
    )


def open_accounts(
    layout: AccountLayout,
    periods: int,
    cash: np.ndarray,
    kind: np.ndarray,
    maker_capital: np.ndarray,
) -> Accounts:
    """Accounts with the opening balances booked: academics' first grants from the grant
    agencies, every other buyer's cash and the market makers' capital from investors."""
    accounts = Accounts(layout, periods)
    academic = np.flatnonzero(kind == ACADEMIC)
    others = np.flatnonzero(kind != ACADEMIC)
    agencies, investors = layout.single("grant_agencies"), layout.single("investors")
    accounts.transfer("opening_balance", 0, agencies, academic, cash[academic])
    accounts.transfer("opening_balance", 0, investors, others, cash[others])
    makers = layout.first_maker + np.arange(layout.market_makers)
    accounts.transfer("opening_balance", 0, investors, makers, maker_capital)
    return accounts
