"""summary.json agrees with the tables: every headline metric recomputed from them.

The definitions follow ``sim/summary.py`` and are written out again here on purpose: the check
must not share the code it audits.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sim.check.base import MONEY, RATIO, Findings, Run, Tolerance

DEMAND = ("frontier_labs", "startups", "academics")  # classes that need compute
PROVIDER_CLASSES = ("hyperscalers", "neoclouds")
REQUIRED = (  # metrics every run of the agent world reports
    *(f"served_share.{c}" for c in DEMAND),
    *(f"price_paid.{c}" for c in DEMAND),
    "provider_profit.total",
    "startup_failure_share",
)
MONEY_METRICS = (
    "surplus.",
    "defaults.amount",
    "provider_revenue.",
    "provider_profit.",
    "market_makers.pnl",
    "margin_defaults.shortfall",
    "public_programme.spend",
    "public_programme.cost",
)


def check_summary(run: Run, f: Findings) -> None:
    summary_spread(run, f)
    large = int((run.scenario.get("metrics") or {}).get("large_run_gpus", 64))
    for rep in run.replications:
        compare_metrics(run, f, rep, replication_metrics(run, rep, large), REQUIRED)


def compare_metrics(
    run: Run, f: Findings, rep: int, mine: dict[str, float], required: tuple[str, ...]
) -> None:
    metrics = run.summary["metrics"]
    for name, value in mine.items():
        entry = metrics.get(name)
        if entry is None:
            if name in required:
                f.add(
                    "summary",
                    "summary.json",
                    {"metric": name, "replication": rep},
                    value,
                    None,
                    "the metric is missing from summary.json",
                )
            continue
        values = entry.get("values") or []
        if rep >= len(values):
            f.add(
                "summary",
                "summary.json",
                {"metric": name, "replication": rep},
                value,
                None,
                f"the metric has {len(values)} values, none for this replication",
            )
            continue
        theirs = values[rep]
        tol = _tolerance(name)
        f.compare(
            "summary",
            "summary.json",
            pd.DataFrame({"metric": [name], "replication": [rep]}),
            [value],
            [np.nan if theirs is None else theirs],
            "the value",
            "recomputed from the tables",
            tol=tol,
        )


def _tolerance(name: str) -> Tolerance:
    return MONEY if name.startswith(MONEY_METRICS) else RATIO


def summary_spread(run: Run, f: Findings) -> None:
    """Each metric's mean and s.d. are those of its per-replication values, one per replication."""
    n = len(run.replications)
    for name, entry in run.summary["metrics"].items():
        values = entry.get("values") if isinstance(entry, dict) else None
        if not isinstance(values, list) or len(values) != n:
            count = len(values) if isinstance(values, list) else None
            f.add(
                "summary_spread",
                "summary.json",
                {"metric": name},
                n,
                count,
                f"{count} values for {n} replications",
            )
            continue
        v = np.asarray([np.nan if x is None else x for x in values], dtype=float)
        ok = v[np.isfinite(v)]
        mean = float(ok.mean()) if ok.size else float("nan")
        sd = float(ok.std(ddof=1)) if ok.size > 1 else 0.0
        for field, expected in (("mean", mean), ("std", sd)):
            got = entry.get(field)
            f.compare(
                "summary_spread",
                "summary.json",
                pd.DataFrame({"metric": [name]}),
                [expected],
                [np.nan if got is None else got],
                field,
                f"the {field} of the per-replication values",
                tol=_tolerance(name),
            )


def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")


def gini(x: np.ndarray) -> float:
    x = np.sort(np.asarray(x, dtype=float))
    n, total = x.size, float(x.sum())
    if n == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float(((2 * ranks - n - 1) * x).sum() / (n * total))


def replication_metrics(run: Run, rep: int, large: int) -> dict[str, float]:
    """The headline metrics of one replication, from its tables."""
    t = {name: df[df["replication"] == rep] for name, df in run.tables.items()}
    agents, jobs, prov, ts = t["agents"], t["jobs"], t["providers"], t["timeseries"]
    out: dict[str, float] = {}
    settled = jobs[jobs["status"] != "pending"]
    for cls in DEMAND:
        a = agents[agents["agent_class"] == cls]
        j = settled[settled["agent_class"] == cls]
        started = j["start_day"].notna()
        big = j[j["gpus"] >= large]
        out[f"served_share.{cls}"] = _div(
            a["served_gpu_hours"].sum(), a["demanded_gpu_hours"].sum()
        )
        out[f"price_paid.{cls}"] = _div(a["spend"].sum(), a["served_gpu_hours"].sum())
        out[f"surplus.{cls}"] = math.fsum(a["surplus"])
        out[f"large_run_completion.{cls}"] = _div(int(big["start_day"].notna().sum()), len(big))
        out[f"runs_abandoned.{cls}"] = _div(int((~started).sum()), len(j))
        waits = j.loc[started, "wait_days"].to_numpy(dtype=float)
        out[f"wait_days.{cls}"] = float(np.nanmean(waits)) if waits.size else float("nan")
        out[f"largest_block.{cls}"] = float(a["largest_block_gpus"].max()) if len(a) else 0.0
    st = agents[agents["agent_class"] == "startups"]
    out["startup_failure_share"] = _div(int(st["failed"].sum()), len(st))
    out["defaults.amount"] = math.fsum(prov["defaulted_amount"])
    for metric in ("on_demand_price", "utilization", "served_share", "contracted_share"):
        series = ts.loc[(ts["metric"] == metric) & (ts["group"] == "all"), "value"]
        out[f"{metric}.mean"] = _nanmean(series)
    spot = ts[ts["metric"] == "spot_price"]
    if len(spot):
        out["spot_price.mean"] = _nanmean(spot["value"])
        held = ts.loc[ts["metric"] == "withheld_gpus", "value"]
        cap = ts.loc[(ts["metric"] == "capacity_gpus") & (ts["group"] == "all"), "value"]
        out["spot_withheld_share"] = _nanmean(held) / _nanmean(cap) if len(held) else 0.0
        out["spot_price.volatility"] = _volatility(spot["day"].to_numpy(), spot["value"].to_numpy())
    for cls in (*PROVIDER_CLASSES, "total"):
        p = prov if cls == "total" else prov[prov["provider_class"] == cls]
        out[f"provider_revenue.{cls}"] = math.fsum(p["revenue"])
        out[f"provider_profit.{cls}"] = math.fsum(p["profit"])
        out[f"contract_revenue_share.{cls}"] = _div(
            math.fsum(p["contract_revenue"]), math.fsum(p["revenue"])
        )
    out["capacity_growth"] = _div(prov["capacity_end"].sum(), prov["capacity_start"].sum())
    if "forward_curves" in t:
        out.update(_forward(t["forward_curves"], t["market_makers"]))
        out["margin_defaults.count"] = float(len(t["margin_defaults"]))
        out["margin_defaults.shortfall"] = math.fsum(t["margin_defaults"]["shortfall"])
    needs = agents[agents["agent_class"].isin(DEMAND)]
    out["gini_compute"] = gini(needs["served_gpu_hours"].to_numpy())
    prog = agents[agents["agent_class"] == "public_programme"]
    if len(prog):
        out["public_programme.spend"] = math.fsum(prog["spend"])
        out["public_programme.cost"] = math.fsum(prog["spend"]) - math.fsum(prog["forward_flow"])
        out["public_programme.runs_served"] = float((jobs["channel"] == "public").sum())
    return out


def _nanmean(x: Any) -> float:
    v = np.asarray(x, dtype=float)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")


def _volatility(day: np.ndarray, price: np.ndarray) -> float:
    """S.d. of the day-to-day change of log price over days with both prices positive (the
    first record of each day)."""
    first = np.unique(np.floor(day), return_index=True)[1]
    p = price[first]
    a, b = p[1:], p[:-1]
    ok = (a > 0) & (b > 0) & np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return float("nan")
    return float(np.std(np.log(a[ok]) - np.log(b[ok])))


def _forward(curves: pd.DataFrame, makers: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {}
    traded = curves[np.isfinite(curves["price"].to_numpy(dtype=float))]
    out["forward_price.mean"] = _nanmean(traded["price"]) if len(traded) else float("nan")
    out["forward_volume_lots"] = math.fsum(curves["volume_lots"])
    for side in ("bought_by_runs", "bought_by_programme", "sold_by_buyers", "sold_by_makers"):
        out[f"forward_volume_lots.{side}"] = math.fsum(curves[side])
    settled = traded[np.isfinite(traded["settlement_index"].to_numpy(dtype=float))]
    level = _nanmean(settled["settlement_index"]) if len(settled) else 0.0
    if len(settled) and level > 0:
        # the shortest tenor traded for each delivery window: its price against the index
        last = settled.sort_values(["delivery_day", "tenor_days"], kind="stable")
        last = last.drop_duplicates("delivery_day", keep="first")
        gap = (last["price"] - last["settlement_index"]).abs() / level
        out["forward_spot_gap"] = _nanmean(gap)
    else:
        out["forward_spot_gap"] = float("nan")
    out["market_makers.pnl"] = math.fsum(makers["pnl"]) if len(makers) else 0.0
    out["market_makers.bust_share"] = float(makers["bust"].mean()) if len(makers) else 0.0
    return out
