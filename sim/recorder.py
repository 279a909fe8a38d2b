"""What a replication records: per-period aggregates in preallocated arrays (no pandas in the
loop), turned into tidy tables once the run ends.

The recorder is a listener: it receives the events the world publishes (``sim.state.Listener``)
and reads the world's typed state (``sim.state.State``); it never imports the world."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.accounts import COMPUTE_REASONS, REASONS, SINGLE
from sim.agents import BUYER_CLASSES, PROVIDER_CLASSES
from sim.demand import (
    ABANDONED,
    CHANNELS,
    FORWARD,
    KILLED,
    ON_DEMAND,
    RESERVED,
    SPOT,
    STATUS_NAMES,
    VOID,
)
from sim.state import State

NB = len(BUYER_CLASSES)
INFLOWS = ("funding_round", "grant", "public_budget")  # money from outside the market
OUTFLOWS = ("burn", "grant_lapsed", "budget_lapsed")  # money leaving it
# written by every run
TABLES = ("timeseries", "agents", "jobs", "providers", "contracts", "ledger", "capacity")
# lots traded per forward window and session, by side (the order of Forward._volume_by_side)
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
    def __init__(self, state: State):
        self.w = state
        T = state.cal.horizon
        self.demand = np.zeros((T, NB))  # GPUs wanted (steady load + waiting and running runs)
        self.served = np.zeros((T, NB))  # GPUs received
        self.spend = np.zeros((T, NB))  # $ paid or accrued this period
        self.list_price = np.zeros((T, state.sites.providers))
        self.run_gpus = np.zeros(NB)  # GPUs of runs running now, by class
        self.run_rate = np.zeros(NB)  # $ per period of on-demand runs running now (amortized)
        kinds = state.buyers.kind
        self._onehot = (kinds[:, None] == np.arange(NB)[None, :]).astype(float)
        self._steady_rows = np.empty((3, kinds.size))
        self.failures: list[tuple[np.ndarray, int]] = []
        self.fw_defaults: list[tuple[np.ndarray, np.ndarray]] = []
        self.orders: list[tuple[np.ndarray, np.ndarray, int]] = []
        self.signed: list[np.ndarray] = []
        self._waiting_of: np.ndarray | None = None
        self._pools_of = -1  # load epoch the pool totals below are for
        self._pool_cost: np.ndarray = np.zeros(NB)
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

    def forward_defaults(self, who: np.ndarray, shortfall: np.ndarray) -> None:
        self.fw_defaults.append((who.copy(), shortfall.copy()))

    def tables(self, replication: int) -> dict[str, pd.DataFrame]:
        names = list(TABLES)
        if self.w.scenario.markets.forward.enabled:
            names += list(FORWARD_TABLES)
        return {name: getattr(self, name)(replication) for name in names}

    def failed(self, who: np.ndarray, t: int) -> None:
        self.failures.append((who.copy(), t))

    def capacity_ordered(self, sites: np.ndarray, gpus: np.ndarray, t: int) -> None:
        self.orders.append((sites.copy(), gpus.copy(), t))

    def contracts_signed(self, rows: np.ndarray) -> None:
        self.signed.append(rows.copy())

    def steady(
        self, want: np.ndarray, got: np.ndarray, paid: np.ndarray, from_pool: np.ndarray
    ) -> None:
        """Cache the class totals of steady load; valid until the world marks them stale."""
        w, b = self.w, self.w.buyers
        rows = self._steady_rows  # ``np.stack((want, got, paid))`` without a new array
        rows[0], rows[1], rows[2] = want, got, paid
        by_class = rows @ self._onehot
        pools = w.pools
        if self._pools_of != pools.epoch:  # pools change only with the load epoch
            holders = pools.holders
            self._pool_cost = np.bincount(
                b.kind[holders], b.pool_gpus[holders] * pools.price[holders] * w.h, NB
            )
            self._pools_of = pools.epoch
        self._steady = (by_class[0], by_class[1], by_class[2] + self._pool_cost)

    def period(self, t: int) -> None:
        w, b, r = self.w, self.w.buyers, self.w.runs
        want, got, spend = self._steady
        p = w.queue.pending
        if self._waiting_of is not p:  # GPUs of waiting runs, by class: only new when they are
            self._waiting = np.bincount(b.kind[r.agent[p]], r.gpus[p], NB) if p.size else 0.0
            self._waiting_of = p
        waiting = self._waiting
        self.demand[t] = want + waiting + self.run_gpus
        self.served[t] = got + self.run_gpus
        self.spend[t] = self.run_rate + spend
        self.list_price[t] = w.sites.list_price

    # ---- tables --------------------------------------------------------------------------------

    def timeseries(self, replication: int) -> pd.DataFrame:
        w, led, s = self.w, self.w.ledger, self.w.sites
        T = w.cal.horizon
        day = np.arange(T) / w.cal.periods_per_day
        sig, usage = w.signals, w.usage
        cols: dict[tuple[str, str], np.ndarray] = {}
        for k, name in enumerate(BUYER_CLASSES):
            cols[("served_share", name)] = _ratio(self.served[:, k], self.demand[:, k])
            cols[("price_paid", name)] = _ratio(self.spend[:, k], self.served[:, k] * w.h)
            cols[("demand_gpus", name)] = self.demand[:, k]
            cols[("served_gpus", name)] = self.served[:, k]
        cols[("served_share", "all")] = _ratio(self.served.sum(1), self.demand.sum(1))
        cap = led.capacity
        busy = led.in_use + led.contracted * usage.pool_ratio()[None, :]
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
            weight = np.bincount(s.site_provider, minlength=s.providers)[prov] * 1.0
            cols[("on_demand_price", name)] = (
                self.list_price[:, prov] @ weight / weight.sum()
                if weight.sum() > 0
                else np.full(T, np.nan)
            )
        in_use = led.in_use.sum(0) * w.h
        cols[("volume", "on_demand")] = in_use
        cols[("volume", "contract")] = usage.pool_used * w.h
        if w.scenario.markets.spot.enabled:
            cols[("spot_price", "all")] = sig.spot_price
            cols[("volume", "spot")] = sig.spot_volume
            cols[("volume", "on_demand")] = in_use - sig.spot_from_providers
            cols[("volume", "resale")] = sig.spot_volume - sig.spot_from_providers
            cols[("spot_volume", "bought")] = sig.spot_volume
            cols[("spot_volume", "sold_by_providers")] = sig.spot_from_providers
            cols[("spot_volume", "sold_by_resellers")] = sig.spot_resold
            cols[("withheld_gpus", "all")] = sig.withheld
            if w.scenario.markets.spot.mechanism == "block_auction":
                cols[("spot_mip_gap", "all")] = sig.spot_mip_gap
                cols[("paradoxically_rejected_blocks", "all")] = sig.paradoxically_rejected
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
        b, r, acc = self.w.buyers, self.w.runs, self.w.accounts
        counted = r.status != VOID
        n = len(b)
        started = (r.start >= 0) & counted
        abandoned = np.isin(r.status, (ABANDONED, KILLED)) & counted
        spend = acc.sum_paid(COMPUTE_REASONS)[:n]
        return pd.DataFrame(
            {
                "replication": replication,
                "agent_id": np.arange(n),
                "agent_class": _categorical(b.kind, BUYER_CLASSES),
                "demanded_gpu_hours": b.demanded,
                "served_gpu_hours": b.served,
                "spend": spend,
                "value_received": b.value,
                "surplus": b.value - spend,
                "initial_cash": b.initial_cash,
                "final_cash": b.cash.copy(),
                "inflow": acc.sum_received(INFLOWS)[:n],
                "resale_income": acc.received[REASONS.index("spot"), :n],
                "forward_flow": acc.net("margin")[:n],
                "outflow": acc.sum_paid(OUTFLOWS)[:n],
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
        start_day = np.where((r.start >= 0) & (r.status != RESERVED), r.start / ppd, np.nan)
        return pd.DataFrame(
            {
                "replication": replication,
                "job_id": np.flatnonzero(keep),
                "agent_id": r.agent[keep],
                "agent_class": _categorical(w.buyers.kind[r.agent[keep]], BUYER_CLASSES),
                "gpus": r.gpus[keep],
                "hours": r.hours[keep],
                "periods": r.periods[keep],
                "arrival_day": r.arrival[keep] / ppd,
                "start_day": start_day[keep],
                "wait_days": (start_day - r.arrival / ppd)[keep],
                "channel": _categorical(r.channel[keep], CHANNELS),
                "status": _categorical(r.status[keep], STATUS_NAMES),
                "site": r.site[keep],
                "price_per_gpu_hour": r.price[keep],
                "paid": r.paid[keep],
                "value_per_gpu_hour": r.value[keep],
            }
        )

    def providers(self, replication: int) -> pd.DataFrame:
        w, s, led, acc = self.w, self.w.sites, self.w.ledger, self.w.accounts
        n = s.providers
        mine = slice(acc.layout.first_provider, acc.layout.first_provider + n)
        site_cap = led.capacity.sum(1) * w.h
        site_used = (led.in_use + led.contracted * w.usage.pool_ratio()[None, :]).sum(1) * w.h
        revenue = acc.sum_received(COMPUTE_REASONS)[mine]
        cost = acc.sum_paid(("capital_and_operations", "energy"))[mine]
        forward_pnl = acc.net("margin")[mine]
        return pd.DataFrame(
            {
                "replication": replication,
                "provider_id": np.arange(n),
                "provider_class": _categorical(s.provider_class, PROVIDER_CLASSES),
                "sites": np.bincount(s.site_provider, minlength=n),
                "capacity_start": np.bincount(s.site_provider, led.capacity[:, 0], n),
                "capacity_end": np.bincount(s.site_provider, led.capacity[:, -1], n),
                "gpu_hours_installed": np.bincount(s.site_provider, site_cap, n),
                "gpu_hours_used": np.bincount(s.site_provider, site_used, n),
                "revenue": revenue,
                "forward_pnl": forward_pnl,
                "contract_revenue": acc.received[REASONS.index("contract"), mine],
                "cost": cost,
                "profit": revenue - cost + forward_pnl,
                "defaulted_amount": s.defaulted,
                "list_price_end": s.list_price,
            }
        )

    def ledger(self, replication: int) -> pd.DataFrame:
        """What every account paid and received, by reason (rows where either is non-zero)."""
        acc = self.w.accounts
        layout = acc.layout
        reason, account = np.nonzero((acc.paid != 0) | (acc.received != 0))
        kinds = np.array(
            ["buyer"] * layout.buyers
            + ["provider"] * layout.providers
            + ["market_maker"] * layout.market_makers
            + ["clearing_house"]
            + ["external"] * (len(SINGLE) - 1)
        )
        offset = np.concatenate(
            [
                np.zeros(layout.buyers, dtype=np.int64),
                np.full(layout.providers, layout.first_provider),
                np.full(layout.market_makers, layout.first_maker),
            ]
        )
        agent_id = np.full(account.size, -1, dtype=np.int64)
        part = account < layout.participants
        agent_id[part] = account[part] - offset[account[part]]
        return pd.DataFrame(
            {
                "replication": replication,
                "account": np.asarray(layout.names(), dtype=object)[account],
                "account_kind": pd.Categorical(
                    kinds[account],
                    categories=["buyer", "provider", "market_maker", "clearing_house", "external"],
                ),
                "agent_id": agent_id,
                "reason": _categorical(reason, REASONS),
                "paid": acc.paid[reason, account],
                "received": acc.received[reason, account],
            }
        )

    def capacity(self, replication: int) -> pd.DataFrame:
        """GPUs installed, contracted and in use, per site and period."""
        led, s = self.w.ledger, self.w.sites
        n, T = led.capacity.shape
        return pd.DataFrame(
            {
                "replication": replication,
                "site": np.repeat(np.arange(n), T),
                "provider_id": np.repeat(s.site_provider, T),
                "period": np.tile(np.arange(T), n),
                "capacity_gpus": led.capacity.ravel(),
                "contracted_gpus": led.contracted.ravel(),
                "in_use_gpus": led.in_use.ravel(),
            }
        )

    def forward_curves(self, replication: int) -> pd.DataFrame:
        w = self.w
        ppd = w.cal.periods_per_day
        rows = np.asarray(w.signals.curve, dtype=float).reshape(-1, 5 + len(CURVE_SIDES))
        window = w.cal.periods(w.scenario.markets.forward.window_days)
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
        spot = self.w.signals.spot_price
        prices = spot[start : start + window]
        if start + window > spot.size or not np.isfinite(prices).any():
            return float("nan")
        return float(np.nanmean(prices))

    def margin_defaults(self, replication: int) -> pd.DataFrame:
        """Forward-market holders that could not meet a margin call: who and the shortfall the
        clearing house bore."""
        layout = self.w.accounts.layout
        n_b, n_p = layout.buyers, layout.providers
        d = self.fw_defaults
        who = np.concatenate([x[0] for x in d]) if d else np.zeros(0, int)
        loss = np.concatenate([x[1] for x in d]) if d else np.zeros(0)
        kind = np.where(who < n_b, "buyer", np.where(who < n_b + n_p, "provider", "market_maker"))
        return pd.DataFrame(
            {"replication": replication, "participant": who, "kind": kind, "shortfall": loss}
        )

    def market_makers(self, replication: int) -> pd.DataFrame:
        w = self.w
        layout = w.accounts.layout
        capital = w.accounts.cash_of(layout.first_maker, layout.market_makers)
        end = capital + w.makers.open_collateral
        return pd.DataFrame(
            {
                "replication": replication,
                "maker_id": np.arange(capital.size),
                "capital_start": w.makers.initial,
                "capital_end": end,
                "collateral_open": w.makers.open_collateral.copy(),
                "pnl": end - w.makers.initial,
                "bust": capital <= 0,
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
                "holder_class": _categorical(w.buyers.kind[bk.holder[:n]], BUYER_CLASSES),
                "provider_id": bk.provider[:n],
                "site": bk.site[:n],
                "gpus": bk.gpus[:n],
                "start_day": bk.start[:n] / ppd,
                "end_day": bk.end[:n] / ppd,
                "price_per_gpu_hour": bk.price[:n],
                "defaulted_amount": bk.defaulted[:n],
            }
        )


def _categorical(codes: np.ndarray, names: tuple[str, ...]) -> pd.Categorical[str]:
    """Codes as a categorical of ``names`` (one parquet dictionary column)."""
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=pd.Index(names))


def _ratio(num: np.ndarray, den: np.ndarray, fill: float = np.nan) -> np.ndarray:
    return np.divide(num, den, out=np.full(np.shape(num), fill, dtype=float), where=den > 1e-12)
