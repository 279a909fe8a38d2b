"""Money: the ledger balances, and every money column of the other tables agrees with it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.check.base import MONEY, Findings, Run, Tolerance

# the ledger's reasons, as the run folder's specification lists them
REASONS = (
    "opening_balance",
    "on_demand_run",
    "on_demand_load",
    "spot",
    "spot_run",
    "contract",
    "forward_physical",
    "forward_delivery",
    "margin",
    "funding_round",
    "burn",
    "grant",
    "grant_lapsed",
    "public_budget",
    "budget_lapsed",
    "energy",
    "capital_and_operations",
)
COMPUTE = (
    "on_demand_run",
    "on_demand_load",
    "spot",
    "spot_run",
    "contract",
    "forward_physical",
    "forward_delivery",
)
SINGLE = (
    "clearing_house",
    "investors",
    "grant_agencies",
    "public_budget",
    "operating_costs",
    "energy_suppliers",
    "capital_and_operations",
)
KINDS = ("buyer", "provider", "market_maker", "clearing_house", "external")
PARTICIPANTS = {"buyer", "provider", "market_maker", "clearing_house"}
# who may pay and who may receive under each reason ("buyer:<class>" limits a buyer's class)
FLOWS: dict[str, tuple[set[str], set[str]]] = {
    "opening_balance": ({"external"}, {"buyer", "market_maker"}),
    **{r: ({"buyer"}, {"provider"}) for r in COMPUTE},
    "spot": ({"buyer"}, {"provider", "buyer"}),  # resale: a contract holder sells to a buyer
    "margin": (PARTICIPANTS, PARTICIPANTS),
    "funding_round": ({"investors"}, {"buyer:startups"}),
    "burn": ({"buyer:startups"}, {"operating_costs"}),
    "grant": ({"grant_agencies"}, {"buyer:academics"}),
    "grant_lapsed": ({"buyer:academics"}, {"grant_agencies"}),
    "public_budget": ({"public_budget"}, {"buyer:public_programme"}),
    "budget_lapsed": ({"buyer:public_programme"}, {"public_budget"}),
    "energy": ({"provider"}, {"energy_suppliers"}),
    "capital_and_operations": ({"provider"}, {"capital_and_operations"}),
}
RUN_CHANNELS = {  # jobs' channel -> the ledger reasons its runs pay under
    "on_demand": ("on_demand_run",),
    "spot": ("spot_run",),
    "forward": ("forward_physical", "forward_delivery"),
}
PROGRAMME = "public_programme"


def check_money(run: Run, f: Findings) -> None:
    ledger_accounts(run, f)
    ledger_balance(run, f)
    agents_vs_ledger(run, f)
    providers_vs_ledger(run, f)
    if "market_makers" in run.tables:
        makers_vs_ledger(run, f)
    channel_totals(run, f)
    job_payments(run, f)


def wide(run: Run, kind: str, side: str) -> pd.DataFrame:
    """The ledger's ``side`` (paid or received) of ``kind`` accounts: one row per replication
    and agent id, one column per reason (zeros where the ledger has no row)."""
    led = run["ledger"]
    rows = led[led["account_kind"] == kind]
    if rows.empty:
        index = pd.MultiIndex.from_arrays([[], []], names=["replication", "agent_id"])
        return pd.DataFrame(0.0, index=index, columns=list(REASONS))
    table = rows.pivot_table(
        index=["replication", "agent_id"], columns="reason", values=side, aggfunc="sum"
    )
    return table.reindex(columns=list(REASONS)).fillna(0.0)


def _aligned(keys: pd.DataFrame, table: pd.DataFrame, id_column: str) -> pd.DataFrame:
    index = pd.MultiIndex.from_arrays(
        [keys["replication"].to_numpy(), keys[id_column].to_numpy()],
        names=["replication", "agent_id"],
    )
    return table.reindex(index).fillna(0.0)


def ledger_accounts(run: Run, f: Findings) -> None:
    """Every ledger row is well formed: known reason and account, the account's kind and id agree
    with its name and exist in the other tables, amounts are not negative, one row per account
    and reason, and money moves the way its reason says."""
    led = run["ledger"]
    check, table = "ledger_accounts", "ledger"
    keys = led[["replication", "account", "reason"]]
    f.require(
        check,
        table,
        keys,
        led["reason"].isin(REASONS),
        "a known reason",
        led["reason"],
        "unknown reason {actual}",
    )
    kind, agent_id = _account_parts(led["account"])
    f.require(
        check,
        table,
        keys,
        kind == led["account_kind"].to_numpy(),
        kind,
        led["account_kind"],
        "account_kind is {actual} but the account name says {expected}",
    )
    f.require(
        check,
        table,
        keys,
        agent_id == led["agent_id"].to_numpy(),
        agent_id,
        led["agent_id"],
        "agent_id is {actual} but the account name says {expected}",
    )
    for side in ("paid", "received"):
        f.require(
            check,
            table,
            keys,
            led[side].to_numpy() >= 0,
            0.0,
            led[side],
            side + " is {actual}, negative",
        )
    dup = led.duplicated(["replication", "account", "reason"], keep="first").to_numpy()
    f.require(
        check,
        table,
        keys,
        ~dup,
        1,
        np.full(len(led), 2),
        "more than one row for this account and reason",
    )
    # accounts of agents the other tables do not know
    members = {
        "buyer": ("agents", "agent_id"),
        "provider": ("providers", "provider_id"),
        "market_maker": ("market_makers", "maker_id"),
    }
    classes = run["agents"].set_index(["replication", "agent_id"])["agent_class"]
    for k, (name, col) in members.items():
        rows = led[led["account_kind"] == k]
        if name in run.tables:
            known = pd.MultiIndex.from_frame(run[name][["replication", col]])
            ok = pd.MultiIndex.from_frame(rows[["replication", "agent_id"]]).isin(known)
        else:
            ok = np.zeros(len(rows), dtype=bool)
        f.require(
            check,
            table,
            rows[["replication", "account", "reason"]],
            ok,
            f"a row of {name}",
            rows["account"],
            "account {actual} has no row in " + name + ".parquet",
        )
    # directions: who may pay and who may receive under each reason
    buyer_class = pd.Series(
        classes.reindex(pd.MultiIndex.from_frame(led[["replication", "agent_id"]])).to_numpy(),
        index=led.index,
    )
    parties = [
        _parties(a, k, c)
        for a, k, c in zip(led["account"], led["account_kind"], buyer_class, strict=True)
    ]
    for side, pos in (("paid", 0), ("received", 1)):
        moved = led[side].to_numpy() > MONEY.absolute
        allowed = [
            (not m) or (reason not in FLOWS) or bool(p & FLOWS[reason][pos])
            for m, reason, p in zip(moved, led["reason"], parties, strict=True)
        ]
        verb = "pays" if side == "paid" else "receives"
        f.require(
            check,
            table,
            keys,
            np.asarray(allowed),
            "nothing",
            led[side],
            "this account " + verb + " {actual} under a reason it may not " + verb[:-1],
        )


def _account_parts(names: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(kind, agent id) that each account name says; kind '?' for a name that is not one."""
    kinds, ids = [], []
    for name in names:
        prefix, sep, rest = str(name).partition(":")
        if sep and prefix in ("buyer", "provider", "market_maker") and rest.isdigit():
            kinds.append(prefix)
            ids.append(int(rest))
        elif not sep and name in SINGLE:
            kinds.append("clearing_house" if name == "clearing_house" else "external")
            ids.append(-1)
        else:
            kinds.append("?")
            ids.append(-2)
    return np.asarray(kinds, dtype=object), np.asarray(ids)


def _parties(account: str, kind: str, buyer_class: object) -> set[str]:
    if kind == "buyer":
        return {"buyer", f"buyer:{buyer_class}"}
    if kind in ("provider", "market_maker"):
        return {kind}
    return {account, kind}


def ledger_balance(run: Run, f: Findings) -> None:
    """Double entry: under every reason as much is paid as received; all balances sum to zero."""
    led = run["ledger"]
    rows = []
    for (rep, reason), g in led.groupby(["replication", "reason"], sort=True):
        rows.append((rep, reason, math.fsum(g["paid"]), math.fsum(g["received"])))
    t = pd.DataFrame(rows, columns=["replication", "reason", "paid", "received"])
    f.compare(
        "ledger_balance",
        "ledger",
        t[["replication", "reason"]],
        t["paid"],
        t["received"],
        "money received",
        "money paid",
    )
    sums, gross = [], 0.0
    for rep in run.replications:
        g = led[led["replication"] == rep]
        sums.append((rep, math.fsum(g["received"]) - math.fsum(g["paid"])))
        gross = max(gross, math.fsum(g["paid"]))
    z = pd.DataFrame(sums, columns=["replication", "total"])
    # each account's totals were accumulated in float64, so the balances cancel to a cent plus
    # the rounding of the money that moved (a part in 1e12 of it)
    f.compare(
        "ledger_zero_sum",
        "ledger",
        z[["replication"]],
        np.zeros(len(z)),
        z["total"],
        "the sum of all balances",
        "double entry",
        tol=Tolerance(MONEY.absolute + 1e-12 * gross, 0.0, "$"),
    )


def agents_vs_ledger(run: Run, f: Findings) -> None:
    a = run["agents"]
    keys = a[["replication", "agent_id"]]
    paid = _aligned(keys, wide(run, "buyer", "paid"), "agent_id")
    got = _aligned(keys, wide(run, "buyer", "received"), "agent_id")
    rules = {
        "initial_cash": (got["opening_balance"], "the ledger's opening balance received"),
        "final_cash": (
            got.sum(axis=1) - paid.sum(axis=1),
            "the ledger's balance (received less paid)",
        ),
        "spend": (paid[list(COMPUTE)].sum(axis=1), "the ledger's paid on compute reasons"),
        "resale_income": (got["spot"], "the ledger's received for spot resale"),
        "inflow": (
            got[["funding_round", "grant", "public_budget"]].sum(axis=1),
            "the ledger's received funding rounds, grants and public budget",
        ),
        "outflow": (
            paid[["burn", "grant_lapsed", "budget_lapsed"]].sum(axis=1),
            "the ledger's paid burn and lapsed grants and budget",
        ),
        "forward_flow": (got["margin"] - paid["margin"], "the ledger's net margin"),
    }
    for col, (expected, against) in rules.items():
        f.compare("agents_vs_ledger", "agents", keys, expected, a[col], col, against)


def providers_vs_ledger(run: Run, f: Findings) -> None:
    p = run["providers"]
    keys = p[["replication", "provider_id"]]
    paid = _aligned(keys, wide(run, "provider", "paid"), "provider_id")
    got = _aligned(keys, wide(run, "provider", "received"), "provider_id")
    rules = {
        "revenue": (got[list(COMPUTE)].sum(axis=1), "the ledger's received on compute reasons"),
        "contract_revenue": (got["contract"], "the ledger's received contract invoices"),
        "cost": (
            paid[["energy", "capital_and_operations"]].sum(axis=1),
            "the ledger's paid energy and capital and operations",
        ),
        "forward_pnl": (got["margin"] - paid["margin"], "the ledger's net margin"),
    }
    for col, (expected, against) in rules.items():
        f.compare("providers_vs_ledger", "providers", keys, expected, p[col], col, against)
    f.compare(
        "provider_profit",
        "providers",
        keys,
        p["revenue"] - p["cost"] + p["forward_pnl"],
        p["profit"],
        "profit",
        "revenue - cost + forward_pnl",
    )


def makers_vs_ledger(run: Run, f: Findings) -> None:
    m = run["market_makers"]
    keys = m[["replication", "maker_id"]]
    paid = _aligned(keys, wide(run, "market_maker", "paid"), "maker_id")
    got = _aligned(keys, wide(run, "market_maker", "received"), "maker_id")
    balance = got.sum(axis=1) - paid.sum(axis=1)
    f.compare(
        "makers_vs_ledger",
        "market_makers",
        keys,
        got["opening_balance"],
        m["capital_start"],
        "capital_start",
        "the ledger's opening balance received",
    )
    f.compare(
        "makers_vs_ledger",
        "market_makers",
        keys,
        balance + m["collateral_open"].to_numpy(),
        m["capital_end"],
        "capital_end",
        "the ledger's balance plus collateral_open",
    )
    f.compare(
        "maker_pnl",
        "market_makers",
        keys,
        m["capital_end"] - m["capital_start"],
        m["pnl"],
        "pnl",
        "capital_end - capital_start",
    )


def channel_totals(run: Run, f: Findings) -> None:
    """What runs paid by channel (jobs.paid) is what the ledger shows buyers paid under the
    channel's reasons; the programme's forward strips are not runs and are left out."""
    j, a = run["jobs"], run["agents"]
    paid = wide(run, "buyer", "paid")
    programme = a.loc[a["agent_class"] == PROGRAMME, ["replication", "agent_id"]]
    prog_index = pd.MultiIndex.from_frame(programme)
    not_prog = ~paid.index.isin(prog_index)
    rows = []
    for rep in run.replications:
        at_rep = paid.index.get_level_values("replication") == rep
        jr = j[j["replication"] == rep]
        for channel, reasons in RUN_CHANNELS.items():
            mask = at_rep & not_prog if channel == "forward" else at_rep
            ledger = math.fsum(paid.loc[mask, list(reasons)].to_numpy().ravel())
            jobs = math.fsum(jr.loc[jr["channel"] == channel, "paid"])
            rows.append((rep, channel, " + ".join(reasons), ledger, jobs))
    t = pd.DataFrame(rows, columns=["replication", "channel", "reasons", "ledger", "jobs"])
    for k in range(len(t)):
        row = t.iloc[[k]]
        who = " by buyers other than the programme" if row["channel"].iat[0] == "forward" else ""
        f.compare(
            "channel_totals",
            "jobs",
            row[["replication", "channel"]],
            row["ledger"],
            row["jobs"],
            "the sum of paid",
            f"the ledger's paid under {row['reasons'].iat[0]}{who}",
        )


def job_payments(run: Run, f: Findings) -> None:
    """Each run bought on demand, on the spot market or forward paid its price for every GPU and
    every billed hour (whole periods), and so did a forward block given back before it started
    under physical settlement; runs in pools or the programme, and runs that never started,
    paid nothing directly."""
    j = run["jobs"]
    h = run.hours_per_period
    keys = j[["replication", "job_id", "agent_id"]]
    started = j["start_day"].notna().to_numpy()
    direct = j["channel"].isin(list(RUN_CHANNELS)).to_numpy() & started
    # a forward block given back before it started was paid for at the trade under physical
    # settlement, and never under cash settlement (which pays at delivery)
    forward = (run.scenario.get("markets") or {}).get("forward") or {}
    prepaid = forward.get("settlement", "physical") == "physical"
    given_back = ~started & (j["channel"] == "forward").to_numpy() & (
        j["status"] == "abandoned"
    ).to_numpy()
    billed = np.ceil(j["hours"].to_numpy() / h - 1e-9) * h
    pays = direct | (given_back & prepaid)
    due = np.where(pays, j["price_per_gpu_hour"].to_numpy() * j["gpus"].to_numpy() * billed, 0.0)
    f.compare(
        "job_payments",
        "jobs",
        keys.assign(channel=j["channel"]),
        due,
        j["paid"],
        "paid",
        "price_per_gpu_hour x gpus x billed hours (0 for runs not paid directly)",
    )
    f.require(
        "job_payments",
        "jobs",
        keys,
        ~(direct & ~np.isfinite(j["price_per_gpu_hour"])),
        "a price",
        j["price_per_gpu_hour"],
        "started on a market at price {actual}",
    )
