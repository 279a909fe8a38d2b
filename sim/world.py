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

import numpy as np
import simpy

from sim.agents import ACADEMIC, LAB, PUBLIC, STARTUP, Buyers, build_buyers, build_sites
from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR, Calendar
from sim.channels.blocks import BlockRequests, allocate_blocks
from sim.channels.contracts import ContractBook, bill, expected_use_share, settle
from sim.channels.on_demand import serve_load, spread_over_sites
from sim.channels.withholding import linear_inverse_demand, strategic_offers
from sim.demand import (
    ABANDONED,
    COMPLETED,
    CONTRACT,
    KILLED,
    ON_DEMAND,
    PENDING,
    RUNNING,
    SPOT,
    VOID,
    demand_profiles,
    generate_runs,
)
from sim.demand import (
    PUBLIC as PUBLIC_CHANNEL,
)
from sim.ledger import CapacityLedger
from sim.markets.orders import OrderBook
from sim.markets.registry import MECHANISMS
from sim.recorder import Recorder
from sim.schema import Scenario
from sim.seeding import component_rng


class World:
    def __init__(self, scenario: Scenario, seed: np.random.SeedSequence):
        self.sc = scenario
        self.cal = Calendar.from_time(scenario.time)
        self.h = float(self.cal.hours_per_period)
        self.env = simpy.Environment()
        self.sites, self.provider_specs = build_sites(scenario, component_rng(seed, "sites"))
        self.buyers: Buyers = build_buyers(scenario, component_rng(seed, "buyers"))
        self.profiles = demand_profiles(scenario, self.cal)
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
        self.rec = Recorder(self)
        self._day = max(1, round(self.cal.periods_per_day))
        self._mean_run_gpu_hours = self._class_mean_run_gpu_hours()

    # ---- running ---------------------------------------------------------------------------

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
        if self.sc.markets.spot.enabled:
            env.process(self._every(self._spot_len, self.spot_session))
        env.process(self._every(1, self.session))
        env.run(until=self.cal.horizon)
        self._flush_steady()
        self.billing(self.cal.horizon)
        self.ledger.check()

    def _every(self, interval: int, action, first: int = 0):
        if first:
            yield self.env.timeout(first * interval)
        while True:
            action(int(self.env.now))
            yield self.env.timeout(interval)

    # ---- every period ------------------------------------------------------------------------

    def session(self, t: int) -> None:
        self._arrivals(t)
        self._completions(t)
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
    _steady_prof = np.zeros(0)

    def _arrivals(self, t: int) -> None:
        r, b = self.runs, self.buyers
        hi = int(np.searchsorted(r.arrival, t, side="right"))
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
        if self.running.size == 0:
            return
        done = r.start[self.running] + r.periods[self.running] <= t
        if not done.any():
            return
        fin, self.running = self.running[done], self.running[~done]
        self._recheck = True
        self._steady_stale = True
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
        gone = (r.latest_start[p] < t) | ~b.alive[r.agent[p]]
        if gone.any():
            r.status[p[gone]] = ABANDONED
            # demand that was never served stays in ``demanded``: it is what access measures
            self.pending = p[~gone]

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
        self.pending = self.pending[r.status[self.pending] == PENDING]
        self.rec.run_started(rows)

    def _first_per_owner(self, rows: np.ndarray) -> np.ndarray:
        """The highest-priority run of each owner among ``rows`` (rows are in priority order)."""
        _, first = np.unique(self.runs.agent[rows], return_index=True)
        return rows[np.sort(first)]

    def _start_in_pools(self, t: int) -> None:
        r, b = self.runs, self.buyers
        p = self.pending
        if p.size == 0:
            return
        who = r.agent[p]
        fits = (b.pool_busy[who] <= 0) & (self._lent[who] <= 0) & (r.gpus[p] <= b.pool_block[who])
        rows = self._first_per_owner(p[fits]) if fits.any() else p[:0]
        if rows.size:
            self._steady_stale = True
            r.host[rows] = r.agent[rows]
            np.add.at(b.pool_busy, r.agent[rows], r.gpus[rows])
            self._start(rows, t, CONTRACT, self.pool_price[r.agent[rows]])

    def _run_budget(self, who: np.ndarray) -> np.ndarray:
        """Money a buyer will put into one run: startups keep three months of burn in reserve."""
        b = self.buyers
        return np.maximum(b.cash[who] - 3 * b.burn[who], 0.0)

    def _start_on_demand(self, t: int) -> None:
        r = self.runs
        if self.pending.size == 0:
            return
        rows = self._first_per_owner(self.pending)
        who = r.agent[rows]
        req = BlockRequests(
            gpus=r.gpus[rows],
            periods=r.periods[rows],
            max_price=r.value[rows],
            budget=self._run_budget(who),
        )
        width = int(r.periods[rows].max())
        alloc = allocate_blocks(self.ledger.free(t, width), self.sites.site_price, req, self.h)
        ok = alloc.site >= 0
        self.waiting_blocked[:] = False
        self.waiting_blocked[who[~ok]] = True
        if not ok.any():
            return
        self._book_runs(t, rows, alloc, ON_DEMAND)

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
        prof = self.profiles[:, t]
        if t % self._day == 0:
            self._flush_steady()
            self._load_slot(t)
            self._steady_stale = True
        if self._steady_stale or not np.array_equal(prof, self._steady_prof):
            self._flush_steady()
            self._recompute_steady(prof)
        self._steady_periods += 1
        self.rec.period(t)

    def _recompute_steady(self, prof: np.ndarray) -> None:
        b = self.buyers
        want = np.where(b.alive, b.base_load * prof[b.kind], 0.0)
        from_pool = np.minimum(want, self._pool_free())
        got = from_pool + self._slot_served + self._spot_served
        self._steady = (want, got)
        self._steady_prof = prof.copy()
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
        site_idle = np.maximum(self.ledger.free(t, slot).min(axis=1), 0.0)
        prov_idle = np.bincount(s.site_provider, weights=site_idle, minlength=s.list_price.size)
        svc = serve_load(rest, b.load_value, b.cash, s.list_price, prov_idle, self.h * slot)
        b.cash -= svc.paid
        b.spend += svc.paid
        s.revenue += svc.revenue
        booked = spread_over_sites(svc.sold, s.site_provider, site_idle)
        sites = np.flatnonzero(booked > 0)
        self.ledger.reserve(sites, t, slot, booked[sites], contract=False)
        self._slot_served, self._slot_paid = svc.served, svc.paid / slot

    # ---- public programme --------------------------------------------------------------------

    def programme_cycle(self, t: int) -> None:
        """Yearly: the budget arrives (unspent money lapses), one-year contracts are bought
        with it, site by site, and the capacity is allocated to academics."""
        spec, b, i = self.sc.public_programme, self.buyers, self._programme
        live = self.book.live()
        mine = live[(self.book.holder[live] == i) & (self.book.end[live] <= t)]
        self._end_contracts(mine, t)  # last year's contracts end as the new ones are bought
        b.outflow[i] += b.cash[i]
        b.cash[i] = spec.budget_per_year
        b.inflow[i] += spec.budget_per_year
        year_hours = DAYS_PER_YEAR * 24
        dearest = float(self.sites.site_price.max()) * (
            1 - min(p.discount_1y for p in self.provider_specs)
        )
        target = spec.budget_per_year / (dearest * year_hours)  # GPUs the budget surely pays for
        who = np.array([i])
        for _ in range(8):
            gap = target - b.pool_gpus[i]
            if gap < self._min_contract():
                break
            if not self._sign(
                t, 1, who, np.array([np.floor(gap)]), np.array([1e9]), np.array([True]), fresh=True
            ):
                break
        b.pool_busy[i] = 0.0
        b.public_gpus[:] = 0.0
        if spec.allocation == "spread":
            academics = np.flatnonzero((b.kind == ACADEMIC) & b.alive)
            grants = min(academics.size, int(b.pool_gpus[i] // spec.grant_gpus))
            chosen = self.rng_contracts.permutation(academics)[:grants]
            b.public_gpus[chosen] = spec.grant_gpus
            b.pool_busy[i] = (
                grants * spec.grant_gpus
            )  # granted capacity is not the programme's to use
        self._steady_stale = True
        self._recheck = True

    def _start_public(self, t: int) -> None:
        """Concentrated allocation: academics' large runs take blocks from the programme's
        contracts, first come first served, at no charge to them."""
        r, b, i = self.runs, self.buyers, self._programme
        p = self.pending
        if p.size == 0:
            return
        smallest = self.sc.public_programme.min_run_gpus or self.sc.metrics.large_run_gpus
        cand = p[(b.kind[r.agent[p]] == ACADEMIC) & (r.gpus[p] >= smallest)]
        room = b.pool_block[i] - b.pool_busy[i]
        take = []
        for row in cand:  # few large academic runs wait at any time
            if r.gpus[row] <= room:
                take.append(row)
                room -= r.gpus[row]
        if not take:
            return
        rows = np.asarray(take)
        r.host[rows] = i
        b.pool_busy[i] += r.gpus[rows].sum()
        self._steady_stale = True
        self._start(rows, t, PUBLIC_CHANNEL, np.zeros(rows.size))

    # ---- spot market ---------------------------------------------------------------------------

    def spot_session(self, t: int) -> None:
        """A uniform-price call auction for capacity over the window until the next auction.

        Buyers bid their steady load not covered by their pools (capped by what their cash buys
        at their limit) at their value; providers offer capacity idle over the whole window at
        their reserve; with resale on, contract holders offer the pool GPUs they will not use at
        a reserve of zero (the contract is paid whatever happens). Fills last the whole window.
        """
        b, s, spec = self.buyers, self.sites, self.sc.markets.spot
        length = min(self._spot_len, self.cal.horizon - t)
        hours = length * self.h
        prof = self.profiles[:, t : t + length].mean(axis=1)
        want = np.where(b.alive, b.base_load * prof[b.kind], 0.0)
        self._lent[:] = 0.0
        spare = self._pool_free()
        rest = want - np.minimum(want, spare)
        ask = np.divide(b.cash, b.load_value * hours, out=np.zeros(len(b)), where=b.load_value > 0)
        ask = np.minimum(rest, np.maximum(ask, 0.0))
        bidders = np.flatnonzero(ask > 1e-9)
        site_idle = np.maximum(self.ledger.free(t, length).min(axis=1), 0.0)
        reserve = s.energy_cost + (s.fixed_cost if spec.reserve == "owning_cost" else 0.0)
        site_idle = self._withhold(t, length, site_idle, b.load_value[bidders], ask[bidders])
        sites = np.flatnonzero(site_idle > 1e-9)
        resale = np.maximum(spare - want, 0.0) if self.sc.markets.contracts.resale else spare * 0
        holders = np.flatnonzero(resale > 1e-9)
        book = OrderBook(
            buy_qty=ask[bidders],
            buy_limit=b.load_value[bidders],
            sell_qty=np.concatenate([site_idle[sites], resale[holders]]),
            sell_reserve=np.concatenate([reserve[s.site_provider[sites]], np.zeros(holders.size)]),
        )
        res = MECHANISMS[spec.mechanism](book)
        price = float(res.price[0]) if res.price.size else float("nan")
        self._spot_served[:] = 0.0
        self._spot_paid[:] = 0.0
        if not np.isfinite(price):
            self.rec.spot(t, length, price, 0.0, 0.0)
            return
        cost = res.buy_payment * hours
        self._spot_served[bidders] = res.buy_filled
        self._spot_paid[bidders] = cost / length
        b.cash[bidders] -= cost
        b.spend[bidders] += cost
        sold_sites = res.sell_filled[: sites.size]
        self.ledger.reserve(sites, t, length, sold_sites, contract=False)
        np.add.at(s.revenue, s.site_provider[sites], res.sell_revenue[: sites.size] * hours)
        lent = res.sell_filled[sites.size :]
        income = res.sell_revenue[sites.size :] * hours
        self._lent[holders] = lent
        b.cash[holders] += income
        self.resale_income[holders] += income
        self._steady_stale = True
        self.rec.spot(
            t, length, price, float(res.buy_filled.sum()) * hours, float(sold_sites.sum()) * hours
        )
        if spec.block_bids:
            self._spot_blocks(t, price, reserve[s.site_provider] <= price + 1e-12)

    def _withhold(self, t, length, site_idle, limit, qty) -> np.ndarray:
        """Idle capacity each site offers once strategic providers have withheld theirs."""
        s = self.sites
        strategic = np.asarray([p.strategy == "cournot" for p in self.provider_specs])[
            s.provider_class
        ]
        if not strategic.any():
            return site_idle
        idle = np.bincount(s.site_provider, site_idle, s.list_price.size)
        a, slope = linear_inverse_demand(limit, qty)
        offer = strategic_offers(idle, s.energy_cost, strategic, a, slope)
        share = np.divide(offer, idle, out=np.zeros_like(idle), where=idle > 0)
        self.rec.withheld(t, length, float((idle - offer).sum()))
        return site_idle * share[s.site_provider]

    def _spot_blocks(self, t: int, price: float, open_sites: np.ndarray) -> None:
        """Waiting runs bid all-or-nothing blocks at the session's price, highest limit first.

        Runs take the price the auction found (their bids do not move it); only sites whose
        reserve is at or below that price sell, so no seller is paid below its reserve.
        """
        r = self.runs
        if self.pending.size == 0 or not open_sites.any():
            return
        rows = self._first_per_owner(self.pending)
        rows = rows[np.argsort(-r.value[rows], kind="stable")]
        who = r.agent[rows]
        req = BlockRequests(
            gpus=r.gpus[rows],
            periods=r.periods[rows],
            max_price=r.value[rows],
            budget=self._run_budget(who),
            eligible=np.broadcast_to(open_sites, (rows.size, open_sites.size)),
        )
        width = int(r.periods[rows].max())
        site_price = np.full(open_sites.size, price)
        alloc = allocate_blocks(self.ledger.free(t, width), site_price, req, self.h)
        self._book_runs(t, rows, alloc, SPOT)

    # ---- contracts ---------------------------------------------------------------------------

    def contracting(self, t: int) -> None:
        # at the start, labs may need several contracts (one per site) to cover their demand
        for _ in range(10 if t == 0 else 1):
            signed = 0
            for term, asks in self._contract_wants(t).items():
                signed += self._sign(t, term, *asks)
            if not signed:
                break

    def _contract_wants(self, t: int) -> dict[int, tuple]:
        """Who asks for a contract this session: (buyers, GPUs, max price $/GPU-h) per term."""
        b, sc = self.buyers, self.sc
        out: dict[int, list] = {1: [], 3: []}
        # frontier labs top up their pool to steady demand times headroom
        labs = np.flatnonzero((b.kind == LAB) & b.alive)
        need = b.base_load[labs] * self._lab_growth(t) * sc.buyers.frontier_labs.contract_headroom
        gap = need - b.pool_gpus[labs]
        asks = labs[gap >= self._min_contract()]
        out[sc.buyers.frontier_labs.contract_term_years].append(
            (
                asks,
                np.ceil(gap[gap >= self._min_contract()]),
                b.load_value[asks],
                np.ones(asks.size, dtype=bool),
            )
        )
        for kind in (STARTUP, ACADEMIC):
            for term in (1, 3):
                out[term].append(self._buyer_asks(t, kind, term))
        merged = {}
        for term, parts in out.items():
            parts = [p for p in parts if p[0].size]
            if parts:
                merged[term] = tuple(np.concatenate(c) for c in zip(*parts, strict=True))
        return merged

    def _buyer_asks(self, t: int, kind: int, term: int):
        """Startups and academics: contract asks by the expected-surplus rule (module doc)."""
        b, r, sc = self.buyers, self.runs, self.sc
        spec = sc.buyers.startups if kind == STARTUP else sc.buyers.academics
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool))
        if kind == STARTUP and term not in sc.buyers.startups.contract_terms_years:
            return empty
        who = np.flatnonzero((b.kind == kind) & b.alive & (b.pool_gpus <= 0))
        if who.size == 0:
            return empty
        pend_gpus = np.zeros(len(b))
        pend_gh = np.zeros(len(b))
        pend_value = np.zeros(len(b))
        p = self.pending
        np.maximum.at(pend_gpus, r.agent[p], r.gpus[p])
        np.add.at(pend_gh, r.agent[p], r.gpu_hours[p])
        np.add.at(pend_value, r.agent[p], r.gpu_hours[p] * r.value[p])
        load = b.base_load[who]
        gpus = np.maximum(np.maximum(pend_gpus[who], np.ceil(load)), self._min_contract())
        share = expected_use_share(
            load, pend_gh[who], spec.runs_per_year, self._mean_run_gpu_hours[kind], gpus, term
        )
        hours_used = share * gpus * term * DAYS_PER_YEAR * 24
        run_value = np.divide(
            pend_value[who], pend_gh[who], out=np.zeros(who.size), where=pend_gh[who] > 0
        )
        mean_value = np.where(
            pend_gh[who] > 0, 0.5 * (run_value + b.load_value[who]), b.load_value[who]
        )
        value_cap = share * mean_value  # expected surplus >= 0
        cheapest = float(self.sites.list_price.min()) if self.sites.list_price.size else np.inf
        price_cap = np.where(
            self.waiting_blocked[who], value_cap, np.minimum(value_cap, share * cheapest)
        )
        keep = (hours_used > 0) & (pend_gh[who] > 0) | (load >= self._min_contract())
        if kind == ACADEMIC:
            keep &= self._grant_covers(t, term)
        return who[keep], gpus[keep], price_cap[keep], np.zeros(int(keep.sum()), dtype=bool)

    def _grant_covers(self, t: int, term: int) -> bool:
        """An academic may not commit past its current grant (grants last one year)."""
        day = self.cal.day(t)
        ac = self.sc.buyers.academics
        renewal = (ac.grant_month - 1) * DAYS_PER_MONTH
        since = (day - renewal) % DAYS_PER_YEAR
        return (
            term * DAYS_PER_YEAR <= DAYS_PER_YEAR - since + self.sc.markets.contracts.session_days
        )

    def _min_contract(self) -> float:
        specs = [p for p in self.provider_specs if p.count > 0]
        return float(min(p.min_contract_gpus for p in specs)) if specs else np.inf

    def _sign(self, t: int, term: int, who, gpus, max_price, split, fresh: bool = False) -> int:
        """Sign the contracts asked for that providers accept; returns how many were signed.

        ``split`` marks asks that may be served by a smaller contract at the cheapest site that
        still has room for one (labs cover their demand site by site, cheapest first)."""
        b, s = self.buyers, self.sites
        periods = self.cal.periods(term * DAYS_PER_YEAR)
        discount = np.asarray([getattr(p, f"discount_{term}y") for p in self.provider_specs])
        price = s.site_price * (1 - discount[s.site_class])  # [site]
        min_size = np.asarray([p.min_contract_gpus for p in self.provider_specs])[s.site_class]
        # the ledger ends at the horizon: a contract running past it is checked up to there
        window = max(1, min(periods, self.ledger.periods - t))
        room = self._contractable(t, window)
        if split.any():
            # a splittable ask takes what the cheapest site with room for a contract can give
            block = np.floor(room.min(axis=1))
            usable = block >= min_size
            if usable.any():
                cheapest = np.flatnonzero(usable)[np.argmin(price[usable])]
                gpus = np.where(split, np.minimum(gpus, block[cheapest]), gpus)
        cover = np.asarray([p.credit_cover_months for p in self.provider_specs])[s.site_class]
        gpus = np.maximum(gpus, 0.0)
        monthly = gpus[:, None] * price[None, :] * DAYS_PER_MONTH * 24
        eligible = (gpus[:, None] >= np.maximum(min_size[None, :], 1)) & (
            b.cash[who, None] >= cover[None, :] * monthly
        )
        academic = b.kind[who] == ACADEMIC
        total = gpus[:, None] * price[None, :] * periods * self.h
        eligible[academic] &= b.cash[who[academic], None] >= total[academic]
        order = self._contract_priority(who)
        who, gpus, max_price, eligible = who[order], gpus[order], max_price[order], eligible[order]
        req = BlockRequests(
            gpus=gpus,
            periods=np.full(who.size, window),
            max_price=max_price,
            budget=np.full(who.size, np.inf),
            eligible=eligible,
        )
        alloc = allocate_blocks(room, price, req, self.h)
        ok = alloc.site >= 0
        if not ok.any():
            return 0
        holder, site, g = who[ok], alloc.site[ok], gpus[ok]
        start = np.full(holder.size, t)
        length = np.full(holder.size, periods)
        if (
            t == 0 and not fresh
        ):  # the world starts mid-stream: contracts in force have part of their term left
            length = np.maximum(
                1, (periods * self.rng_contracts.uniform(0.25, 1.0, holder.size)).astype(np.int64)
            )
        self.ledger.reserve(site, start, length, g, contract=True)
        rows = self.book.add(
            holder, site, s.site_provider[site], g, start, start + length, alloc.price[ok]
        )
        self._pool_changed(holder)
        for end in np.unique(self.book.end[rows]):
            self.env.process(self._expire(rows[self.book.end[rows] == end], int(end)))
        self.rec.contracts_signed(rows)
        return int(rows.size)

    def _contract_priority(self, who: np.ndarray) -> np.ndarray:
        """Labs first (providers court their largest, safest buyers), then by cash."""
        return np.lexsort((-self.buyers.cash[who], self.buyers.kind[who] != LAB))

    def _contractable(self, t: int, periods: int) -> np.ndarray:
        """GPUs per site and period a provider would still put under contract."""
        share = np.asarray([p.max_contracted_share for p in self.provider_specs])[
            self.sites.site_class
        ]
        free = self.ledger.free(t, periods)
        end = min(t + periods, self.ledger.periods)
        room = np.zeros_like(free)
        cap = self.ledger.capacity[:, t:end]
        room[:, : end - t] = share[:, None] * cap - self.ledger.contracted[:, t:end]
        return np.minimum(free, room)

    def _pool_changed(self, holders: np.ndarray) -> None:
        """Recompute pool size, largest single contract and average price for ``holders``."""
        b, bk = self.buyers, self.book
        self._steady_stale = True
        holders = np.unique(holders)
        live = bk.live()
        mine = live[np.isin(bk.holder[live], holders)]
        b.pool_gpus[holders] = 0.0
        b.pool_block[holders] = 0.0
        spend = np.zeros(len(b))
        np.add.at(b.pool_gpus, bk.holder[mine], bk.gpus[mine])
        np.maximum.at(b.pool_block, bk.holder[mine], bk.gpus[mine])
        np.add.at(spend, bk.holder[mine], bk.gpus[mine] * bk.price[mine])
        self.pool_price[holders] = np.divide(
            spend[holders],
            b.pool_gpus[holders],
            out=np.zeros(holders.size),
            where=b.pool_gpus[holders] > 0,
        )
        self.holders = np.flatnonzero(b.pool_gpus > 0)

    def _expire(self, rows: np.ndarray, end: int):
        yield self.env.timeout(max(0, end - int(self.env.now)))
        self._end_contracts(rows, end)

    def _end_contracts(self, rows: np.ndarray, end: int) -> None:
        """Contracts reaching the end of their term: final bill, pool shrinks, runs that no
        longer fit are killed. Contracts already ended (or defaulted) are skipped."""
        rows = rows[self.book.active[rows]]
        if rows.size == 0:
            return
        self._bill_rows(rows, end)
        self.book.active[rows] = False
        self._recheck = True
        self._pool_changed(self.book.holder[rows])
        self._kill_pool_runs(self.book.holder[rows], only_oversized=True)

    def _kill_pool_runs(self, holders: np.ndarray, only_oversized: bool = False) -> None:
        """Runs inside a pool that no longer holds them stop (status ``killed``)."""
        r, b = self.runs, self.buyers
        run = self.running
        host = r.host[run]
        in_pool = (host >= 0) & np.isin(host, holders)
        if only_oversized:
            in_pool &= r.gpus[run] > b.pool_block[host]
        if not in_pool.any():
            return
        dead = run[in_pool]
        r.status[dead] = KILLED
        self._steady_stale = True
        np.subtract.at(b.pool_busy, r.host[dead], r.gpus[dead])
        self.running = run[~in_pool]
        self.rec.run_ended(dead)

    # ---- money ---------------------------------------------------------------------------------

    def billing(self, t: int) -> None:
        self._bill_rows(self.book.live(), t)

    def _bill_rows(self, rows: np.ndarray, t: int) -> None:
        bk, b = self.book, self.buyers
        inv = bill(bk, t, self.h)
        keep = np.isin(inv.rows, rows)
        rows, due, periods = inv.rows[keep], inv.amount[keep], inv.periods[keep]
        if rows.size == 0:
            return
        paid, defaulters = settle(b.cash, bk.holder[rows], due)
        b.pay(bk.holder[rows], paid)
        np.add.at(self.sites.revenue, bk.provider[rows], paid)
        np.add.at(self.sites.contract_revenue, bk.provider[rows], paid)
        bk.billed[rows] += periods
        unpaid = due - paid
        np.add.at(bk.defaulted, rows, unpaid)
        np.add.at(self.sites.defaulted, bk.provider[rows], unpaid)
        np.add.at(b.defaulted, bk.holder[rows], unpaid)
        if defaulters.size:
            self.fail(defaulters, t)

    def fail(self, who: np.ndarray, t: int) -> None:
        """Buyers out of money stop: contracts end in default and capacity returns to the provider."""
        b, bk = self.buyers, self.book
        who = who[b.alive[who]]
        if who.size == 0:
            return
        b.alive[who] = False
        self._recheck = True
        self._steady_stale = True
        live = bk.live()
        gone = live[np.isin(bk.holder[live], who)]
        if gone.size:
            left = np.maximum(bk.end[gone] - np.maximum(t, bk.start[gone]), 0)
            owed = left * self.h * bk.gpus[gone] * bk.price[gone]
            np.add.at(bk.defaulted, gone, owed)
            np.add.at(self.sites.defaulted, bk.provider[gone], owed)
            np.add.at(b.defaulted, bk.holder[gone], owed)
            self.ledger.release(
                bk.site[gone], np.maximum(t, bk.start[gone]), left, bk.gpus[gone], contract=True
            )
            bk.active[gone] = False
            self._pool_changed(bk.holder[gone])
        self._kill_pool_runs(who)
        self.rec.failed(who, t)

    def funding(self, t: int) -> None:
        b, st = self.buyers, self.sc.buyers.startups
        alive = np.flatnonzero((b.kind == STARTUP) & b.alive)
        burn = np.minimum(b.burn[alive], b.cash[alive])
        b.cash[alive] -= burn
        b.outflow[alive] += burn
        day = self.cal.day(t)
        due = alive[b.next_round[alive] <= day]
        if due.size:
            chance = np.minimum(
                0.95, st.raise_probability + st.raise_probability_per_run * b.runs_since_round[due]
            )
            won = self.rng_funding.random(due.size) < chance
            amount = st.round_size.sample(self.rng_funding, due.size) * won
            b.cash[due] += amount
            b.inflow[due] += amount
            b.runs_since_round[due[won]] = 0
            interval = st.round_interval_months * DAYS_PER_MONTH
            b.next_round[due] = day + np.where(won, interval, interval / 3)
        broke = alive[b.cash[alive] <= 1e-6]
        if broke.size:
            self.fail(broke, t)

    def _grants(self):
        ac = self.sc.buyers.academics
        first = (
            self.cal.periods((ac.grant_month - 1) * DAYS_PER_MONTH)
            if ac.grant_month > 1
            else self.cal.periods(DAYS_PER_YEAR)
        )
        yield self.env.timeout(first)
        while True:
            b = self.buyers
            who = np.flatnonzero((b.kind == ACADEMIC) & (b.grant > 0))
            b.outflow[who] += b.cash[who]  # unspent grant money lapses
            b.cash[who] = b.grant[who]
            b.inflow[who] += b.grant[who]
            yield self.env.timeout(self.cal.periods(DAYS_PER_YEAR))

    def _lab_growth(self, t: int) -> float:
        g = self.sc.buyers.frontier_labs.demand_growth_per_year
        return (1 + g) ** (self.cal.day(t) / DAYS_PER_YEAR)

    def _class_mean_run_gpu_hours(self) -> np.ndarray:
        out = np.zeros(3)
        for kind, spec in (
            (STARTUP, self.sc.buyers.startups),
            (ACADEMIC, self.sc.buyers.academics),
        ):
            out[kind] = spec.run_gpus.mean * spec.run_hours.mean
        return out

    # ---- supply side -----------------------------------------------------------------------------

    def review_capacity(self, t: int, k: int) -> None:
        """Order capacity at sites of class ``k`` whose committed share or price signal is high."""
        spec, s, led = self.provider_specs[k], self.sites, self.ledger
        sites = np.flatnonzero(s.site_class == k)
        if sites.size == 0:
            return
        lead = self.cal.periods(spec.build.lead_time_days)
        lo, hi = t, min(t + lead, led.periods)
        back = max(0, t - self.cal.periods(spec.build.review_days))
        cap_now = led.capacity[sites, t]
        committed = led.contracted[sites, lo:hi].mean(axis=1) if hi > lo else 0.0
        used = (led.in_use[sites, back:t] + led.contracted[sites, back:t]).mean(axis=1)
        share = np.maximum(committed, used) / np.maximum(cap_now, 1e-9)
        fixed, energy = s.fixed_cost[s.site_provider[sites]], s.energy_cost[s.site_provider[sites]]
        price_ratio = s.site_price[sites] / (fixed + energy)
        order = (share >= spec.build.trigger_utilization) | (
            (price_ratio >= spec.build.price_signal) & (share >= spec.target_utilization)
        )
        if not order.any():
            return
        add = np.round(spec.build.step_fraction * cap_now[order])
        self.env.process(self._arrive(sites[order], add, t + lead))
        self.rec.capacity_ordered(sites[order], add, t)

    def _arrive(self, sites: np.ndarray, gpus: np.ndarray, when: int):
        yield self.env.timeout(max(0, when - int(self.env.now)))
        for site, g in zip(sites, gpus, strict=True):
            self.ledger.add_capacity(int(site), when, float(g))
        self._recheck = True

    def reprice(self, t: int, k: int) -> None:
        """List price moves with last month's utilization, never below owning cost."""
        spec, s, led = self.provider_specs[k], self.sites, self.ledger
        prov = np.flatnonzero(s.provider_class == k)
        back = max(0, t - self.cal.periods(DAYS_PER_MONTH))
        busy = (led.in_use[:, back:t] + led.contracted[:, back:t]).sum(axis=1)
        cap = led.capacity[:, back:t].sum(axis=1)
        u = np.bincount(s.site_provider, busy, s.list_price.size) / np.maximum(
            np.bincount(s.site_provider, cap, s.list_price.size), 1e-9
        )
        new = s.list_price[prov] * (1 + spec.price_adjustment * (u[prov] - spec.target_utilization))
        s.list_price[prov] = np.maximum(new, s.fixed_cost[prov] + s.energy_cost[prov])

    def _supply_cut(self, shock):
        start = self.cal.periods(shock.start_day) if shock.start_day > 0 else 0
        yield self.env.timeout(start)
        names = ("hyperscalers", "neoclouds")
        classes = [names.index(c) for c in shock.classes if c in names] or [0, 1]
        sites = np.flatnonzero(np.isin(self.sites.site_class, classes))
        end = start + self.cal.periods(shock.duration_days)
        self.ledger.cut_uncommitted(sites, start, end, shock.magnitude)
