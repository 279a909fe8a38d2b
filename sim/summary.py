"""Headline metrics of one replication, and their spread over replications."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sim.agents import DEMAND_CLASSES, PROVIDER_CLASSES

HEADLINE = (
    "served_share.academics",
    "served_share.startups",
    "large_run_completion.academics",
    "large_run_completion.startups",
    "price_paid.academics",
    "price_paid.startups",
    "on_demand_price.mean",
    "utilization.mean",
    "provider_profit.total",
    "startup_failure_share",
    "gini_compute",
)  # the metrics shown first by ``sim run`` and analysed by default in sweeps


def gini(x: np.ndarray) -> float:
    """Gini coefficient of a non-negative array (0 equal, 1 all to one agent)."""
    x = np.sort(np.asarray(x, dtype=float))
    n, total = x.size, x.sum()
    if n == 0 or total <= 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * total))


def replication_summary(tables: dict[str, pd.DataFrame], large_run_gpus: int) -> dict[str, float]:
    agents, jobs, prov, ts = (
        tables["agents"],
        tables["jobs"],
        tables["providers"],
        tables["timeseries"],
    )
    out: dict[str, float] = {}
    settled = jobs[jobs["status"] != "pending"]
    for cls in DEMAND_CLASSES:
        a = agents[agents["agent_class"] == cls]
        j = settled[settled["agent_class"] == cls]
        big = j[j["gpus"] >= large_run_gpus]
        started = j["start_day"].notna()
        out[f"served_share.{cls}"] = _div(
            a["served_gpu_hours"].sum(), a["demanded_gpu_hours"].sum()
        )
        out[f"price_paid.{cls}"] = _div(a["spend"].sum(), a["served_gpu_hours"].sum())
        out[f"surplus.{cls}"] = float(a["surplus"].sum())
        out[f"large_run_completion.{cls}"] = _div(big["start_day"].notna().sum(), len(big))
        out[f"runs_abandoned.{cls}"] = _div((~started).sum(), len(j))
        out[f"wait_days.{cls}"] = float(j["wait_days"].mean()) if started.any() else float("nan")
        out[f"largest_block.{cls}"] = float(a["largest_block_gpus"].max()) if len(a) else 0.0
    st = agents[agents["agent_class"] == "startups"]
    out["startup_failure_share"] = _div(st["failed"].sum(), len(st))
    out["defaults.amount"] = float(prov["defaulted_amount"].sum())
    for metric in ("on_demand_price", "utilization", "served_share", "contracted_share"):
        series = ts[(ts["metric"] == metric) & (ts["group"] == "all")]["value"]
        out[f"{metric}.mean"] = float(series.mean())
    spot = ts[ts["metric"] == "spot_price"]
    if len(spot):
        out["spot_price.mean"] = float(spot["value"].mean())
        held = ts[ts["metric"] == "withheld_gpus"]["value"]
        cap = ts[(ts["metric"] == "capacity_gpus") & (ts["group"] == "all")]["value"]
        out["spot_withheld_share"] = float(held.mean() / cap.mean()) if len(held) else 0.0
        out["spot_price.volatility"] = daily_log_change_sd(
            spot["day"].to_numpy(), spot["value"].to_numpy()
        )
    for cls in (*PROVIDER_CLASSES, "total"):
        p = prov if cls == "total" else prov[prov["provider_class"] == cls]
        out[f"provider_revenue.{cls}"] = float(p["revenue"].sum())
        out[f"provider_profit.{cls}"] = float(p["profit"].sum())
        out[f"contract_revenue_share.{cls}"] = _div(p["contract_revenue"].sum(), p["revenue"].sum())
    out["capacity_growth"] = _div(prov["capacity_end"].sum(), prov["capacity_start"].sum())
    if "forward_curves" in tables:
        out.update(forward_summary(tables["forward_curves"], tables["market_makers"]))
        out["margin_defaults.count"] = float(len(tables["margin_defaults"]))
        out["margin_defaults.shortfall"] = float(tables["margin_defaults"]["shortfall"].sum())
    needs = agents[agents["agent_class"].isin(DEMAND_CLASSES)]
    out["gini_compute"] = gini(needs["served_gpu_hours"].to_numpy())
    prog = agents[agents["agent_class"] == "public_programme"]
    if len(prog):
        out["public_programme.spend"] = float(prog["spend"].sum())
        # what the programme paid for compute, forward settlement (and collateral still posted)
        # included: the spend is at spot prices when forwards settle in cash
        flow = prog["forward_flow"].sum() if "forward_flow" in prog else 0.0
        out["public_programme.cost"] = float(prog["spend"].sum() - flow)
        runs = jobs[jobs["channel"] == "public"]
        out["public_programme.runs_served"] = float(len(runs))
    return out


def forward_summary(curves: pd.DataFrame, makers: pd.DataFrame) -> dict[str, float]:
    """Forward prices, their gap to the settlement index at the last session before delivery,
    volume, and market makers' results."""
    out: dict[str, float] = {}
    traded = curves[np.isfinite(curves["price"])]
    out["forward_price.mean"] = float(traded["price"].mean()) if len(traded) else float("nan")
    out["forward_volume_lots"] = float(curves["volume_lots"].sum())
    for side in ("bought_by_runs", "bought_by_programme", "sold_by_buyers", "sold_by_makers"):
        if side in curves:
            out[f"forward_volume_lots.{side}"] = float(curves[side].sum())
    settled = traded[np.isfinite(traded["settlement_index"])]
    level = float(settled["settlement_index"].mean()) if len(settled) else 0.0
    if len(settled) and level > 0:
        # the last price before delivery against the index, relative to the index's level
        # (the index can touch zero when resold capacity floods a session)
        last = settled.loc[settled.groupby("delivery_day")["tenor_days"].idxmin()]
        gap = (last["price"] - last["settlement_index"]).abs() / level
        out["forward_spot_gap"] = float(gap.mean())
    else:
        out["forward_spot_gap"] = float("nan")
    out["market_makers.pnl"] = float(makers["pnl"].sum()) if len(makers) else 0.0
    out["market_makers.bust_share"] = float(makers["bust"].mean()) if len(makers) else 0.0
    return out


def daily_log_change_sd(day: np.ndarray, price: np.ndarray) -> float:
    """S.d. of the day-to-day change of log price (the calibration's volatility measure),
    over days whose price and the previous day's are both positive."""
    first = np.unique(np.floor(day), return_index=True)[1]
    p = price[first]
    ok = (p[1:] > 0) & (p[:-1] > 0) & np.isfinite(p[1:]) & np.isfinite(p[:-1])
    if not ok.any():
        return float("nan")
    return float(np.std(np.log(p[1:][ok]) - np.log(p[:-1][ok])))


def spread(values: list[float]) -> dict:
    """Mean, s.d., a 95% t-interval of the mean over replications, and the values themselves."""
    v = np.asarray(values, dtype=float)
    ok = v[np.isfinite(v)]
    mean = float(ok.mean()) if ok.size else float("nan")
    sd = float(ok.std(ddof=1)) if ok.size > 1 else 0.0
    half = float(stats.t.ppf(0.975, ok.size - 1) * sd / np.sqrt(ok.size)) if ok.size > 1 else 0.0
    return {
        "mean": mean,
        "std": sd,
        "ci95": [mean - half, mean + half],
        "values": [None if not np.isfinite(x) else float(x) for x in v],
    }


def combine(per_replication: list[dict[str, float]]) -> dict[str, dict]:
    names = list(per_replication[0]) if per_replication else []
    return {name: spread([rep[name] for rep in per_replication]) for name in names}


def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")
