"""The simulated world: state held in arrays, sparse events scheduled by simpy.

Processes (each a simpy process, all on one ``Environment`` owned by the world):

- ``session``      every period: runs arrive and complete, waiting runs look for a block, steady
                   load is served, metrics are recorded;
- ``contracting``  every ``markets.contracts.session_days``: contracts are asked for and signed;
- ``billing``      monthly: contract invoices, defaults;
- ``funding``      monthly: startups' burn and funding rounds, failures;
- ``grants``       yearly at the grant month: academics' budgets renew;
- ``capacity``     every review: providers order capacity, which arrives after the lead time;
- ``repricing``    monthly, when a provider class adjusts its list price;
- one process per shock, and one per batch of contracts for their expiry.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from sim.agents import PUBLIC, STARTUP, Buyers, build_buyers, build_sites
from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR, Calendar
from sim.channels.blocks import BlockRequests, allocate_blocks
from sim.channels.contracts import ContractBook
from sim.channels.on_demand import serve_load, spread_over_sites
from sim.demand import (
    ABANDONED,
    COMPLETED,
    CONTRACT,
    ON_DEMAND,
    PENDING,
    RUNNING,
    VOID,
    demand_profiles,
    generate_runs,
)
from sim.ledger import CapacityLedger
from sim.recorder import Recorder
from sim.schema import Scenario
from sim.seeding import component_rng
from sim.world.contracting import ContractingMixin  # noqa: E402
from sim.world.forward import ForwardMixin  # noqa: E402
from sim.world.money import MoneyMixin  # noqa: E402
from sim.world.programme import ProgrammeMixin  # noqa: E402
from sim.world.spot import SpotMixin  # noqa: E402
from sim.world.supply import SupplyMixin  # noqa: E402


class World(ContractingMixin, MoneyMixin, SupplyMixin, SpotMixin, ForwardMixin, ProgrammeMixin):
    def __init__(self, scenario: Scenario, seed: np.random.SeedSequence):
        self.sc = scenario
        self.cal = Calendar.from_time(scenario.time)
        self.h = float(self.cal.hours_per_period)
        self.env = simpy.Environment()
        self.sites, self.provider_specs = build_sites(scenario, component_rng(seed, "sites"))
        self.buyers: Buyers = build_buyers(scenario, component_rng(seed, "buyers"))
        self.profiles = demand_profiles(scenario, self.cal)
        # the season's segments: the profile changes exactly where the segment number does
        turns = np.any(self.profiles[:, 1:] != self.profiles[:, :-1], axis=0)
        self._season = np.concatenate([[0], np.cumsum(turns)])
        self.runs = generate_runs(
            scenario, self.cal, self.buyers, self.profiles, component_rng(seed, "runs")
        )
        self.rng_funding = component_rng(seed, "funding")
        self.rng_contracts = component_rng(seed, "contracts")
        self.ledger = CapacityLedger(self.sites.initial_gpus, self.cal.horizon)
        self.book = ContractBook()
        self.pending = np.zeros(0, dtype=np.int64)
        self.running = np.zeros(0, dtype=np.int64)
        self._next_run = 0
        # waiting runs are re-examined only when something could have made room for them
        self._recheck = True
        self._next_end = np.inf  # no running run ends before this period
        self.waiting_blocked = np.zeros(len(self.buyers), dtype=bool)
        self.pool_price = np.zeros(len(self.buyers))  # $/GPU-h, GPU-weighted over live contracts
        self.holders = np.zeros(0, dtype=np.int64)  # buyers holding contracted capacity now
        n = len(self.buyers)
        self._spot_served = np.zeros(n)  # steady-load GPUs bought at the last spot auction
        self._spot_paid = np.zeros(n)  # $ per period for them
        self._lent = np.zeros(n)  # contracted GPUs resold at the last spot auction
        self.resale_income = np.zeros(n)
        self._spot_len = self.cal.periods(scenario.markets.spot.session_days)
        prog = np.flatnonzero(self.buyers.kind == PUBLIC)
        self._programme = int(prog[0]) if prog.size else None
        self._programme_setup()
        self._forward_setup(seed)
        self.rec = Recorder(self)
        self._day = max(1, round(self.cal.periods_per_day))
        self._mean_run_gpu_hours = self._class_mean_run_gpu_hours()

    def run(self) -> None:
        env = self.env
        if self.sc.markets.contracts.enabled:
            env.process(
                self._every(
                    self.cal.periods(self.sc.markets.contracts.session_days), self.contracting
                )
            )
            env.process(self._every(self.cal.periods(DAYS_PER_MONTH), self.billing, first=1))
        env.process(self._every(self.cal.periods(DAYS_PER_MONTH), self.funding, first=1))
        env.process(self._grants())
        if self._programme is not None:
            env.process(self._every(self.cal.periods(DAYS_PER_YEAR), self.programme_cycle))
        for k, spec in enumerate(self.provider_specs):
            if spec.build.enabled:
                env.process(
                    self._every(
                        self.cal.periods(spec.build.review_days),
                        lambda t, k=k: self.review_capacity(t, k),
                        first=1,
                    )
                )
            if spec.price_adjustment > 0:
                env.process(
                    self._every(
                        self.cal.periods(DAYS_PER_MONTH), lambda t, k=k: self.reprice(t, k), first=1
                    )
                )
        for shock in self.sc.shocks:
            if shock.kind == "supply_cut":
                env.process(self._supply_cut(shock))
        hourly_spot = self.sc.markets.spot.enabled and self._spot_len == 1
        if self.sc.markets.spot.enabled:
            env.process(
                self._every(self._spot_len, self.spot_session, last=0 if hourly_spot else None)
            )
        # a forward session every period runs between the auction and the session; one every
        # few periods runs before both (its event was queued first)
        every = self.cal.periods(self.sc.markets.forward.session_days)
        forward_inside = hourly_spot and self.sc.markets.forward.enabled and every == 1
        if self.sc.markets.forward.enabled and not forward_inside:
            env.process(self._every(every, self.forward_session))
        if hourly_spot:
            env.process(self._auction_then_session(forward_inside))
        else:
            env.process(self._every(1, self.session))
        env.run(until=self.cal.horizon)
        if self.sc.markets.forward.enabled:
            self._settle_deliveries(self.cal.horizon)
        self._flush_steady()
        self.billing(self.cal.horizon)
        self.ledger.check()

    def _every(self, interval: int, action, first: int = 0, last: int | None = None):
        if first:
            yield self.env.timeout(first * interval)
        while True:
            action(int(self.env.now))
            if last is not None and self.env.now >= last:
                return
            yield self.env.timeout(interval)

    def _auction_then_session(self, forward: bool = False):
        """A spot auction every period: from period 1 on, one process runs it and then the
        session (with ``forward``, a forward session between them, as when each had its own
        process). The events would be adjacent in the queue anyway (nothing any of them does
        schedules an event for the next period), so the order of events is unchanged; at period
        0 the processes start in the order they were created, the auction on its own."""
        if forward:
            self.forward_session(0)
        self.session(0)
        while True:
            yield self.env.timeout(1)
            t = int(self.env.now)
            self.spot_session(t)
            if forward:
                self.forward_session(t)
            self.session(t)

    def session(self, t: int) -> None:
        self._arrivals(t)
        self._completions(t)
        self._start_reserved(t)
        if self._prog_deliveries or self._prog_rows.size:
            self.programme_deliveries(t)
        self._drop_lapsed(t)
        self._start_in_pools(t)
        if self._programme is not None and self.sc.public_programme.allocation == "concentrated":
            self._start_public(t)
        if self.sc.markets.on_demand.enabled and (self._recheck or t % self._day == 0):
            self._start_on_demand(t)
            self._recheck = False
        self._serve_load(t)

    _slot_served = np.zeros(0)
    _slot_paid = np.zeros(0)
    _steady_periods = 0
    _steady_stale = True
    _steady_season = -1  # season segment steady load was last computed for
    _load_epoch = 0  # counts changes to buyers' steady load or pools (see ``_load_changed``)

    def _load_changed(self) -> None:
        """Something changed a buyer's steady load or contract pool (``alive``, ``base_load``,
        ``pool_gpus``, ``pool_busy``, ``public_gpus``): steady load is recomputed, and so is
        what the next spot auction derives from it."""
        self._steady_stale = True
        self._load_epoch += 1

    def _arrivals(self, t: int) -> None:
        r, b = self.runs, self.buyers
        if self._next_run >= r.arrival.size or r.arrival[self._next_run] > t:
            return  # arrivals are sorted: nothing new yet
        hi = int(r.arrival.searchsorted(t, side="right"))
        new = np.arange(self._next_run, hi)
        self._next_run = hi
        if new.size == 0:
            return
        alive = b.alive[r.agent[new]]
        r.status[new[~alive]] = VOID
        new = new[alive]
        r.status[new] = PENDING
        self._recheck |= new.size > 0
        np.add.at(b.demanded, r.agent[new], r.gpu_hours[new])
        self.pending = np.concatenate([self.pending, new])

    def _completions(self, t: int) -> None:
        r, b = self.runs, self.buyers
        if self.running.size == 0 or t < self._next_end:
            return
        end = r.start[self.running] + r.periods[self.running]
        done = end <= t
        self._next_end = end[~done].min() if not done.all() else np.inf
        if not done.any():
            return
        fin, self.running = self.running[done], self.running[~done]
        self._recheck = True
        self._load_changed()
        r.status[fin] = COMPLETED
        self.rec.run_ended(fin)
        who = r.agent[fin]
        hosted = r.host[fin] >= 0
        np.subtract.at(b.pool_busy, r.host[fin][hosted], r.gpus[fin][hosted])
        st = who[b.kind[who] == STARTUP]
        growth = 1 + self.sc.buyers.startups.inference_growth_per_run
        np.multiply.at(b.base_load, st, growth)
        np.add.at(b.runs_since_round, st, 1)

    def _drop_lapsed(self, t: int) -> None:
        r, b = self.runs, self.buyers
        p = self.pending
        # owners only die with a load change; until then, and while the waiting runs are the
        # same, none lapses before the earliest latest start among them
        last = self.__dict__.get("_lapse_check")
        if last is not None and last[0] is p and last[1] == self._load_epoch and t <= last[2]:
            return
        gone = (r.latest_start[p] < t) | ~b.alive[r.agent[p]]
        if gone.any():
            r.status[p[gone]] = ABANDONED
            # demand that was never served stays in ``demanded``: it is what access measures
            self.pending = p = p[~gone]
        first = int(r.latest_start[p].min()) if p.size else self.cal.horizon
        self.__dict__["_lapse_check"] = (p, self._load_epoch, first)

    def _start(self, rows, t, channel, price, site=None) -> None:
        r, b = self.runs, self.buyers
        r.status[rows] = RUNNING
        r.start[rows] = t
        r.channel[rows] = channel
        r.price[rows] = price
        if site is not None:
            r.site[rows] = site
        who = r.agent[rows]
        np.add.at(b.served, who, r.gpu_hours[rows])
        np.add.at(b.value, who, r.gpu_hours[rows] * r.value[rows])
        np.maximum.at(b.largest_block, who, r.gpus[rows])
        self.running = np.concatenate([self.running, rows])
        if rows.size:
            self._next_end = min(self._next_end, int((r.start[rows] + r.periods[rows]).min()))
        self.pending = self.pending[r.status[self.pending] == PENDING]
        self.rec.run_started(rows)

    def _first_per_owner(self, rows: np.ndarray) -> np.ndarray:
        """The highest-priority run of each owner among ``rows`` (rows are in priority order).

        For ``self.pending`` the answer is kept until ``pending`` is replaced (it always is when
        it changes), since several channels ask for it every period."""
        if rows is self.pending:
            cached = self.__dict__.get("_heads_of")
            if cached is not None and cached[0] is rows:
                return cached[1]
        # first occurrences of each owner: a stable sort keeps rows in priority order per owner
        agent = self.runs.agent[rows]
        order = agent.argsort(kind="stable")
        first = np.ones(rows.size, dtype=bool)
        first[1:] = agent[order[1:]] != agent[order[:-1]]
        order = order[first]
        order.sort()
        heads = rows[order]
        if rows is self.pending:
            heads.flags.writeable = False
            self.__dict__["_heads_of"] = (rows, heads)
        return heads

    def _start_in_pools(self, t: int) -> None:
        r, b = self.runs, self.buyers
        p = self.pending
        if p.size == 0:
            return
        # runs whose owner's pool is free and big enough; pools change only with the load epoch
        last = self.__dict__.get("_pool_fits")
        if last is None or last[0] is not p or last[1] != self._load_epoch:
            who = r.agent[p]
            idx = ((b.pool_busy[who] <= 0) & (r.gpus[p] <= b.pool_block[who])).nonzero()[0]
            last = self.__dict__["_pool_fits"] = (p, self._load_epoch, idx, who[idx])
        idx, who = last[2], last[3]
        if idx.size == 0:
            return
        fits = idx[self._lent[who] <= 0]
        rows = self._first_per_owner(p[fits]) if fits.size else p[:0]
        if rows.size:
            self._load_changed()
            r.host[rows] = r.agent[rows]
            np.add.at(b.pool_busy, r.agent[rows], r.gpus[rows])
            self._start(rows, t, CONTRACT, self.pool_price[r.agent[rows]])

    def _run_budget(self, who: np.ndarray) -> np.ndarray:
        """Money a buyer will put into one run: startups keep three months of burn in reserve."""
        b = self.buyers
        return np.maximum(b.cash[who] - 3 * b.burn[who], 0.0)

    def _run_requests(self, rows: np.ndarray, eligible: np.ndarray | None = None) -> BlockRequests:
        """Block requests for waiting runs: their size, length, value and owner's budget."""
        r = self.runs
        return BlockRequests(
            gpus=r.gpus[rows],
            periods=r.periods[rows],
            max_price=r.value[rows],
            budget=self._run_budget(r.agent[rows]),
            eligible=eligible,
        )

    def _start_on_demand(self, t: int) -> None:
        r = self.runs
        if self.pending.size == 0:
            return
        rows = self._first_per_owner(self.pending)
        rows = rows[self._takes_on_demand(t, rows)]
        if rows.size == 0:
            return
        who = r.agent[rows]
        gpus, periods, value = r.gpus[rows], r.periods[rows], r.value[rows]
        budget = self._run_budget(who)
        price = self.sites.site_price
        could = self._placeable(t, gpus, periods, value, budget, price)
        self.waiting_blocked[:] = False
        self.waiting_blocked[who] = True
        if could.size == 0:
            return
        req = BlockRequests(gpus[could], periods[could], value[could], budget[could])
        alloc = allocate_blocks(self.ledger.free(t, int(req.periods.max())), price, req, self.h)
        ok = alloc.site >= 0
        self.waiting_blocked[who[could[ok]]] = False
        if ok.any():
            self._book_runs(t, rows[could], alloc, ON_DEMAND)

    def _placeable(self, t, gpus, periods, value, budget, site_price) -> np.ndarray:
        """Which block requests ``allocate_blocks`` could serve if each were first in line: at
        some site the price is within the run's value and its owner's budget and the block is
        free now. The others are left out of the allocation, where they would take nothing
        (free capacity only shrinks while it runs). Same tests, same arithmetic."""
        low = site_price.min()
        block_hours = gpus * periods * self.h
        rows = ((low <= value) & (block_hours * low <= budget + 1e-9)).nonzero()[0]
        return self._fits_now(t, rows, gpus, periods, value, budget, block_hours, site_price)

    def _fits_now(self, t, rows, gpus, periods, value, budget, block_hours, site_price):
        """The requests among ``rows`` (which pass the tests at the lowest price) that pass them
        at a site where their block is free now."""
        if rows.size == 0:
            return rows
        p = site_price[None, :]
        static = (p <= value[rows, None]) & (
            block_hours[rows, None] * p <= budget[rows, None] + 1e-9
        )
        free = self.ledger.free(t, int(periods[rows].max()))
        need = gpus[rows, None] - 1e-9
        # the block's first period first: a block not free now is not free over its window
        now = (static & (free[:, 0] >= need)).any(axis=1)
        if not now.all():
            rows, static, need = rows[now], static[now], need[now]
            if rows.size == 0:
                return rows
        if rows.size <= 4:  # few runs: the minimum over each one's window alone
            avail = np.array([np.minimum.reduce(free[:, :d], axis=1) for d in periods[rows]])
        else:
            avail = np.minimum.accumulate(free, axis=1)[:, periods[rows] - 1].T
        return rows[(static & (avail >= need)).any(axis=1)]

    def _takes_on_demand(self, t: int, rows: np.ndarray) -> np.ndarray:
        """The channel rule: a run buys on demand now unless a market it can still wait for
        scores better. Scores are mean-variance in $/GPU-h: the cheapest list price (certain);
        the recent spot price plus ``risk_aversion`` s.d. of it (next spot session); the price of
        the next forward window (locked in, but only for runs that can wait for it)."""
        latest = self.runs.latest_start[rows]
        keep = np.ones(rows.size, dtype=bool)
        list_price = float(self.sites.list_price.min())
        lam = self.sc.buyers.choice.risk_aversion
        if self.sc.markets.spot.enabled:
            next_session = (t // self._spot_len + 1) * self._spot_len
            can_wait = latest >= next_session
            if can_wait.any():
                mean, sd = self._spot_outlook(t)
                if mean + lam * sd < list_price:
                    keep &= ~can_wait
        if self.sc.markets.forward.enabled:
            price = self._forward_signal()
            if math.isfinite(price) and price < list_price:
                w = self._fw_window
                keep &= latest < (t // w + 1) * w  # the runs that cannot wait for the window
        return keep

    def _forward_signal(self) -> float:
        """``forward_price_signal(nearest=True)``, read again only after a forward session."""
        n = len(self.curve)
        cached = self.__dict__.get("_forward_signal_of")
        if cached is None or cached[0] != n:
            cached = self.__dict__["_forward_signal_of"] = (n, self.forward_price_signal(True))
        return cached[1]

    def _spot_outlook(self, t: int) -> tuple[float, float]:
        """Mean and s.d. of the spot price over the last 30 days (inf before any session)."""
        back = max(0, t - self.cal.periods(30))
        recent = self.rec.spot_price[back:t]
        recent = recent[np.isfinite(recent)]
        n = recent.size
        if n == 0:
            return float("inf"), 0.0
        # ``recent.mean()`` and ``recent.std()`` with the mean summed once: the same sums
        mean = recent.sum() / n
        dev = recent - mean
        dev *= dev
        return float(mean), math.sqrt(dev.sum() / n)

    def _book_runs(self, t: int, rows: np.ndarray, alloc, channel: int) -> None:
        """Start the runs ``alloc`` placed: book the blocks, take the money, pay the provider."""
        r, b = self.runs, self.buyers
        ok = alloc.site >= 0
        if not ok.any():
            return
        got, sites = rows[ok], alloc.site[ok]
        self.ledger.reserve(sites, t, r.periods[got], r.gpus[got], contract=False)
        cost = alloc.cost[ok]
        b.pay(r.agent[got], cost)
        np.add.at(self.sites.revenue, self.sites.site_provider[sites], cost)
        self._start(got, t, channel, alloc.price[ok], sites)

    def _serve_load(self, t: int) -> None:
        """Steady load (many short jobs) is served from contract pools first, then on demand.

        On-demand steady load is rented in day-long slots: at the first period of each day the
        day's average load is matched to capacity idle over the whole day and booked for it.
        With daily steps a slot is one period; with hourly steps this keeps the per-hour cost
        small while runs, which need blocks, are still matched every hour.

        Per-buyer quantities only change when an event touches a buyer (a run starts or ends
        in a pool, a contract starts or ends, a buyer fails, the season turns), so they are
        recomputed then and otherwise accumulated period by period in one step.
        """
        if t % self._day == 0:
            self._flush_steady()
            self._load_slot(t)
            self._steady_stale = True
        if self._steady_stale or self._season[t] != self._steady_season:
            self._flush_steady()
            self._recompute_steady(t)
            self._steady_season = self._season[t]
        self._steady_periods += 1
        self.rec.period(t)

    def _recompute_steady(self, t: int) -> None:
        b = self.buyers
        key = (self._load_epoch, self._season[t])  # steady load is new only when these are
        cached = self.__dict__.get("_want_of")
        if cached is None or cached[0] != key:
            want = np.where(b.alive, b.base_load * self.profiles[b.kind, t], 0.0)
            cached = self.__dict__["_want_of"] = (key, want)
        want = cached[1]
        from_pool = np.minimum(want, self._pool_free())
        got = from_pool + self._slot_served + self._spot_served
        self._steady = (want, got)
        self._steady_stale = False
        self.rec.steady(want, got, self._slot_paid + self._spot_paid, from_pool + self._lent)

    def _flush_steady(self) -> None:
        """Add the accumulated periods of steady load to the buyers' totals."""
        k = self._steady_periods
        if k == 0:
            return
        b = self.buyers
        want, got = self._steady
        b.demanded += want * (self.h * k)
        b.served += got * (self.h * k)
        b.value += got * (self.h * k) * b.load_value
        self._steady_periods = 0

    def _pool_free(self) -> np.ndarray:
        """Contracted GPUs a holder can use now: not running a run, not resold on the spot."""
        b = self.buyers
        return np.maximum(b.pool_gpus - b.pool_busy - self._lent, 0.0) + b.public_gpus

    def _load_slot(self, t: int) -> None:
        b, s = self.buyers, self.sites
        n = len(b)
        self._slot_served, self._slot_paid = np.zeros(n), np.zeros(n)
        if not self.sc.markets.on_demand.enabled:
            return
        slot = min(self._day, self.cal.horizon - t)
        prof = self.profiles[:, t : t + slot].mean(axis=1)
        want = np.where(b.alive, b.base_load * prof[b.kind], 0.0)
        rest = want - np.minimum(want, self._pool_free()) - self._spot_served
        rest = np.maximum(rest, 0.0)
        if not rest.any():
            return
        site_idle = self.ledger.idle(t, slot)
        prov_idle = np.bincount(s.site_provider, weights=site_idle, minlength=s.list_price.size)
        svc = serve_load(rest, b.load_value, b.cash, s.list_price, prov_idle, self.h * slot)
        b.cash -= svc.paid
        b.spend += svc.paid
        s.revenue += svc.revenue
        booked = spread_over_sites(svc.sold, s.site_provider, site_idle)
        sites = np.flatnonzero(booked > 0)
        self.ledger.reserve(sites, t, slot, booked[sites], contract=False)
        self._slot_served, self._slot_paid = svc.served, svc.paid / slot
