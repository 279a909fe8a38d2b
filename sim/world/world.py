"""The simulated world: one typed state (``sim.state``), components around it, and the simpy
processes that call them: the session every period; contracting, billing, funding, grants, the
programme, capacity reviews and repricing at their intervals; spot and forward sessions; one
process per shock, per batch of contracts (expiry) and per capacity order (arrival)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import simpy

from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.schema import Scenario
from sim.seeding import component_rng
from sim.state import Listener, State
from sim.world.build import build_state
from sim.world.contracting import Contracting
from sim.world.forward import Forward
from sim.world.funding import Funding
from sim.world.on_demand import OnDemand
from sim.world.programme import Programme
from sim.world.runs import RunLifecycle
from sim.world.schedule import every, in_turn
from sim.world.spot import Spot
from sim.world.steady import SteadyLoad
from sim.world.supply import Supply
from sim.world.usage import UsageTracker


class World:
    def __init__(self, scenario: Scenario, seed: np.random.SeedSequence):
        self.sc = scenario
        self.env = simpy.Environment()
        self.state: State = build_state(scenario, seed)
        s, env = self.state, self.env
        self.subscribe(UsageTracker(s))
        contracts_rng = component_rng(seed, "contracts")
        self.runs = RunLifecycle(s)
        self.steady = SteadyLoad(s)
        self.on_demand = OnDemand(s)
        self.contracting = Contracting(s, env, contracts_rng)
        self.contracting.on_default = self.fail
        self.funding = Funding(s, env, component_rng(seed, "funding"), self.fail)
        self.supply = Supply(s, env)
        self.spot = Spot(s)
        self.programme = Programme(s, self.contracting, contracts_rng)
        self.forward = Forward(s, self.programme)
        self._day = max(1, round(s.cal.periods_per_day))

    def subscribe(self, listener: Listener) -> None:
        """``listener`` receives every event the world publishes from now on."""
        self.state.listener.listeners.append(listener)

    def run(self) -> None:
        sc, env, s = self.sc, self.env, self.state
        m, cal = sc.markets, s.cal
        if m.contracts.enabled:
            env.process(every(env, cal.periods(m.contracts.session_days), self.contracting.session))
            env.process(every(env, cal.periods(DAYS_PER_MONTH), self.contracting.billing, first=1))
        env.process(every(env, cal.periods(DAYS_PER_MONTH), self.funding.monthly, first=1))
        env.process(self.funding.grants())
        if s.programme is not None:
            env.process(every(env, cal.periods(DAYS_PER_YEAR), self.programme.cycle))
        for k, spec in enumerate(s.provider_specs):
            if spec.build.enabled:
                review = partial(_by_class, self.supply.review, k)
                env.process(every(env, cal.periods(spec.build.review_days), review, first=1))
            if spec.price_adjustment > 0:
                reprice = partial(_by_class, self.supply.reprice, k)
                env.process(every(env, cal.periods(DAYS_PER_MONTH), reprice, first=1))
        for shock in sc.shocks:
            if shock.kind == "supply_cut":
                env.process(self.supply.supply_cut(shock))
        hourly_spot = m.spot.enabled and self.spot.length == 1
        if m.spot.enabled:
            last = 0 if hourly_spot else None
            env.process(every(env, self.spot.length, self.spot_session, last=last))
        # a forward session every period runs between the auction and the session; one every
        # few periods runs before both (its event was queued first)
        interval = cal.periods(m.forward.session_days)
        forward_inside = hourly_spot and m.forward.enabled and interval == 1
        if m.forward.enabled and not forward_inside:
            env.process(every(env, interval, self.forward.session))
        if hourly_spot:
            # an auction every period: one process runs it, then the forward session, then
            # the session, the order separate processes would have (at period 0, no auction)
            inside = [self.forward.session] if forward_inside else []
            first, then = [*inside, self.session], [self.spot_session, *inside, self.session]
            env.process(in_turn(env, first, then))
        else:
            env.process(every(env, 1, self.session))
        env.run(until=cal.horizon)
        self._close(cal.horizon)

    def _close(self, t: int) -> None:
        """The horizon: windows settle, contracts are billed, providers pay their costs."""
        if self.sc.markets.forward.enabled:
            self.forward.settle_deliveries(t)
        self.steady.flush()
        self.contracting.billing(t)
        self.supply.book_costs(t)
        self.state.ledger.check()

    def spot_session(self, t: int) -> None:
        withholds = self.spot.withholds and self.sc.markets.forward.enabled
        short = self.forward.sold_now(t) if withholds else None
        self.spot.session(t, short)

    def session(self, t: int) -> None:
        s, q = self.state, self.state.queue
        self.runs.arrivals(t)
        self.runs.completions(t)
        self.forward.start_reserved(t)
        if self.programme.active:
            self.programme.deliveries(t)
        self.runs.drop_lapsed(t)
        self.runs.start_in_pools(t)
        if s.programme is not None and self.sc.public_programme.allocation == "concentrated":
            self.programme.start_runs(t)
        if self.sc.markets.on_demand.enabled and (q.recheck or t % self._day == 0):
            self.on_demand.start_runs(t)
            q.recheck = False
        if t % self._day == 0:
            self.steady.flush()
            want, from_pool = self.steady.day_need(t)
            self.on_demand.rent_load(t, want, from_pool, s.pools.spot_served)
            s.pools.steady_stale = True
        self.steady.serve(t, self.on_demand.slot_served, self.on_demand.slot_paid)

    def fail(self, who: np.ndarray, t: int) -> None:
        """Buyers out of money stop: contracts end in default, their pool runs are killed."""
        s = self.state
        b = s.buyers
        who = who[b.alive[who]]
        if who.size == 0:
            return
        b.alive[who] = False
        s.queue.recheck = True
        s.load_changed()
        self.contracting.default(who, t)
        s.listener.failed(who, t)


def _by_class(action: Callable[[int, int], None], k: int, t: int) -> None:
    action(t, k)
