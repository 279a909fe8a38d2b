"""The world's typed state: what the components share, and what the recorder reads.

Each slice is a dataclass of numpy arrays (or a small class with the few verbs that keep its
arrays consistent). Components take the slices they need; none of them holds another's private
state. The recorder reads these types and the events the world publishes (``Listener``); it never
imports the world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sim.accounts import Accounts
from sim.agents import Buyers, Sites
from sim.calendar import Calendar
from sim.channels.blocks import BlockAllocation
from sim.channels.contracts import ContractBook
from sim.demand import PENDING, RUNNING, Runs
from sim.ledger import CapacityLedger
from sim.schema import ProviderClass, Scenario


class Listener(Protocol):
    """What the world publishes. Every method is an event; the recorder implements them all."""

    def run_started(self, rows: np.ndarray) -> None: ...
    def run_ended(self, rows: np.ndarray) -> None: ...
    def failed(self, who: np.ndarray, t: int) -> None: ...
    def capacity_ordered(self, sites: np.ndarray, gpus: np.ndarray, t: int) -> None: ...
    def contracts_signed(self, rows: np.ndarray) -> None: ...
    def forward_defaults(self, who: np.ndarray, shortfall: np.ndarray) -> None: ...
    def steady(
        self, want: np.ndarray, got: np.ndarray, paid: np.ndarray, from_pool: np.ndarray
    ) -> None: ...
    def period(self, t: int) -> None: ...


class Fanout:
    """Publishes each event to every listener, in order."""

    def __init__(self, listeners: list[Listener]):
        self.listeners = listeners

    def run_started(self, rows: np.ndarray) -> None:
        for x in self.listeners:
            x.run_started(rows)

    def run_ended(self, rows: np.ndarray) -> None:
        for x in self.listeners:
            x.run_ended(rows)

    def failed(self, who: np.ndarray, t: int) -> None:
        for x in self.listeners:
            x.failed(who, t)

    def capacity_ordered(self, sites: np.ndarray, gpus: np.ndarray, t: int) -> None:
        for x in self.listeners:
            x.capacity_ordered(sites, gpus, t)

    def contracts_signed(self, rows: np.ndarray) -> None:
        for x in self.listeners:
            x.contracts_signed(rows)

    def forward_defaults(self, who: np.ndarray, shortfall: np.ndarray) -> None:
        for x in self.listeners:
            x.forward_defaults(who, shortfall)

    def steady(
        self, want: np.ndarray, got: np.ndarray, paid: np.ndarray, from_pool: np.ndarray
    ) -> None:
        for x in self.listeners:
            x.steady(want, got, paid, from_pool)

    def period(self, t: int) -> None:
        for x in self.listeners:
            x.period(t)


class RunQueue:
    """Runs waiting, running and holding a forward reservation, and the verbs that move them.

    ``pending`` is replaced (never changed in place) whenever it changes, so a value derived from
    it is valid while ``pending`` is the same object: ``first_per_owner`` keeps its answer on
    that condition, in this one place."""

    def __init__(self, runs: Runs, buyers: Buyers):
        self.runs = runs
        self.buyers = buyers
        self.pending = np.zeros(0, dtype=np.int64)
        self.running = np.zeros(0, dtype=np.int64)
        self.reserved = np.zeros(0, dtype=np.int64)  # runs holding a forward reservation
        self.next_arrival = 0  # index of the next run to arrive (arrivals are sorted)
        self.next_end: float = np.inf  # no running run ends before this period
        self.recheck = True  # something could have made room for waiting runs
        self._heads: tuple[np.ndarray, np.ndarray] | None = None

    def first_per_owner(self, rows: np.ndarray) -> np.ndarray:
        """The highest-priority run of each owner among ``rows`` (rows are in priority order)."""
        if rows is self.pending and self._heads is not None and self._heads[0] is rows:
            return self._heads[1]
        agent = self.runs.agent[rows]
        order = agent.argsort(kind="stable")  # stable: priority order within each owner
        first = np.ones(rows.size, dtype=bool)
        first[1:] = agent[order[1:]] != agent[order[:-1]]
        order = order[first]
        order.sort()
        heads = rows[order]
        if rows is self.pending:
            heads.flags.writeable = False
            self._heads = (rows, heads)
        return heads

    def start(
        self,
        rows: np.ndarray,
        t: int,
        channel: int,
        price: np.ndarray,
        listener: Listener,
        site: np.ndarray | None = None,
    ) -> None:
        """Runs ``rows`` start now through ``channel`` at ``price`` $/GPU-h."""
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
            self.next_end = min(self.next_end, int((r.start[rows] + r.periods[rows]).min()))
        self.pending = self.pending[r.status[self.pending] == PENDING]
        listener.run_started(rows)


@dataclass
class Pools:
    """Contracted capacity buyers hold now, what they do with it, and the load epoch.

    The epoch counts changes to any buyer's steady load or pool (``alive``, ``base_load``,
    ``pool_gpus``, ``pool_busy``, ``public_gpus``): whatever is derived from those is valid while
    the epoch is unchanged."""

    price: np.ndarray  # [buyer] $/GPU-h, GPU-weighted over live contracts
    lent: np.ndarray  # [buyer] contracted GPUs resold at the last spot auction
    spot_served: np.ndarray  # [buyer] steady-load GPUs bought at the last spot auction
    spot_paid: np.ndarray  # [buyer] $ per period for them
    site: np.ndarray  # [buyer] site of the largest contract held now (-1: none), hosting its runs
    holders: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    epoch: int = 0
    steady_stale: bool = True  # steady load must be recomputed before it is next served

    @classmethod
    def empty(cls, n: int) -> Pools:
        return cls(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.full(n, -1))

    def changed(self) -> None:
        self.steady_stale = True
        self.epoch += 1

    def free(self, buyers: Buyers) -> np.ndarray:
        """Contracted GPUs a holder can use now: not running a run, not resold on the spot."""
        b = buyers
        return np.maximum(b.pool_gpus - b.pool_busy - self.lent, 0.0) + b.public_gpus


@dataclass
class Signals:
    """Prices the markets have published, which agents read to decide."""

    spot_price: np.ndarray  # [period] $/GPU-h, NaN where no auction has priced it
    curve: list[tuple[float, ...]] = field(default_factory=list)  # forward sessions' rows
    spot_volume: np.ndarray = field(init=False)  # [period] GPU-hours bought
    spot_from_providers: np.ndarray = field(init=False)  # [period] GPU-hours providers sold
    spot_resold: np.ndarray = field(init=False)  # [period] GPU-hours contract holders resold
    withheld: np.ndarray = field(init=False)  # [period] idle GPUs strategic providers kept back
    spot_mip_gap: np.ndarray = field(init=False)  # [period] exact block auction's MIP gap
    paradoxically_rejected: np.ndarray = field(init=False)  # [period] blocks, exact auction

    def __post_init__(self) -> None:
        n = self.spot_price.size
        self.spot_volume = np.zeros(n)
        self.spot_from_providers = np.zeros(n)
        self.spot_resold = np.zeros(n)
        self.withheld = np.zeros(n)
        self.spot_mip_gap = np.zeros(n)
        self.paradoxically_rejected = np.zeros(n)

    def record_spot(
        self, t: int, length: int, price: float, bought: float, sold: float, resold: float
    ) -> None:
        """One auction's price and GPU-hours, spread over the periods it covers."""
        w = slice(t, t + length)
        self.spot_price[w] = price
        self.spot_volume[w] = bought / length
        self.spot_from_providers[w] = sold / length
        self.spot_resold[w] = resold / length

    def spot_outlook(self, t: int, back_periods: int) -> tuple[float, float]:
        """Mean and s.d. of the spot price over the last ``back_periods`` (inf before any)."""
        recent = self.spot_price[max(0, t - back_periods) : t]
        recent = recent[np.isfinite(recent)]
        n = recent.size
        if n == 0:
            return float("inf"), 0.0
        mean = recent.sum() / n  # ``recent.mean()`` and ``recent.std()`` with one sum
        dev = recent - mean
        dev *= dev
        return float(mean), float(np.sqrt(dev.sum() / n))

    def forward_price(self, nearest: bool = False) -> float:
        """The latest price of the farthest (or nearest) window traded or quoted; NaN if none."""
        if not self.curve:
            return float("nan")
        session = self.curve[-1][0]
        latest = [row for row in self.curve if row[0] == session and np.isfinite(row[3])]
        if not latest:
            return float("nan")
        pick = min if nearest else max
        return float(pick(latest, key=lambda row: row[1])[3])


@dataclass
class Usage:
    """Per-period use of contracted capacity (for utilization and providers' energy cost)."""

    pool_used: np.ndarray  # [period] contracted GPUs in use (steady load and runs)
    pool_held: np.ndarray  # [period] contracted GPUs held

    @classmethod
    def empty(cls, periods: int) -> Usage:
        return cls(np.zeros(periods), np.zeros(periods))

    def pool_ratio(self) -> np.ndarray:
        """Share of contracted GPUs in use, per period (0 where none are held)."""
        out = np.zeros(self.pool_used.size)
        np.divide(self.pool_used, self.pool_held, out=out, where=self.pool_held > 1e-12)
        return out


@dataclass
class MarketMakers:
    """Market makers' starting capital and the forward positions' collateral still open."""

    initial: np.ndarray  # [maker] $
    open_collateral: np.ndarray  # [maker] $ posted for windows not settled


@dataclass
class State:
    """Everything the components share."""

    scenario: Scenario
    cal: Calendar
    buyers: Buyers
    sites: Sites
    provider_specs: list[ProviderClass]
    runs: Runs
    profiles: np.ndarray  # [class, period] demand multipliers
    season: np.ndarray  # [period] segment of constant profile
    ledger: CapacityLedger  # GPUs
    book: ContractBook
    accounts: Accounts  # money
    queue: RunQueue
    pools: Pools
    signals: Signals
    usage: Usage
    makers: MarketMakers
    waiting_blocked: np.ndarray  # [buyer] its first waiting run found no block on demand
    programme: int | None  # the public programme's buyer row, if any
    listener: Fanout

    @property
    def h(self) -> float:
        return float(self.cal.hours_per_period)

    def load_changed(self) -> None:
        self.pools.changed()

    def run_budget(self, who: np.ndarray) -> np.ndarray:
        """Money a buyer will put into one run: startups keep three months of burn in reserve."""
        b = self.buyers
        return np.maximum(b.cash[who] - 3 * b.burn[who], 0.0)

    def provider_account(self, provider: np.ndarray) -> np.ndarray:
        return self.accounts.layout.first_provider + provider

    def book_blocks(
        self, t: int, rows: np.ndarray, alloc: BlockAllocation, channel: int, reason: str
    ) -> None:
        """Start the runs ``alloc`` placed: book their blocks, and their owners pay the sites'
        providers for them."""
        r = self.runs
        ok = alloc.site >= 0
        if not ok.any():
            return
        got, sites = rows[ok], alloc.site[ok]
        self.ledger.reserve(sites, t, r.periods[got], r.gpus[got], contract=False)
        cost = alloc.cost[ok]
        provider = self.sites.site_provider[sites]
        self.accounts.transfer(reason, t, r.agent[got], self.provider_account(provider), cost)
        r.paid[got] += cost
        self.queue.start(got, t, channel, alloc.price[ok], self.listener, sites)

    def refresh_pools(self, holders: np.ndarray) -> None:
        """Pool size, largest single contract and average price of ``holders`` from the book."""
        b, bk, pools = self.buyers, self.book, self.pools
        pools.changed()
        holders = np.unique(holders)
        live = bk.live()
        mine = live[np.isin(bk.holder[live], holders)]
        b.pool_gpus[holders] = 0.0
        b.pool_block[holders] = 0.0
        spend = np.zeros(len(b))
        np.add.at(b.pool_gpus, bk.holder[mine], bk.gpus[mine])
        np.maximum.at(b.pool_block, bk.holder[mine], bk.gpus[mine])
        # a run in the pool runs on the largest contract (the earliest signed among equals)
        largest = mine[bk.gpus[mine] >= b.pool_block[bk.holder[mine]]]
        first = np.unique(bk.holder[largest], return_index=True)[1]
        pools.site[holders] = -1
        pools.site[bk.holder[largest[first]]] = bk.site[largest[first]]
        np.add.at(spend, bk.holder[mine], bk.gpus[mine] * bk.price[mine])
        pools.price[holders] = np.divide(
            spend[holders],
            b.pool_gpus[holders],
            out=np.zeros(holders.size),
            where=b.pool_gpus[holders] > 0,
        )
        pools.holders = np.flatnonzero(b.pool_gpus > 0)
