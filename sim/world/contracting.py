"""Long-term contracts: who asks, signing, pools, billing, expiry and default."""

from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np
import simpy

from sim.agents import ACADEMIC, LAB, STARTUP
from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.channels.blocks import BlockRequests, allocate_blocks
from sim.channels.contracts import bill, expected_use_share, settle
from sim.demand import KILLED
from sim.state import State

Asks = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # who, GPUs, max price, split


class Contracting:
    def __init__(self, state: State, env: simpy.Environment, rng: np.random.Generator):
        self.s = state
        self.env = env
        self.rng = rng
        sc = state.scenario
        self._mean_run_gpu_hours = np.zeros(3)
        for kind, spec in ((STARTUP, sc.buyers.startups), (ACADEMIC, sc.buyers.academics)):
            self._mean_run_gpu_hours[kind] = spec.run_gpus.mean * spec.run_hours.mean
        specs = [p for p in state.provider_specs if p.count > 0]
        self.min_contract = float(min(p.min_contract_gpus for p in specs)) if specs else np.inf
        # what happens to holders that cannot pay their bills (the world makes them fail)
        self.on_default: Callable[[np.ndarray, int], None] = lambda who, t: None

    # ---- asking and signing ------------------------------------------------------------------

    def session(self, t: int) -> None:
        # at the start, labs may need several contracts (one per site) to cover their demand
        for _ in range(10 if t == 0 else 1):
            signed = 0
            for term, asks in self._wants(t).items():
                signed += self.sign(t, term, *asks)
            if not signed:
                break

    def _wants(self, t: int) -> dict[int, Asks]:
        """Who asks for a contract this session: (buyers, GPUs, max price $/GPU-h) per term."""
        b, sc = self.s.buyers, self.s.scenario
        out: dict[int, list[Asks]] = {1: [], 3: []}
        # frontier labs top up their pool to steady demand times headroom
        labs = np.flatnonzero((b.kind == LAB) & b.alive)
        growth = (1 + sc.buyers.frontier_labs.demand_growth_per_year) ** (
            self.s.cal.day(t) / DAYS_PER_YEAR
        )
        need = b.base_load[labs] * growth * sc.buyers.frontier_labs.contract_headroom
        gap = need - b.pool_gpus[labs]
        big = gap >= self.min_contract
        asks = labs[big]
        out[sc.buyers.frontier_labs.contract_term_years].append(
            (asks, np.ceil(gap[big]), b.load_value[asks], np.ones(asks.size, dtype=bool))
        )
        for kind in (STARTUP, ACADEMIC):
            for term in (1, 3):
                out[term].append(self._buyer_asks(t, kind, term))
        merged: dict[int, Asks] = {}
        for term, parts in out.items():
            parts = [p for p in parts if p[0].size]
            if parts:
                who, gpus, price, split = (np.concatenate(c) for c in zip(*parts, strict=True))
                merged[term] = (who, gpus, price, split)
        return merged

    def _buyer_asks(self, t: int, kind: int, term: int) -> Asks:
        """Startups and academics: contract asks by the expected-surplus rule (module doc of
        ``sim.channels.contracts``)."""
        s = self.s
        b, r, sc = s.buyers, s.runs, s.scenario
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
        p = s.queue.pending
        np.maximum.at(pend_gpus, r.agent[p], r.gpus[p])
        np.add.at(pend_gh, r.agent[p], r.gpu_hours[p])
        np.add.at(pend_value, r.agent[p], r.gpu_hours[p] * r.value[p])
        load = b.base_load[who]
        gpus = np.maximum(np.maximum(pend_gpus[who], np.ceil(load)), self.min_contract)
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
        list_price = s.sites.list_price
        cheapest = float(list_price.min()) if list_price.size else np.inf
        price_cap = np.where(
            s.waiting_blocked[who], value_cap, np.minimum(value_cap, share * cheapest)
        )
        keep = (hours_used > 0) & (pend_gh[who] > 0) | (load >= self.min_contract)
        if kind == ACADEMIC:
            keep &= self._grant_covers(t, term)
        return who[keep], gpus[keep], price_cap[keep], np.zeros(int(keep.sum()), dtype=bool)

    def _grant_covers(self, t: int, term: int) -> bool:
        """An academic may not commit past its current grant (grants last one year)."""
        sc = self.s.scenario
        day = self.s.cal.day(t)
        renewal = (sc.buyers.academics.grant_month - 1) * DAYS_PER_MONTH
        since = (day - renewal) % DAYS_PER_YEAR
        return bool(
            term * DAYS_PER_YEAR <= DAYS_PER_YEAR - since + sc.markets.contracts.session_days
        )

    def sign(
        self,
        t: int,
        term: int,
        who: np.ndarray,
        gpus: np.ndarray,
        max_price: np.ndarray,
        split: np.ndarray,
        fresh: bool = False,
    ) -> int:
        """Sign the contracts asked for that providers accept; returns how many were signed.

        ``split`` marks asks that may be served by a smaller contract at the cheapest site that
        still has room for one (labs cover their demand site by site, cheapest first)."""
        s = self.s
        b, sites, specs = s.buyers, s.sites, s.provider_specs
        periods = s.cal.periods(term * DAYS_PER_YEAR)
        discount = np.asarray([getattr(p, f"discount_{term}y") for p in specs])
        price = sites.site_price * (1 - discount[sites.site_class])  # [site]
        min_size = np.asarray([p.min_contract_gpus for p in specs])[sites.site_class]
        # the ledger ends at the horizon: a contract running past it is checked up to there
        window = max(1, min(periods, s.ledger.periods - t))
        room = self._contractable(t, window)
        if split.any():
            # a splittable ask takes what the cheapest site with room for a contract can give
            block = np.floor(room.min(axis=1))
            usable = block >= min_size
            if usable.any():
                cheapest = np.flatnonzero(usable)[np.argmin(price[usable])]
                gpus = np.where(split, np.minimum(gpus, block[cheapest]), gpus)
        cover = np.asarray([p.credit_cover_months for p in specs])[sites.site_class]
        gpus = np.maximum(gpus, 0.0)
        monthly = gpus[:, None] * price[None, :] * DAYS_PER_MONTH * 24
        eligible = (gpus[:, None] >= np.maximum(min_size[None, :], 1)) & (
            b.cash[who, None] >= cover[None, :] * monthly
        )
        academic = b.kind[who] == ACADEMIC
        total = gpus[:, None] * price[None, :] * periods * s.h
        eligible[academic] &= b.cash[who[academic], None] >= total[academic]
        # labs first (providers court their largest, safest buyers), then by cash
        order = np.lexsort((-b.cash[who], b.kind[who] != LAB))
        who, gpus, max_price, eligible = who[order], gpus[order], max_price[order], eligible[order]
        req = BlockRequests(
            gpus=gpus,
            periods=np.full(who.size, window),
            max_price=max_price,
            budget=np.full(who.size, np.inf),
            eligible=eligible,
        )
        alloc = allocate_blocks(room, price, req, s.h)
        ok = alloc.site >= 0
        if not ok.any():
            return 0
        holder, site, g = who[ok], alloc.site[ok], gpus[ok]
        start = np.full(holder.size, t)
        length = np.full(holder.size, periods)
        if t == 0 and not fresh:
            # the world starts mid-stream: contracts in force have part of their term left
            length = np.maximum(
                1, (periods * self.rng.uniform(0.25, 1.0, holder.size)).astype(np.int64)
            )
        s.ledger.reserve(site, start, length, g, contract=True)
        rows = s.book.add(
            holder, site, sites.site_provider[site], g, start, start + length, alloc.price[ok]
        )
        s.refresh_pools(holder)
        for end in np.unique(s.book.end[rows]):
            self.env.process(self._expire(rows[s.book.end[rows] == end], int(end)))
        s.listener.contracts_signed(rows)
        return int(rows.size)

    def _contractable(self, t: int, periods: int) -> np.ndarray:
        """GPUs per site and period a provider would still put under contract."""
        s = self.s
        share = np.asarray([p.max_contracted_share for p in s.provider_specs])[s.sites.site_class]
        led = s.ledger
        free = led.free(t, periods)
        end = min(t + periods, led.periods)
        room = np.zeros_like(free)
        room[:, : end - t] = share[:, None] * led.capacity[:, t:end] - led.contracted[:, t:end]
        return np.minimum(free, room)

    # ---- billing, expiry, default ------------------------------------------------------------

    def billing(self, t: int) -> None:
        self._bill(self.s.book.live(), t)

    def _bill(self, rows: np.ndarray, t: int) -> None:
        """Invoice ``rows`` up to ``t``: each holder pays what its cash covers, pro rata, and a
        holder that cannot pay in full is in default."""
        s = self.s
        bk, b = s.book, s.buyers
        inv = bill(bk, t, s.h)
        keep = np.isin(inv.rows, rows)
        rows, due, periods = inv.rows[keep], inv.amount[keep], inv.periods[keep]
        if rows.size == 0:
            return
        paid, defaulters = settle(b.cash, bk.holder[rows], due)
        s.accounts.transfer(
            "contract", t, bk.holder[rows], s.provider_account(bk.provider[rows]), paid
        )
        bk.billed[rows] += periods
        unpaid = due - paid
        np.add.at(bk.defaulted, rows, unpaid)
        np.add.at(s.sites.defaulted, bk.provider[rows], unpaid)
        np.add.at(b.defaulted, bk.holder[rows], unpaid)
        if defaulters.size:
            self.on_default(defaulters, t)

    def default(self, who: np.ndarray, t: int) -> None:
        """Failed buyers' contracts end in default: the rest of the term is owed and never paid,
        and the capacity returns to the provider."""
        s = self.s
        bk, b = s.book, s.buyers
        live = bk.live()
        gone = live[np.isin(bk.holder[live], who)]
        if gone.size:
            left = np.maximum(bk.end[gone] - np.maximum(t, bk.start[gone]), 0)
            owed = left * s.h * bk.gpus[gone] * bk.price[gone]
            np.add.at(bk.defaulted, gone, owed)
            np.add.at(s.sites.defaulted, bk.provider[gone], owed)
            np.add.at(b.defaulted, bk.holder[gone], owed)
            s.ledger.release(
                bk.site[gone], np.maximum(t, bk.start[gone]), left, bk.gpus[gone], contract=True
            )
            bk.active[gone] = False
            s.refresh_pools(bk.holder[gone])
        self.kill_pool_runs(who)

    def _expire(self, rows: np.ndarray, end: int) -> Generator[simpy.Event, None, None]:
        yield self.env.timeout(max(0, end - int(self.env.now)))
        self.end_contracts(rows, end)

    def end_contracts(self, rows: np.ndarray, end: int) -> None:
        """Contracts reaching the end of their term: final bill, pool shrinks, runs that no
        longer fit are killed. Contracts already ended (or defaulted) are skipped."""
        s = self.s
        rows = rows[s.book.active[rows]]
        if rows.size == 0:
            return
        self._bill(rows, end)
        s.book.active[rows] = False
        s.queue.recheck = True
        s.refresh_pools(s.book.holder[rows])
        self.kill_pool_runs(s.book.holder[rows], only_oversized=True)

    def kill_pool_runs(self, holders: np.ndarray, only_oversized: bool = False) -> None:
        """Runs inside a pool that no longer holds them stop (status ``killed``)."""
        s = self.s
        r, b, q = s.runs, s.buyers, s.queue
        run = q.running
        host = r.host[run]
        in_pool = (host >= 0) & np.isin(host, holders)
        if only_oversized:
            in_pool &= r.gpus[run] > b.pool_block[host]
        if not in_pool.any():
            return
        dead = run[in_pool]
        r.status[dead] = KILLED
        s.load_changed()
        np.subtract.at(b.pool_busy, r.host[dead], r.gpus[dead])
        q.running = run[~in_pool]
        s.listener.run_ended(dead)
