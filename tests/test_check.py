"""`sim check`: an independent audit of a run folder passes on clean folders and names the
broken rule on tampered ones."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.accounts import COMPUTE_REASONS as COMPUTE
from sim.check import check_run
from sim.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent

# ---- a small synthetic run folder, written table by table -------------------------------------

T = 4  # periods (days)
BUYERS = ("frontier_labs", "startups", "academics", "public_programme")  # agent_id = position
PROVIDERS = ("hyperscalers", "neoclouds")  # provider_id = position = site
# (reason, payer, payee, amount): every money movement of one replication
MOVES = [
    ("opening_balance", "investors", "buyer:0", 1.0e9),
    ("opening_balance", "investors", "buyer:1", 1.0e6),
    ("opening_balance", "investors", "buyer:2", 5.0e4),
    ("opening_balance", "investors", "market_maker:0", 2.0e7),
    ("on_demand_run", "buyer:1", "provider:0", 768.0),
    ("on_demand_load", "buyer:2", "provider:0", 100.0),
    ("spot", "buyer:2", "provider:1", 30.0),
    ("spot", "buyer:2", "buyer:0", 20.0),  # resale
    ("spot_run", "buyer:2", "provider:1", 96.0),
    ("contract", "buyer:0", "provider:0", 5000.0),
    ("contract", "buyer:1", "provider:0", 300.0),
    ("contract", "buyer:3", "provider:1", 400.0),
    ("forward_physical", "buyer:1", "provider:1", 1152.0),
    ("forward_physical", "buyer:3", "provider:1", 200.0),  # the programme's strip
    ("margin", "buyer:0", "clearing_house", 10.0),
    ("margin", "clearing_house", "market_maker:0", 8.0),
    ("margin", "clearing_house", "provider:1", 1.5),
    ("funding_round", "investors", "buyer:1", 2000.0),
    ("burn", "buyer:1", "operating_costs", 500.0),
    ("grant", "grant_agencies", "buyer:2", 1000.0),
    ("grant_lapsed", "buyer:2", "grant_agencies", 100.0),
    ("public_budget", "public_budget", "buyer:3", 1000.0),
    ("budget_lapsed", "buyer:3", "public_budget", 300.0),
    ("energy", "provider:0", "energy_suppliers", 50.0),
    ("energy", "provider:1", "energy_suppliers", 20.0),
    ("capital_and_operations", "provider:0", "capital_and_operations", 1000.0),
    ("capital_and_operations", "provider:1", "capital_and_operations", 600.0),
]
JOBS = [  # agent, gpus, hours, arrival, start, channel, status, site, price
    (1, 8, 48, 0, 0, "on_demand", "completed", 0, 2.0),
    (2, 4, 24, 0, 1, "spot", "completed", 1, 1.0),
    (1, 16, 48, 1, 2, "forward", "running", 1, 1.5),
    (2, 8, 24, 0, 0, "public", "completed", -1, 0.0),
    (0, 32, 24, 0, 0, "contract", "completed", 0, 1.2),
    (1, 64, 72, 3, None, "none", "pending", -1, None),
    (2, 100, 24, 0, None, "none", "abandoned", -1, None),
]


def _kind(account: str) -> tuple[str, int]:
    prefix, _, rest = account.partition(":")
    if rest:
        return prefix, int(rest)
    return ("clearing_house" if account == "clearing_house" else "external"), -1


def _ledger(rep: int, moves) -> pd.DataFrame:
    book: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for reason, payer, payee, amount in moves:
        book[(payer, reason)][0] += amount
        book[(payee, reason)][1] += amount
    rows = []
    for (account, reason), (paid, received) in book.items():
        kind, agent = _kind(account)
        rows.append((rep, account, kind, agent, reason, paid, received))
    df = pd.DataFrame(
        rows,
        columns=[
            "replication",
            "account",
            "account_kind",
            "agent_id",
            "reason",
            "paid",
            "received",
        ],
    )
    for col in ("account_kind", "reason"):
        df[col] = df[col].astype("category")
    return df


def _totals(moves, account: str) -> tuple[dict[str, float], dict[str, float]]:
    paid: dict[str, float] = defaultdict(float)
    got: dict[str, float] = defaultdict(float)
    for reason, payer, payee, amount in moves:
        if payer == account:
            paid[reason] += amount
        if payee == account:
            got[reason] += amount
    return paid, got


def _agents(rep: int, moves, jobs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for k, cls in enumerate(BUYERS):
        paid, got = _totals(moves, f"buyer:{k}")
        mine = jobs[jobs["agent_id"] == k]
        started = mine[mine["start_day"].notna()]
        spend = sum(paid[r] for r in COMPUTE)
        served = float((started["gpus"] * started["hours"]).sum()) + 100.0
        value = served * 3.0
        rows.append(
            {
                "replication": rep,
                "agent_id": k,
                "agent_class": cls,
                "demanded_gpu_hours": served + 50.0,
                "served_gpu_hours": served,
                "spend": spend,
                "value_received": value,
                "surplus": value - spend,
                "initial_cash": got["opening_balance"],
                "final_cash": sum(got.values()) - sum(paid.values()),
                "inflow": got["funding_round"] + got["grant"] + got["public_budget"],
                "resale_income": got["spot"],
                "forward_flow": got["margin"] - paid["margin"],
                "outflow": paid["burn"] + paid["grant_lapsed"] + paid["budget_lapsed"],
                "failed": False,
                "defaulted_amount": 0.0,
                "largest_block_gpus": float(started["gpus"].max()) if len(started) else 0.0,
                "runs_total": len(mine),
                "runs_completed": len(started),
                "runs_abandoned": int(mine["status"].isin(["abandoned", "killed"]).sum()),
            }
        )
    df = pd.DataFrame(rows)
    df["agent_class"] = pd.Categorical(df["agent_class"], categories=BUYERS)
    return df


def _jobs(rep: int) -> pd.DataFrame:
    rows = []
    for k, (agent, gpus, hours, arrival, start, channel, status, site, price) in enumerate(JOBS):
        direct = channel in ("on_demand", "spot", "forward")
        rows.append(
            {
                "replication": rep,
                "job_id": k,
                "agent_id": agent,
                "agent_class": BUYERS[agent],
                "gpus": float(gpus),
                "hours": float(hours),
                "arrival_day": float(arrival),
                "start_day": np.nan if start is None else float(start),
                "wait_days": np.nan if start is None else float(start - arrival),
                "channel": channel,
                "status": status,
                "site": site,
                "price_per_gpu_hour": np.nan if price is None else price,
                "value_per_gpu_hour": 5.0,
                "paid": price * gpus * hours if direct and price is not None else 0.0,
            }
        )
    return pd.DataFrame(rows)


def _capacity(rep: int) -> pd.DataFrame:
    rows = []
    for site, (cap, contracted, in_use) in enumerate(((100.0, 40.0, 40.0), (50.0, 10.0, 20.0))):
        for t in range(T):
            rows.append((rep, site, site, t, cap, contracted, in_use))
    return pd.DataFrame(
        rows,
        columns=[
            "replication",
            "site",
            "provider_id",
            "period",
            "capacity_gpus",
            "contracted_gpus",
            "in_use_gpus",
        ],
    )


def _providers(rep: int, moves) -> pd.DataFrame:
    rows = []
    for k, cls in enumerate(PROVIDERS):
        paid, got = _totals(moves, f"provider:{k}")
        cap = 100.0 if k == 0 else 50.0
        revenue = sum(got[r] for r in COMPUTE)
        cost = paid["energy"] + paid["capital_and_operations"]
        fwd = got["margin"] - paid["margin"]
        rows.append(
            {
                "replication": rep,
                "provider_id": k,
                "provider_class": cls,
                "sites": 1,
                "capacity_start": cap,
                "capacity_end": cap,
                "gpu_hours_installed": cap * T * 24,
                "gpu_hours_used": cap * T * 12,
                "revenue": revenue,
                "forward_pnl": fwd,
                "contract_revenue": got["contract"],
                "cost": cost,
                "profit": revenue - cost + fwd,
                "defaulted_amount": 0.0,
                "list_price_end": 3.0,
            }
        )
    return pd.DataFrame(rows)


def _timeseries(rep: int, cap: pd.DataFrame, prov: pd.DataFrame) -> pd.DataFrame:
    cols: dict[tuple[str, str], np.ndarray] = {}
    klass = dict(zip(prov["provider_id"], prov["provider_class"], strict=True))
    for group in ("all", *PROVIDERS):
        rows = cap if group == "all" else cap[cap["provider_id"].map(klass) == group]
        by = rows.groupby("period")[["capacity_gpus", "contracted_gpus"]].sum()
        cols[("capacity_gpus", group)] = by["capacity_gpus"].to_numpy()
        cols[("contracted_share", group)] = (by["contracted_gpus"] / by["capacity_gpus"]).to_numpy()
        cols[("utilization", group)] = np.full(T, 0.6)
        cols[("on_demand_price", group)] = np.full(T, 3.0)
    cols[("served_share", "all")] = np.full(T, 0.8)
    cols[("spot_price", "all")] = np.array([1.0, 1.2, 0.9, 1.1])
    cols[("withheld_gpus", "all")] = np.zeros(T)
    cols[("spot_volume", "bought")] = np.array([10.0, 20.0, 0.0, 5.5])
    cols[("spot_volume", "sold_by_providers")] = np.array([6.0, 20.0, 0.0, 1.25])
    cols[("spot_volume", "sold_by_resellers")] = np.array([4.0, 0.0, 0.0, 4.25])
    frames = [
        pd.DataFrame(
            {
                "replication": rep,
                "period": np.arange(T),
                "day": np.arange(T, dtype=float),
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


def _forward(rep: int) -> dict[str, pd.DataFrame]:
    curves = pd.DataFrame(
        {
            "replication": rep,
            "session_day": [0.0, 0.0, 1.0],
            "tenor_days": [1.0, 2.0, 1.0],
            "delivery_day": [1.0, 2.0, 2.0],
            "price": [1.4, 1.5, 1.45],
            "volume_lots": [3.0, 2.0, 4.0],
            "bought_by_runs": [2.0, 2.0, 1.0],
            "bought_by_programme": [1.0, 0.0, 0.0],
            "bought_by_makers": [0.0, 0.0, 3.0],
            "sold_by_providers": [3.0, 1.0, 2.0],
            "sold_by_buyers": [0.0, 1.0, 0.0],
            "sold_by_makers": [0.0, 0.0, 2.0],
            "settlement_index": [1.2, 0.9, 0.9],
        }
    )
    _, got = _totals(MOVES, "market_maker:0")
    paid, _ = _totals(MOVES, "market_maker:0")
    balance = sum(got.values()) - sum(paid.values())
    makers = pd.DataFrame(
        {
            "replication": [rep],
            "maker_id": [0],
            "capital_start": [got["opening_balance"]],
            "capital_end": [balance + 2.0],
            "pnl": [balance + 2.0 - got["opening_balance"]],
            "bust": [False],
            "collateral_open": [2.0],
        }
    )
    defaults = pd.DataFrame(
        {"replication": [rep], "participant": [1], "kind": ["buyer"], "shortfall": [5.0]}
    )
    return {"forward_curves": curves, "market_makers": makers, "margin_defaults": defaults}


def _contracts(rep: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "replication": [rep, rep],
            "contract_id": [0, 1],
            "holder_id": [0, 3],
            "holder_class": ["frontier_labs", "public_programme"],
            "provider_id": [0, 1],
            "site": [0, 1],
            "gpus": [40.0, 10.0],
            "start_day": [0.0, 0.0],
            "end_day": [365.0, 365.0],
            "price_per_gpu_hour": [2.0, 1.5],
            "defaulted_amount": [0.0, 0.0],
        }
    )


def write_synthetic(path: Path, replications: int = 2) -> Path:
    """A small, consistent run folder with every table of a run with spot and forward markets.

    The summary comes from the project's own summary code, so the audit's recomputation is
    held against an independent implementation."""
    from sim.summary import combine, replication_summary

    path.mkdir(parents=True)
    tables: dict[str, list[pd.DataFrame]] = defaultdict(list)
    summaries = []
    for rep in range(replications):
        jobs = _jobs(rep)
        cap, prov = _capacity(rep), _providers(rep, MOVES)
        rep_tables = {
            "ledger": _ledger(rep, MOVES),
            "jobs": jobs,
            "agents": _agents(rep, MOVES, jobs),
            "providers": prov,
            "capacity": cap,
            "timeseries": _timeseries(rep, cap, prov),
            "contracts": _contracts(rep),
            **_forward(rep),
        }
        summaries.append(replication_summary(rep_tables, 64))
        for name, df in rep_tables.items():
            tables[name].append(df)
    for name, parts in tables.items():
        pd.concat(parts, ignore_index=True).to_parquet(path / f"{name}.parquet", index=False)
    scenario = {
        "name": "synthetic",
        "replications": replications,
        "time": {"step": "day", "horizon_years": T / 365.0},
        "markets": {"spot": {"enabled": True}, "forward": {"enabled": True}},
        "metrics": {"large_run_gpus": 64},
        "stylized": None,
    }
    (path / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    manifest = {"status": "complete", "replications": replications}
    (path / "manifest.json").write_text(json.dumps(manifest))
    summary = {"scenario": "synthetic", "replications": replications, "metrics": combine(summaries)}
    (path / "summary.json").write_text(json.dumps(summary))
    return path


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("check") / "run")


@pytest.fixture
def copy(synthetic, tmp_path):
    """A fresh copy of the synthetic folder to tamper with."""
    out = tmp_path / "run"
    shutil.copytree(synthetic, out)
    return out


def edit(path: Path, table: str, fn) -> None:
    df = pd.read_parquet(path / f"{table}.parquet")
    out = fn(df)
    df = df if out is None else out
    df.to_parquet(path / f"{table}.parquet", index=False)


def checks_named(path: Path) -> set[str]:
    return {v.check for v in check_run(path)}


# ---- the synthetic folder -------------------------------------------------------------------


def test_synthetic_folder_is_clean(synthetic):
    assert check_run(synthetic) == []
    res = runner.invoke(app, ["check", str(synthetic)])
    assert res.exit_code == 0, res.output
    assert "ok" in res.output


def test_agents_spend_scaled(copy):
    edit(copy, "agents", lambda df: df.__setitem__("spend", df["spend"] * 1.5))
    found = [v for v in check_run(copy) if v.check == "agents_vs_ledger"]
    assert found and all(v.table == "agents" for v in found)
    assert {v.key for v in found} == {
        "replication=0, agent_id=1",
        "replication=0, agent_id=2",
        "replication=0, agent_id=0",
        "replication=0, agent_id=3",
        "replication=1, agent_id=0",
        "replication=1, agent_id=1",
        "replication=1, agent_id=2",
        "replication=1, agent_id=3",
    }
    one = next(v for v in found if v.key == "replication=0, agent_id=1")
    assert one.expected == pytest.approx(768 + 300 + 1152)
    assert one.actual == pytest.approx(1.5 * (768 + 300 + 1152))
    assert "spend" in one.message
    res = runner.invoke(app, ["check", str(copy)])
    assert res.exit_code == 1
    assert "agents_vs_ledger" in res.output and "violation(s)" in res.output


def test_providers_revenue_scaled(copy):
    edit(copy, "providers", lambda df: df.__setitem__("revenue", df["revenue"] * 1.5))
    names = checks_named(copy)
    assert {"providers_vs_ledger", "provider_profit"} <= names
    v = next(v for v in check_run(copy) if v.check == "providers_vs_ledger")
    assert v.table == "providers" and "provider_id=" in v.key and "revenue" in v.message


def test_ledger_row_changed(copy):
    def change(df):
        k = df.index[(df["account"] == "provider:1") & (df["reason"] == "spot_run")][0]
        df.loc[k, "received"] += 40.0

    edit(copy, "ledger", change)
    found = check_run(copy)
    balance = [v for v in found if v.check == "ledger_balance"]
    assert [v.key for v in balance] == ["replication=0, reason=spot_run"]
    assert balance[0].expected == pytest.approx(96.0) and balance[0].actual == pytest.approx(136.0)
    assert "ledger_zero_sum" in {v.check for v in found}


def test_capacity_oversold(copy):
    def oversell(df):
        k = df.index[(df["site"] == 1) & (df["period"] == 2) & (df["replication"] == 1)][0]
        df.loc[k, "in_use_gpus"] = 45.0

    edit(copy, "capacity", oversell)
    found = [v for v in check_run(copy) if v.check == "capacity_oversold"]
    assert len(found) == 1
    v = found[0]
    assert v.key == "replication=1, site=1, provider_id=1, period=2"
    assert (v.expected, v.actual) == (50.0, 55.0)


def test_summary_value_changed(copy):
    summary = json.loads((copy / "summary.json").read_text())
    summary["metrics"]["price_paid.startups"]["values"][1] *= 1.01
    (copy / "summary.json").write_text(json.dumps(summary))
    found = [v for v in check_run(copy) if v.check == "summary"]
    assert [v.key for v in found] == ["metric=price_paid.startups, replication=1"]
    assert "summary_spread" in checks_named(copy)  # the mean no longer matches the values


def test_spot_sold_volume_changed(copy):
    def change(df):
        k = df.index[(df["metric"] == "spot_volume") & (df["group"] == "sold_by_resellers")][0]
        df.loc[k, "value"] += 1.0

    edit(copy, "timeseries", change)
    found = [v for v in check_run(copy) if v.check == "spot_volume"]
    assert [v.key for v in found] == ["replication=0, period=0"]
    assert (found[0].expected, found[0].actual) == (11.0, 10.0)


def test_forward_volume_unbalanced(copy):
    edit(copy, "forward_curves", lambda df: df.loc.__setitem__((1, "sold_by_buyers"), 2.0))
    assert "forward_volume" in checks_named(copy)


def test_job_paid_changed(copy):
    edit(copy, "jobs", lambda df: df.loc.__setitem__((0, "paid"), 700.0))
    found = check_run(copy)
    names = {v.check for v in found}
    assert {"job_payments", "channel_totals"} <= names
    pay = next(v for v in found if v.check == "job_payments")
    assert pay.key.startswith("replication=0, job_id=0") and pay.expected == 768.0


def test_a_run_inside_a_pool_pays_nothing_directly(copy):
    edit(copy, "jobs", lambda df: df.loc.__setitem__((4, "paid"), 10.0))
    assert "job_payments" in checks_named(copy)


def test_money_moving_the_wrong_way(copy):
    def wrong(df):  # a provider pays a startup's burn
        k = df.index[(df["account"] == "buyer:1") & (df["reason"] == "burn")][0]
        df["account_kind"] = df["account_kind"].astype(str)
        df.loc[k, "account"] = "provider:0"
        df.loc[k, "account_kind"] = "provider"
        df.loc[k, "agent_id"] = 0

    edit(copy, "ledger", wrong)
    found = [v for v in check_run(copy) if v.check == "ledger_accounts"]
    assert any("provider:0" in v.key and "burn" in v.key for v in found)


def test_run_counts_and_largest_block(copy):
    def change(df):
        df.loc[1, "runs_total"] += 1
        df.loc[2, "largest_block_gpus"] = 2.0

    edit(copy, "agents", change)
    names = checks_named(copy)
    assert {"run_counts", "largest_block"} <= names


def test_maker_capital_changed(copy):
    edit(copy, "market_makers", lambda df: df.__setitem__("collateral_open", 1000.0))
    assert "makers_vs_ledger" in checks_named(copy)


@pytest.mark.parametrize("missing", ["ledger", "capacity", "margin_defaults"])
def test_missing_table_exits_2(copy, missing):
    (copy / f"{missing}.parquet").unlink()
    res = runner.invoke(app, ["check", str(copy)])
    assert res.exit_code == 2
    assert f"{missing}.parquet" in res.output


def test_unreadable_table_and_missing_column_exit_2(copy):
    (copy / "jobs.parquet").write_bytes(b"not parquet")
    edit(copy, "agents", lambda df: df.drop(columns="spend"))
    res = runner.invoke(app, ["check", str(copy)])
    assert res.exit_code == 2
    assert "jobs.parquet: unreadable" in res.output
    assert "agents.parquet: missing column(s) spend" in res.output


def test_not_a_run_folder_exits_2(tmp_path):
    res = runner.invoke(app, ["check", str(tmp_path)])
    assert res.exit_code == 2 and "manifest.json" in res.output
    res = runner.invoke(app, ["check", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "not a directory" in res.output


def test_failed_run_exits_2(copy):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["status"] = "failed"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    res = runner.invoke(app, ["check", str(copy)])
    assert res.exit_code == 2 and "failed" in res.output


def test_the_audit_shares_no_code_with_the_world():
    code = (
        "import sys, sim.check; "
        "print(sorted(m for m in sys.modules if m.startswith('sim.') and not m.startswith('sim.check')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---- fresh runs of every scenario -------------------------------------------------------------

SCENARIOS = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="session")
def fresh_run(tmp_path_factory):
    """``fresh_run(name)``: the folder of a short run of scenarios/<name>.yaml, each scenario run
    once per session."""
    base = tmp_path_factory.mktemp("fresh")
    done: dict[str, Path] = {}

    def get(name: str, years: float = 0.25, replications: int = 1) -> Path:
        label = f"{name}-{years}y-{replications}r"
        if label not in done:
            out = base / label
            args = ["--set", f"time.horizon_years={years}", "--replications", str(replications)]
            res = runner.invoke(
                app,
                [
                    "run",
                    str(ROOT / "scenarios" / f"{name}.yaml"),
                    *args,
                    "--no-plots",
                    "--out",
                    str(out),
                ],
            )
            assert res.exit_code == 0, res.output
            done[label] = out
        return done[label]

    return get


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_fresh_run_of_every_scenario_is_clean(fresh_run, name):
    res = runner.invoke(app, ["check", str(fresh_run(name))])
    assert res.exit_code == 0, res.output
    assert "ok" in res.output


def _tamper_agents(path: Path) -> None:
    edit(path, "agents", lambda df: df.__setitem__("spend", df["spend"] * 1.5))


def _tamper_providers(path: Path) -> None:
    edit(path, "providers", lambda df: df.__setitem__("revenue", df["revenue"] * 1.5))


def _tamper_ledger(path: Path) -> None:
    def change(df):
        k = df.index[(df["account_kind"] == "provider") & (df["received"] > 1000)][0]
        df.loc[k, "received"] += 1000.0

    edit(path, "ledger", change)


def _tamper_capacity(path: Path) -> None:
    def oversell(df):
        k = df.index[df["capacity_gpus"] > 0][0]
        df.loc[k, "in_use_gpus"] = df.loc[k, "capacity_gpus"] - df.loc[k, "contracted_gpus"] + 1

    edit(path, "capacity", oversell)


def _tamper_summary(path: Path) -> None:
    summary = json.loads((path / "summary.json").read_text())
    summary["metrics"]["served_share.startups"]["values"][0] += 0.01
    (path / "summary.json").write_text(json.dumps(summary))


def _tamper_spot(path: Path) -> None:
    def change(df):
        sold = (df["metric"] == "spot_volume") & (df["group"] == "sold_by_providers")
        df.loc[df.index[sold][0], "value"] += 8.0

    edit(path, "timeseries", change)


def _tamper_pool_site(path: Path) -> None:
    def move(df):
        pool = df.index[(df["channel"] == "contract") & df["start_day"].notna()]
        k = pool[0]
        df.loc[k, "site"] = (df.loc[k, "site"] + 1) % (df["site"].max() + 1)

    edit(path, "jobs", move)


def _tamper_given_back(path: Path) -> None:
    def start(df):
        k = df.index[df["channel"] == "on_demand"][0]
        df.loc[k, "start_day"] = np.nan

    edit(path, "jobs", start)


@pytest.mark.parametrize("name", ["plan", "forward-physical", "public-forwards"])
def test_a_longer_run_with_several_replications_is_clean(fresh_run, name):
    """Longer runs reach what a quarter does not: contract pools, forward blocks given back,
    grants lapsing, margin defaults."""
    res = runner.invoke(app, ["check", str(fresh_run(name, years=1.5, replications=2))])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    "tamper, check",
    [
        (_tamper_pool_site, "pool_runs"),
        (_tamper_given_back, "jobs_consistency"),
        (_tamper_agents, "agents_vs_ledger"),
        (_tamper_providers, "providers_vs_ledger"),
        (_tamper_ledger, "ledger_balance"),
        (_tamper_capacity, "capacity_oversold"),
        (_tamper_summary, "summary"),
        (_tamper_spot, "spot_volume"),
    ],
)
def test_a_tampered_run_fails_naming_the_check(fresh_run, tmp_path, tamper, check):
    path = tmp_path / "plan"
    shutil.copytree(fresh_run("plan", years=1.5, replications=2), path)
    tamper(path)
    res = runner.invoke(app, ["check", str(path)])
    assert res.exit_code == 1, res.output
    assert f"[{check}]" in res.output
    assert check in {v.check for v in check_run(path)}


def test_run_audits_its_own_tables(tmp_path, monkeypatch, tiny_path):
    """`sim run` ends with the audit: a recorder that misreports what runs paid fails the run
    (exit 1, the violation printed) though its folder is written."""
    from typer.testing import CliRunner

    from sim.cli import app
    from sim.recorder import Recorder

    jobs = Recorder.jobs

    def misreported(self, replication):
        df = jobs(self, replication)
        df["paid"] *= 1.5
        return df

    monkeypatch.setattr(Recorder, "jobs", misreported)
    out = tmp_path / "run"
    args = ["run", str(tiny_path), "--replications", "1", "--no-plots", "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--set", "time.horizon_years=0.25"])
    assert res.exit_code == 1, res.output
    assert "[job_payments]" in res.output and "audit:" in res.output
    assert (out / "manifest.json").exists()


def test_the_audit_states_the_ledger_as_the_accounts_write_it():
    """The audit lists reasons and external accounts itself (it shares no code with what wrote
    the folder); the lists must still be the accounts' own."""
    from sim import accounts
    from sim.check import money

    assert money.REASONS == accounts.REASONS
    assert money.COMPUTE == accounts.COMPUTE_REASONS
    assert money.SINGLE == accounts.SINGLE
