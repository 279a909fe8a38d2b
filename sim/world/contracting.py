"""Long-term contracts: who asks, signing, pools, expiry."""

from __future__ import annotations

import numpy as np

from sim.agents import ACADEMIC, LAB, STARTUP
from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.channels.blocks import BlockRequests, allocate_blocks
from sim.channels.contracts import expected_use_share
from sim.demand import (
    KILLED,
)


class ContractingMixin:
    """Methods of :class:`sim.world.World` (contracting); they use the world's state."""

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
        self._load_changed()
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
        self._load_changed()
        np.subtract.at(b.pool_busy, r.host[dead], r.gpus[dead])
        self.running = run[~in_pool]
        self.rec.run_ended(dead)
