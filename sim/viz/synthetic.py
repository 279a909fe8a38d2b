"""A synthetic run folder with the layout ``sim run`` writes, for tests and documentation figures.

The numbers are made up (shaped to look like a market, not produced by the simulator); only the
tables, columns and metric names follow the run-folder contract.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from sim.viz.stats import gini

_BUYERS = {"frontier_labs": 3, "startups": 16, "academics": 30}
_PROVIDERS = {"hyperscalers": 3, "neoclouds": 5}
_START = {"frontier_labs": 0.97, "startups": 0.75, "academics": 0.6}
_GPUS = {"frontier_labs": (2048, 0.6), "startups": (96, 1.2), "academics": (8, 1.3)}


def write_synthetic_run(
    path: Path,
    *,
    replications: int = 3,
    periods: int = 36,
    seed: int = 0,
    spot: bool = False,
    forward: bool = False,
    access_boost: float = 0.0,
    scenario: str = "synthetic",
) -> Path:
    """Write a run folder at ``path`` and return it.

    ``spot`` adds spot prices and volumes, ``forward`` adds forward curves; ``access_boost``
    raises the served share of startups and academics (to make a second run to compare with).
    """
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    ts, agents, jobs, providers, curves = [], [], [], [], []
    for r in range(replications):
        ts.append(_timeseries(rng, r, periods, spot, access_boost))
        a, j = _agents_and_jobs(rng, r, periods * 7.0, access_boost)
        agents.append(a)
        jobs.append(j)
        providers.append(_providers(rng, r))
        if forward:
            curves.append(_forward_curves(rng, r, periods))
    tables = {
        "timeseries": pd.concat(ts, ignore_index=True),
        "agents": pd.concat(agents, ignore_index=True),
        "jobs": pd.concat(jobs, ignore_index=True),
        "providers": pd.concat(providers, ignore_index=True),
    }
    if forward:
        tables["forward_curves"] = pd.concat(curves, ignore_index=True)
    for name, frame in tables.items():
        frame.to_parquet(path / f"{name}.parquet", index=False)
    (path / "scenario.yaml").write_text(
        f"name: {scenario}\nseed: {seed}\nreplications: {replications}\n"
        f"time:\n  step: week\n  periods: {periods}\n"
        f"markets:\n  spot: {str(spot).lower()}\n  forward: {str(forward).lower()}\n"
    )
    manifest = {
        "package_version": "0.1.0",
        "scenario": scenario,
        "scenario_hash": f"{seed:016x}",
        "seeds": [seed + r for r in range(replications)],
        "status": "completed",
        "replications": replications,
        "timings": {"total_seconds": 1.0},
    }
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2))
    summary = _summary(scenario, replications, tables)
    (path / "summary.json").write_text(json.dumps(summary, indent=2))
    return path


def _rows(r: int, days: np.ndarray, metric: str, group: str, values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "replication": r,
            "period": np.arange(days.size),
            "day": days,
            "metric": metric,
            "group": group,
            "value": values,
        }
    )


def _timeseries(
    rng: np.random.Generator, r: int, periods: int, spot: bool, boost: float
) -> pd.DataFrame:
    days = np.arange(periods) * 7.0
    t = np.arange(periods) / max(periods - 1, 1)
    noise = lambda s: rng.normal(0.0, s, periods)  # noqa: E731
    hyper = 4.0 - 0.8 * t + noise(0.05)
    neo = 2.6 - 0.5 * t + noise(0.08)
    out = [
        _rows(r, days, "on_demand_price", "hyperscalers", hyper),
        _rows(r, days, "on_demand_price", "neoclouds", neo),
        _rows(r, days, "on_demand_price", "all", 0.7 * hyper + 0.3 * neo),
    ]
    base = {"frontier_labs": 0.95, "startups": 0.55 + boost, "academics": 0.35 + boost}
    paid = {"frontier_labs": 2.1, "startups": 3.1, "academics": 3.4}
    for cls, level in base.items():
        share = np.clip(level + 0.1 * np.sin(6 * t + r) + noise(0.04), 0, 1)
        out.append(_rows(r, days, "served_share", cls, share))
        price = paid[cls] - 0.4 * t + noise(0.1)
        if cls == "academics":
            price[rng.random(periods) < 0.2] = np.nan
        out.append(_rows(r, days, "price_paid", cls, price))
    out.append(_rows(r, days, "served_share", "all", np.clip(0.7 + noise(0.03), 0, 1)))
    for cls, cap in (("hyperscalers", 60000.0), ("neoclouds", 15000.0)):
        out.append(_rows(r, days, "utilization", cls, np.clip(0.8 + noise(0.05), 0, 1)))
        out.append(_rows(r, days, "capacity_gpus", cls, cap * (1 + 0.3 * t)))
        out.append(_rows(r, days, "contracted_share", cls, np.clip(0.6 + noise(0.02), 0, 1)))
    out.append(_rows(r, days, "utilization", "all", np.clip(0.8 + noise(0.04), 0, 1)))
    out.append(_rows(r, days, "capacity_gpus", "all", 75000.0 * (1 + 0.3 * t)))
    out.append(_rows(r, days, "contracted_share", "all", np.clip(0.6 + noise(0.02), 0, 1)))
    volumes = {"on_demand": 2e6, "contract": 8e6}
    if spot:
        out.append(_rows(r, days, "spot_price", "all", 2.2 - 0.3 * t + noise(0.25)))
        volumes["spot"] = 1.5e6
    for market, v in volumes.items():
        out.append(_rows(r, days, "volume", market, v * (1 + 0.2 * t) * (1 + noise(0.05))))
    return pd.concat(out, ignore_index=True)


def _agents_and_jobs(
    rng: np.random.Generator, r: int, horizon: float, boost: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    agents, jobs = [], []
    job_id = 0
    for cls, count in _BUYERS.items():
        median, sigma = _GPUS[cls]
        for k in range(count):
            agent_id = f"{cls}-{k}"
            n_jobs = int(rng.integers(2, 9))
            gpus = np.maximum(1, rng.lognormal(np.log(median), sigma, n_jobs)).astype(int)
            hours = rng.uniform(24, 24 * 30, n_jobs)
            arrival = np.sort(rng.uniform(0, horizon * 0.9, n_jobs))
            lift = boost if cls != "frontier_labs" else 0.0
            p_start = np.clip(_START[cls] - 0.05 * np.log10(gpus) + lift, 0.05, 1.0)
            started = rng.random(n_jobs) < p_start
            wait = np.where(started, rng.exponential(2 + np.log2(gpus), n_jobs), np.nan)
            status = np.where(
                started, np.where(rng.random(n_jobs) < 0.85, "completed", "running"), "abandoned"
            )
            channel = np.where(
                started, rng.choice(["on_demand", "contract"], n_jobs, p=[0.6, 0.4]), "none"
            )
            price = np.where(started, rng.uniform(1.8, 4.0, n_jobs), np.nan)
            jobs.append(
                pd.DataFrame(
                    {
                        "replication": r,
                        "job_id": np.arange(job_id, job_id + n_jobs),
                        "agent_id": agent_id,
                        "agent_class": cls,
                        "gpus": gpus,
                        "hours": hours,
                        "arrival_day": arrival,
                        "start_day": arrival + wait,
                        "wait_days": wait,
                        "channel": channel,
                        "status": status,
                        "price_per_gpu_hour": price,
                        "value_per_gpu_hour": rng.uniform(3.0, 8.0, n_jobs),
                    }
                )
            )
            job_id += n_jobs
            demanded = float((gpus * hours).sum())
            served = float((gpus * hours)[started].sum())
            spend = float(np.nansum(gpus * hours * price))
            value = float((gpus * hours)[started].sum() * 5.0)
            cash = float(rng.uniform(1e5, 1e7))
            failed = bool(cls == "startups" and rng.random() < 0.15)
            agents.append(
                {
                    "replication": r,
                    "agent_id": agent_id,
                    "agent_class": cls,
                    "demanded_gpu_hours": demanded,
                    "served_gpu_hours": served,
                    "spend": spend,
                    "value_received": value,
                    "surplus": value - spend,
                    "initial_cash": cash,
                    "final_cash": cash - spend,
                    "failed": failed,
                    "defaulted_amount": 1000.0 if failed else 0.0,
                    "largest_block_gpus": int(gpus[started].max()) if started.any() else 0,
                    "runs_total": n_jobs,
                    "runs_completed": int((status == "completed").sum()),
                    "runs_abandoned": int((status == "abandoned").sum()),
                }
            )
    return pd.DataFrame(agents), pd.concat(jobs, ignore_index=True)


def _providers(rng: np.random.Generator, r: int) -> pd.DataFrame:
    rows = []
    for cls, count in _PROVIDERS.items():
        for k in range(count):
            revenue = float(rng.uniform(1e7, 5e7))
            cost = revenue * float(rng.uniform(0.6, 0.9))
            rows.append(
                {
                    "replication": r,
                    "provider_id": f"{cls}-{k}",
                    "provider_class": cls,
                    "capacity_start": 10000.0,
                    "capacity_end": 12000.0,
                    "revenue": revenue,
                    "cost": cost,
                    "profit": revenue - cost,
                    "contract_revenue": revenue * 0.6,
                    "defaulted_amount": 0.0,
                }
            )
    return pd.DataFrame(rows)


def _forward_curves(rng: np.random.Generator, r: int, periods: int) -> pd.DataFrame:
    rows = []
    tenors = np.array([7.0, 30.0, 90.0, 180.0, 365.0])
    for s, session_day in enumerate(np.arange(0, periods * 7.0, 28.0)):
        level = 2.4 - 0.02 * s + rng.normal(0, 0.05)
        slope = 0.15 * np.sin(s / 2)
        for tenor in tenors:
            rows.append(
                {
                    "replication": r,
                    "session_day": session_day,
                    "tenor_days": tenor,
                    "delivery_day": session_day + tenor,
                    "price": level + slope * np.log1p(tenor / 30),
                    "settlement_index": level + rng.normal(0, 0.02 * np.sqrt(tenor)),
                }
            )
    return pd.DataFrame(rows)


def _summary(scenario: str, replications: int, tables: dict[str, pd.DataFrame]) -> dict:
    agents, ts = tables["agents"], tables["timeseries"]
    per_rep: dict[str, list[float]] = {}
    for r in range(replications):
        a = agents[agents["replication"] == r]
        for cls, g in a.groupby("agent_class"):
            share = g["served_gpu_hours"].sum() / g["demanded_gpu_hours"].sum()
            per_rep.setdefault(f"served_share.{cls}", []).append(float(share))
        t = ts[ts["replication"] == r]
        od = t[(t["metric"] == "on_demand_price") & (t["group"] == "all")]["value"]
        per_rep.setdefault("on_demand_price.mean", []).append(float(od.mean()))
        util = t[(t["metric"] == "utilization") & (t["group"] == "all")]["value"]
        per_rep.setdefault("utilization.mean", []).append(float(util.mean()))
        per_rep.setdefault("gini_compute", []).append(gini(a["served_gpu_hours"].to_numpy()))
    metrics = {}
    for name, values in per_rep.items():
        v = np.asarray(values)
        std = float(v.std(ddof=1)) if v.size > 1 else 0.0
        half = 1.96 * std / np.sqrt(v.size)
        metrics[name] = {
            "mean": float(v.mean()),
            "std": std,
            "ci95": [float(v.mean() - half), float(v.mean() + half)],
            "values": [float(x) for x in v],
        }
    return {"scenario": scenario, "replications": replications, "metrics": metrics}
