"""The simulated world: one typed state, components around it, sparse events scheduled by simpy.

Processes (each a simpy process on one ``Environment`` owned by the world):

- ``session``      every period: runs arrive and complete, waiting runs look for a block, steady
                   load is served;
- ``contracting``  every ``markets.contracts.session_days``; ``billing`` monthly;
- ``funding``      monthly: startups' burn and funding rounds; ``grants`` yearly;
- ``programme``    yearly; ``review`` and ``reprice`` per provider class; one per shock;
- ``spot``         every ``markets.spot.session_days``; ``forward`` every its session days;
- one process per batch of contracts for their expiry, and per capacity order for its arrival.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

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
from sim.world.spot import Spot
from sim.world.steady import SteadyLoad
from sim.world.supply import Supply
from sim.world.usage import UsageTracker

Process = Generator[simpy.Event, None, None]


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
            env.process(
                self._every(cal.periods(m.contracts.session_days), self.contracting.session)
            )
            env.process(self._every(cal.periods(DAYS_PER_MONTH), self.contracting.billing, first=1))
        env.process(self._every(cal.periods(DAYS_PER_MONTH), self.funding.monthly, first=1))
        env.process(self.funding.grants())
        if s.programme is not None:
            env.process(self._every(cal.periods(DAYS_PER_YEAR), self.programme.cycle))
        for k, spec in enumerate(s.provider_specs):
            if spec.build.enabled:
                review = self._for_class(self.supply.review, k)
                env.process(self._every(cal.periods(spec.build.review_days), review, first=1))
            if spec.price_adjustment > 0:
                reprice = self._for_class(self.supply.reprice, k)
                env.process(self._every(cal.periods(DAYS_PER_MONTH), reprice, first=1))
        for shock in sc.shocks:
            if shock.kind == "supply_cut":
                env.process(self.supply.supply_cut(shock))
        hourly_spot = m.spot.enabled and self.spot.length == 1
        if m.spot.enabled:
            last = 0 if hourly_spot else None
            env.process(self._every(self.spot.length, self.spot_session, last=last))
        # a forward session every period runs between the auction and the session; one every
        # few periods runs before both (its event was queued first)
        every = cal.periods(m.forward.session_days)
        forward_inside = hourly_spot and m.forward.enabled and every == 1
        if m.forward.enabled and not forward_inside:
            env.process(self._every(every, self.forward.session))
        if hourly_spot:
            env.process(self._auction_then_session(forward_inside))
        else:
            env.process(self._every(1, self.session))
        env.run(until=cal.horizon)
        self._close(cal.horizon)

    def _close(self, t: int) -> None:
        """The horizon: open windows settle, steady load and contracts are billed to date, the
        providers pay their costs, and capacity is checked."""
        if self.sc.markets.forward.enabled:
            self.forward.settle_deliveries(t)
        self.steady.flush()
        self.contracting.billing(t)
        self.supply.book_costs(t)
        self.state.ledger.check()

    @staticmethod
    def _for_class(action: Callable[[int, int], None], k: int) -> Callable[[int], None]:
        return lambda t: action(t, k)

    def _every(
        self, interval: int, action: Callable[[int], None], first: int = 0, last: int | None = None
    ) -> Process:
        if first:
            yield self.env.timeout(first * interval)
        while True:
            action(int(self.env.now))
            if last is not None and self.env.now >= last:
                return
            yield self.env.timeout(interval)

    def _auction_then_session(self, forward: bool = False) -> Process:
        """A spot auction every period: from period 1 on, one process runs it and then the
        session (with ``forward``, a forward session between them), the order separate
        processes would have; at period 0 the auction runs on its own process first."""
        if forward:
            self.forward.session(0)
        self.session(0)
        while True:
            yield self.env.timeout(1)
            t = int(self.env.now)
            self.spot_session(t)
            if forward:
                self.forward.session(t)
            self.session(t)

    def spot_session(self, t: int) -> None:
        short = self.forward.sold_now(t) if self.sc.markets.forward.enabled else None
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
