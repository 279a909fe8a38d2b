"""What a replication records: per-period aggregates in preallocated arrays (no pandas in the
loop), turned into tidy tables once the run ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.agents import BUYER_CLASSES, PROVIDER_CLASSES
from sim.demand import (
    ABANDONED,
    CHANNELS,
    CONTRACT,
    FORWARD,
    KILLED,
    ON_DEMAND,
    SPOT,
    STATUS_NAMES,
    VOID,
)

if TYPE_CHECKING:
    from sim.world import World

NB = len(BUYER_CLASSES)
TABLES = ("timeseries", "agents", "jobs", "providers", "contracts")  # written by every run
# lots traded per forward window and session, by side (the order of ForwardMixin._volume_by_side)
CURVE_SIDES = (
    "bought_by_runs",
    "bought_by_programme",
    "bought_by_makers",
    "sold_by_providers",
    "sold_by_buyers",
    "sold_by_makers",
)
FORWARD_TABLES = ("forward_curves", "market_makers", "margin_defaults")  # with a forward market


class Recorder:
    def __init__(self, world: World):
        self.w = world
        T = world.cal.horizon
        self.demand = np.zeros((T, NB))  # GPUs wanted (steady load + waiting and running runs)
        self.served = np.zeros((T, NB))  # GPUs received
        self.spend = np.zeros((T, NB))  # $ paid or accrued this period
        self.list_price = np.zeros((T, world.sites.list_price.size))
        self.pool_used = np.zeros(T)
        self.pool_held = np.zeros(T)
        self.spot_price = np.full(T, np.nan)
        self.spot_volume = np.zeros(T)  # GPU-hours bought per period
        self.spot_from_providers = np.zeros(T)  # of which sold by providers (rest is resale)
        self.run_gpus = np.zeros(NB)  # GPUs of runs running now, by class
        self.run_rate = np.zeros(NB)  # $ per period of on-demand runs running now (amortized)
        self.pool_run_gpus = 0.0
        kinds = world.buyers.kind
        self._onehot = (kinds[:, None] == np.arange(NB)[None, :]).astype(float)
        self._steady_rows = np.empty((3, kinds.size))
        self.failures: list[tuple[np.ndarray, int]] = []
        self.withheld_gpus = np.zeros(T)
        self.fw_defaults: list[tuple[np.ndarray, np.ndarray]] = []
        self.fw_index: dict[int, float] = {}  # idle GPUs strategic providers kept out of the spot
        self.orders: list[tuple[np.ndarray, np.ndarray, int]] = []
        self.signed: list[np.ndarray] = []
        self._waiting_of: np.ndarray | None = None
        self._pools_of = -1  # load epoch the pool totals below are for
        self._pool_cost = np.zeros(NB)
        self._pool_held = 0.0
        self._waiting: np.ndarray | float = 0.0

    # ---- events ------------------------------------------------------------------------------

    def run_started(self, rows: np.ndarray) -> None:
        self._run_flow(rows, +1)

    def run_ended(self, rows: np.ndarray) -> None:
        self._run_flow(rows, -1)

    def _run_flow(self, rows: np.ndarray, sign: int) -> None:
        r, w = self.w.runs, self.w
        kind = w.buyers.kind[r.agent[rows]]
        self.run_gpus += sign * np.bincount(kind, r.gpus[rows], NB)
        channel = r.channel[rows]
        od = (channel == ON_DEMAND) | (channel == SPOT) | (channel == FORWARD)  # prepaid, spread
        price = r.price[rows]
        if not np.isfinite(price).all():
            price = np.nan_to_num(price)
        rate = r.gpus[rows] * price * w.h
        self.run_rate += sign * np.bincount(kind[od], rate[od], NB)
        self.pool_run_gpus += sign * float(r.gpus[rows][channel == CONTRACT].sum())

    def forward_defaults(self, who: np.ndarray, shortfall: np.ndarray) -> None:
        self.fw_defaults.append((who.copy(), shortfall.copy()))

    def tables(self, replication: int) -> dict[str, pd.DataFrame]:
        names = list(TABLES)
        if self.w.sc.markets.forward.enabled:
            names += list(FORWARD_TABLES)
        return {name: getattr(self, name)(replication) for name in names}

    def withheld(self, t: int, length: int, gpus: float) -> None:
        self.withheld_gpus[t : t + length] = gpus

    def spot(
        self, t: int, length: int, price: float, gpu_hours: float, from_providers: float
    ) -> None:
        if length == 1:
            self.spot_price[t] = price
            self.spot_volume[t] = gpu_hours
            self.spot_from_providers[t] = from_providers
            return
        self.spot_price[t : t + length] = price
        self.spot_volume[t : t + length] = gpu_hours / length
        self.spot_from_providers[t : t + length] = from_providers / length

    def failed(self, who: np.ndarray, t: int) -> None:
        self.failures.append((who.copy(), t))

    def capacity_ordered(self, sites: np.ndarray, gpus: np.ndarray, t: int) -> None:
        self.orders.append((sites.copy(), gpus.copy(), t))

    def contracts_signed(self, rows: np.ndarray) -> None:
        self.signed.append(rows.copy())

    def steady(self, want, got, paid, from_pool) -> None:
        """Cache the class totals of steady load; valid until the world marks them stale."""
        w, b = self.w, self.w.buyers
        rows = self._steady_rows  # ``np.stack((want, got, paid))`` without a new array
        rows[0], rows[1], rows[2] = want, got, paid
        by_class = rows @ self._onehot
        if self._pools_of != w._load_epoch:  # pools change only with the load epoch
            holders = w.holders
            self._pool_cost = np.bincount(
                b.kind[holders], b.pool_gpus[holders] * w.pool_price[holders] * w.h, NB
            )
            self._pool_held = float(b.pool_gpus[holders].sum())
            self._pools_of = w._load_epoch
        self._steady = (
            by_class[0],
            by_class[1],
            by_class[2] + self._pool_cost,
            float(from_pool.sum()),
            self._pool_held,
        )

    def period(self, t: int) -> None:
        w, b, r = self.w, self.w.buyers, self.w.runs
        want, got, spend, from_pool, held = self._steady
        p = w.pending
        if self._waiting_of is not p:  # GPUs of waiting runs, by class: only new when they are
            self._waiting = np.bincount(b.kind[r.agent[p]], r.gpus[p], NB) if p.size else 0.0
            self._waiting_of = p
        waiting = self._waiting
        self.demand[t] = want + waiting + self.run_gpus
        self.served[t] = got + self.run_gpus
        self.spend[t] = self.run_rate + spend
        self.list_price[t] = w.sites.list_price
        self.pool_used[t] = from_pool + self.pool_run_gpus
        self.pool_held[t] = held

    # ---- tables --------------------------------------------------------------------------------

    def timeseries(self, replication: int) -> pd.DataFrame:
        w, led, s = self.w, self.w.ledger, self.w.sites
        T = w.cal.horizon
        day = np.arange(T) / w.cal.periods_per_day
        cols: dict[tuple[str, str], np.ndarray] = {}
        for k, name in enumerate(BUYER_CLASSES):
            cols[("served_share", name)] = _ratio(self.served[:, k], self.demand[:, k])
            cols[("price_paid", name)] = _ratio(self.spend[:, k], self.served[:, k] * w.h)
            cols[("demand_gpus", name)] = self.demand[:, k]
            cols[("served_gpus", name)] = self.served[:, k]
        cols[("served_share", "all")] = _ratio(self.served.sum(1), self.demand.sum(1))
        cap = led.capacity
        pool_ratio = _ratio(self.pool_used, self.pool_held, fill=0.0)
        busy = led.in_use + led.contracted * pool_ratio[None, :]
        groups = {name: s.site_class == k for k, name in enumerate(PROVIDER_CLASSES)}
        groups["all"] = np.ones(s.site_class.size, dtype=bool)
        for name, m in groups.items():
            c = cap[m].sum(0)
            cols[("capacity_gpus", name)] = c
            cols[("utilization", name)] = _ratio(busy[m].sum(0), c)
            cols[("contracted_share", name)] = _ratio(led.contracted[m].sum(0), c)
            prov = (
                s.provider_class == PROVIDER_CLASSES.index(name)
                if name != "all"
                else np.ones(s.provider_class.size, dtype=bool)
            )
            weight = np.bincount(s.site_provider, minlength=s.list_price.size)[prov] * 1.0
            cols[("on_demand_price", name)] = (
                self.list_price[:, prov] @ weight / weight.sum()
                if weight.sum() > 0
                else np.full(T, np.nan)
            )
        in_use = led.in_use.sum(0) * w.h
        cols[("volume", "on_demand")] = in_use
        cols[("volume", "contract")] = self.pool_used * w.h
        if w.sc.markets.spot.enabled:
            cols[("spot_price", "all")] = self.spot_price
            cols[("volume", "spot")] = self.spot_volume
            cols[("volume", "on_demand")] = in_use - self.spot_from_providers
            cols[("volume", "resale")] = self.spot_volume - self.spot_from_providers
            cols[("withheld_gpus", "all")] = self.withheld_gpus
        frames = [
            pd.DataFrame(
                {
                    "replication": replication,
                    "period": np.arange(T),
                    "day": day,
                    "metric": metric,
                    "group": group,
                    "value": values,
                }
            )
            for (metric, group), values in cols.items()
        ]
        out = pd.concat(frames, ignore_index=True)
        out["metric"] = out["metric"].astype("category")
        out["group"] = out["group"].astype("category")
        return out

    def agents(self, replication: int) -> pd.DataFrame:
        b, r = self.w.buyers, self.w.runs
        counted = r.status != VOID
        n = len(b)
        started = (r.start >= 0) & counted
        abandoned = np.isin(r.status, (ABANDONED, KILLED)) & counted
        return pd.DataFrame(
            {
                "replication": replication,
                "agent_id": np.arange(n),
                "agent_class": pd.Categorical.from_codes(b.kind, BUYER_CLASSES),
                "demanded_gpu_hours": b.demanded,
                "served_gpu_hours": b.served,
                "spend": b.spend,
                "value_received": b.value,
                "surplus": b.value - b.spend,
                "initial_cash": b.initial_cash,
                "final_cash": b.cash,
                "inflow": b.inflow,
                "resale_income": self.w.resale_income,
                "forward_flow": self._forward_flow()[:n],
                "outflow": b.outflow,
                "failed": ~b.alive,
                "defaulted_amount": b.defaulted,
                "largest_block_gpus": b.largest_block,
                "runs_total": np.bincount(r.agent[counted], minlength=n),
                "runs_completed": np.bincount(r.agent[started], minlength=n),
                "runs_abandoned": np.bincount(r.agent[abandoned], minlength=n),
            }
        )

    def jobs(self, replication: int) -> pd.DataFrame:
        w, r = self.w, self.w.runs
        keep = r.status != VOID
        ppd = w.cal.periods_per_day
        start_day = np.where(r.start >= 0, r.start / ppd, np.nan)
        status = r.status
        return pd.DataFrame(
            {
                "replication": replication,
                "job_id": np.flatnonzero(keep),
                "agent_id": r.agent[keep],
                "agent_class": pd.Categorical.from_codes(
                    w.buyers.kind[r.agent[keep]], BUYER_CLASSES
                ),
                "gpus": r.gpus[keep],
                "hours": r.hours[keep],
                "arrival_day": r.arrival[keep] / ppd,
                "start_day": start_day[keep],
                "wait_days": (start_day - r.arrival / ppd)[keep],
                "channel": pd.Categorical.from_codes(r.channel[keep], CHANNELS),
                "status": pd.Categorical.from_codes(status[keep], STATUS_NAMES),
                "site": r.site[keep],
                "price_per_gpu_hour": r.price[keep],
                "value_per_gpu_hour": r.value[keep],
            }
        )

    def providers(self, replication: int) -> pd.DataFrame:
        w, s, led = self.w, self.w.sites, self.w.ledger
        n = s.list_price.size
        site_cap = led.capacity.sum(1) * w.h
        pool_ratio = _ratio(self.pool_used, self.pool_held, fill=0.0)
        site_used = (led.in_use + led.contracted * pool_ratio[None, :]).sum(1) * w.h
        cap_h = np.bincount(s.site_provider, site_cap, n)
        used_h = np.bincount(s.site_provider, site_used, n)
        cost = cap_h * s.fixed_cost + used_h * s.energy_cost
        return pd.DataFrame(
            {
                "replication": replication,
                "provider_id": np.arange(n),
                "provider_class": pd.Categorical.from_codes(s.provider_class, PROVIDER_CLASSES),
                "sites": np.bincount(s.site_provider, minlength=n),
                "capacity_start": np.bincount(s.site_provider, led.capacity[:, 0], n),
                "capacity_end": np.bincount(s.site_provider, led.capacity[:, -1], n),
                "gpu_hours_installed": cap_h,
                "gpu_hours_used": used_h,
                "revenue": s.revenue,
                "forward_pnl": self._forward_flow()[len(w.buyers) : len(w.buyers) + n],
                "contract_revenue": s.contract_revenue,
                "cost": cost,
                "profit": s.revenue
                - cost
                + self._forward_flow()[len(w.buyers) : len(w.buyers) + n],
                "defaulted_amount": s.defaulted,
                "list_price_end": s.list_price,
            }
        )

    def _forward_flow(self) -> np.ndarray:
        flow = getattr(self.w, "fw_flow", None)
        return (
            flow
            if flow is not None
            else np.zeros(len(self.w.buyers) + self.w.sites.list_price.size)
        )

    def forward_curves(self, replication: int) -> pd.DataFrame:
        ppd = self.w.cal.periods_per_day
        rows = np.asarray(self.w.curve, dtype=float).reshape(-1, 5 + len(CURVE_SIDES))
        window = self.w._fw_window
        index = np.asarray([self._spot_index(int(s), window) for s in rows[:, 2]])
        return pd.DataFrame(
            {
                "replication": replication,
                "session_day": rows[:, 0] / ppd,
                "tenor_days": rows[:, 1] / ppd,
                "delivery_day": rows[:, 2] / ppd,
                "price": rows[:, 3],
                "volume_lots": rows[:, 4],
                **{name: rows[:, 5 + k] for k, name in enumerate(CURVE_SIDES)},
                "settlement_index": index,
            }
        )

    def _spot_index(self, start: int, window: int) -> float:
        """Mean spot price over a delivery window that lies within the horizon (else NaN)."""
        prices = self.spot_price[start : start + window]
        if start + window > self.spot_price.size or not np.isfinite(prices).any():
            return float("nan")
        return float(np.nanmean(prices))

    def margin_defaults(self, replication: int) -> pd.DataFrame:
        """Forward-market holders that could not meet a margin call: who and the shortfall the
        clearing house bore."""
        w = self.w
        n_b, n_p = len(w.buyers), w.sites.list_price.size
        who = (
            np.concatenate([d[0] for d in self.fw_defaults])
            if self.fw_defaults
            else np.zeros(0, int)
        )
        loss = np.concatenate([d[1] for d in self.fw_defaults]) if self.fw_defaults else np.zeros(0)
        kind = np.where(who < n_b, "buyer", np.where(who < n_b + n_p, "provider", "market_maker"))
        return pd.DataFrame(
            {"replication": replication, "participant": who, "kind": kind, "shortfall": loss}
        )

    def market_makers(self, replication: int) -> pd.DataFrame:
        w = self.w
        first = len(w.buyers) + w.sites.list_price.size
        open_collateral = np.zeros(w.sc.market_makers.count)
        for fb in w._fw_books.values():
            open_collateral += fb.accounts.collateral[first:]
        end = w.mm_capital + open_collateral
        return pd.DataFrame(
            {
                "replication": replication,
                "maker_id": np.arange(w.mm_capital.size),
                "capital_start": w.mm_initial,
                "capital_end": end,
                "pnl": end - w.mm_initial,
                "bust": w.mm_capital <= 0,
            }
        )

    def contracts(self, replication: int) -> pd.DataFrame:
        bk, w = self.w.book, self.w
        n = bk.n
        ppd = w.cal.periods_per_day
        return pd.DataFrame(
            {
                "replication": replication,
                "contract_id": np.arange(n),
                "holder_id": bk.holder[:n],
                "holder_class": pd.Categorical.from_codes(
                    w.buyers.kind[bk.holder[:n]], BUYER_CLASSES
                ),
                "provider_id": bk.provider[:n],
                "site": bk.site[:n],
                "gpus": bk.gpus[:n],
                "start_day": bk.start[:n] / ppd,
                "end_day": bk.end[:n] / ppd,
                "price_per_gpu_hour": bk.price[:n],
                "defaulted_amount": bk.defaulted[:n],
            }
        )


def _ratio(num: np.ndarray, den: np.ndarray, fill: float = np.nan) -> np.ndarray:
    return np.divide(num, den, out=np.full(np.shape(num), fill, dtype=float), where=den > 1e-12)
