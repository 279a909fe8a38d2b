"""GPUs and GPU-hours: capacity is never oversold, every market's bought volume is its sold
volume, and the tables count the same runs, sites and GPUs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.check.base import COUNT, GPU_HOURS, GPUS, RATIO, Findings, Run

SPOT_GROUPS = ("bought", "sold_by_providers", "sold_by_resellers")
BOUGHT = ("bought_by_runs", "bought_by_programme", "bought_by_makers")
SOLD = ("sold_by_providers", "sold_by_buyers", "sold_by_makers")
STARTED = ("running", "completed", "killed")
WAITING = ("pending", "abandoned", "killed", "reserved")


def check_volumes(run: Run, f: Findings) -> None:
    replication_coverage(run, f)
    capacity_rows(run, f)
    capacity_oversold(run, f)
    capacity_totals(run, f)
    if run.market("spot"):
        spot_volume(run, f)
    if "forward_curves" in run.tables:
        forward_volume(run, f)
    run_counts(run, f)
    largest_block(run, f)
    jobs_consistency(run, f)
    pool_runs(run, f)
    contracts_consistency(run, f)
    if "margin_defaults" in run.tables:
        margin_defaults(run, f)


def capacity_rows(run: Run, f: Findings) -> None:
    """One row per site and period of the horizon; a site belongs to one provider that
    providers.parquet knows; no GPU count is negative."""
    cap, T = run["capacity"], run.horizon
    check, table = "capacity_rows", "capacity"
    keys = cap[["replication", "site", "period"]]
    dup = cap.duplicated(["replication", "site", "period"]).to_numpy()
    f.require(check, table, keys, ~dup, 1, np.full(len(cap), 2), "more than one row")
    period = cap["period"].to_numpy()
    f.require(
        check,
        table,
        keys,
        (period >= 0) & (period < T),
        f"0..{T - 1}",
        period,
        "period {actual} outside the horizon ({expected})",
    )
    for col in ("capacity_gpus", "contracted_gpus", "in_use_gpus"):
        f.require(
            check,
            table,
            keys,
            cap[col].to_numpy() >= -GPUS.absolute,
            0,
            cap[col],
            col + " is {actual}, negative",
        )
    per_site = (
        cap.groupby(["replication", "site"])
        .agg(
            rows=("period", "size"),
            providers=("provider_id", "nunique"),
            provider=("provider_id", "first"),
        )
        .reset_index()
    )
    skeys = per_site[["replication", "site"]]
    f.compare(
        check,
        table,
        skeys,
        np.full(len(per_site), T),
        per_site["rows"],
        "rows for this site",
        "the horizon's periods",
        tol=COUNT,
    )
    f.require(
        check,
        table,
        skeys,
        per_site["providers"].to_numpy() == 1,
        1,
        per_site["providers"],
        "the site belongs to {actual} providers",
    )
    known = pd.MultiIndex.from_frame(run["providers"][["replication", "provider_id"]])
    here = pd.MultiIndex.from_frame(per_site[["replication", "provider"]])
    f.require(
        check,
        table,
        skeys,
        here.isin(known),
        "a provider of providers.parquet",
        per_site["provider"],
        "provider_id {actual} has no row in providers.parquet",
    )


def replication_coverage(run: Run, f: Findings) -> None:
    """Tables with a row per agent, provider, site or account hold every replication of the
    manifest; the others hold no replication the manifest does not list."""
    reps = set(run.replications)
    for name, df in run.tables.items():
        seen = {int(r) for r in df["replication"].unique()}
        every = name in ("agents", "providers", "capacity", "ledger", "timeseries", "firms")
        if (every and seen != reps) or not seen <= reps:
            f.add(
                "replications",
                name,
                {"replications": len(reps)},
                str(sorted(reps)),
                str(sorted(seen)),
                f"the table holds replications {sorted(seen)}; the manifest lists {sorted(reps)}",
            )


def capacity_oversold(run: Run, f: Findings) -> None:
    """No site sells more than it has: contracted + in use <= capacity in every period."""
    cap = run["capacity"]
    used = cap["contracted_gpus"].to_numpy() + cap["in_use_gpus"].to_numpy()
    room = cap["capacity_gpus"].to_numpy()
    keys = cap[["replication", "site", "provider_id", "period"]]
    f.require(
        "capacity_oversold",
        "capacity",
        keys,
        used <= room + GPUS.absolute,
        room,
        used,
        "contracted + in use is {actual} GPUs but capacity is {expected} GPUs",
    )


def capacity_totals(run: Run, f: Findings) -> None:
    """Capacity in the timeseries and in providers.parquet is what capacity.parquet holds."""
    cap, prov, ts, h = run["capacity"], run["providers"], run["timeseries"], run.hours_per_period
    klass = prov.set_index(["replication", "provider_id"])["provider_class"]
    cap = cap.assign(
        provider_class=klass.reindex(
            pd.MultiIndex.from_frame(cap[["replication", "provider_id"]])
        ).to_numpy()
    )
    frames = [cap.assign(group="all"), cap.assign(group=cap["provider_class"])]
    sums = (
        pd.concat(frames)
        .groupby(["replication", "group", "period"])[["capacity_gpus", "contracted_gpus"]]
        .sum()
    )
    for metric in ("capacity_gpus", "contracted_share"):
        series = ts[ts["metric"] == metric].set_index(["replication", "group", "period"])["value"]
        if metric == "capacity_gpus":
            expected = sums["capacity_gpus"]
            tol, against = GPUS, "capacity.parquet summed over sites"
        else:
            c = sums["capacity_gpus"].to_numpy()
            share = np.divide(
                sums["contracted_gpus"].to_numpy(), c, out=np.full(c.size, np.nan), where=c > 1e-12
            )
            expected = pd.Series(share, index=sums.index)
            tol, against = RATIO, "contracted over capacity in capacity.parquet"
        both = pd.concat({"table": series, "expected": expected}, axis=1, join="outer")
        if metric == "capacity_gpus":
            both["expected"] = both["expected"].fillna(0.0)
            missing = (both["table"].isna() & both["expected"].notna()).to_numpy()
            keys = both.reset_index()[["replication", "group", "period"]].assign(metric=metric)
            f.require(
                "capacity_totals",
                "timeseries",
                keys,
                ~missing,
                "a value",
                both["table"],
                "no capacity_gpus row for a period capacity.parquet holds",
            )
        shown = both.dropna(subset=["table"])
        f.compare(
            "capacity_totals",
            "timeseries",
            shown.reset_index()[["replication", "group", "period"]].assign(metric=metric),
            shown["expected"],
            shown["table"],
            metric,
            against,
            tol=tol,
        )
    # per provider: sites, capacity at the first and last period, GPU-hours installed
    T = run.horizon
    g = cap.groupby(["replication", "provider_id"])
    per = pd.DataFrame(
        {
            "sites": g["site"].nunique(),
            "capacity_start": cap[cap["period"] == 0]
            .groupby(["replication", "provider_id"])["capacity_gpus"]
            .sum(),
            "capacity_end": cap[cap["period"] == T - 1]
            .groupby(["replication", "provider_id"])["capacity_gpus"]
            .sum(),
            "gpu_hours_installed": g["capacity_gpus"].sum() * h,
        }
    )
    keys = prov[["replication", "provider_id"]]
    per = per.reindex(pd.MultiIndex.from_frame(keys)).fillna(0.0)
    for col, tol in (
        ("sites", COUNT),
        ("capacity_start", GPUS),
        ("capacity_end", GPUS),
        ("gpu_hours_installed", GPU_HOURS),
    ):
        f.compare(
            "capacity_totals",
            "providers",
            keys,
            per[col],
            prov[col],
            col,
            "capacity.parquet",
            tol=tol,
        )
    if "gpu_hours_used" in prov:
        used, inst = prov["gpu_hours_used"].to_numpy(), prov["gpu_hours_installed"].to_numpy()
        f.require(
            "capacity_totals",
            "providers",
            keys,
            used <= inst * (1 + 1e-9) + 1e-6,
            inst,
            used,
            "gpu_hours_used {actual} exceeds gpu_hours_installed {expected}",
        )


def spot_volume(run: Run, f: Findings) -> None:
    """In every period the spot market sells what it buys: bought = sold by providers + sold by
    resellers."""
    ts = run["timeseries"]
    rows = ts[ts["metric"] == "spot_volume"]
    if rows.empty:
        f.add(
            "spot_volume",
            "timeseries",
            {"metric": "spot_volume"},
            "rows",
            "none",
            "the spot market is enabled but the timeseries has no spot_volume metric",
        )
        return
    wide = rows.pivot_table(
        index=["replication", "period"], columns="group", values="value", aggfunc="sum"
    )
    for g in SPOT_GROUPS:
        if g not in wide:
            f.add(
                "spot_volume",
                "timeseries",
                {"metric": "spot_volume", "group": g},
                "rows",
                "none",
                f"spot_volume has no group {g}",
            )
            return
    wide = wide.fillna(0.0)
    keys = wide.reset_index()[["replication", "period"]]
    f.compare(
        "spot_volume",
        "timeseries",
        keys,
        wide["sold_by_providers"] + wide["sold_by_resellers"],
        wide["bought"],
        "spot_volume bought",
        "sold_by_providers + sold_by_resellers",
        tol=GPU_HOURS,
    )
    for g in SPOT_GROUPS:
        f.require(
            "spot_volume",
            "timeseries",
            keys.assign(group=g),
            wide[g].to_numpy() >= -GPU_HOURS.absolute,
            0,
            wide[g],
            "spot_volume is {actual} GPU-h, negative",
        )


def forward_volume(run: Run, f: Findings) -> None:
    """Every forward session and window: lots bought = lots sold = volume_lots."""
    c = run["forward_curves"]
    keys = c[["replication", "session_day", "delivery_day"]]
    bought = c[list(BOUGHT)].sum(axis=1)
    sold = c[list(SOLD)].sum(axis=1)
    f.compare(
        "forward_volume",
        "forward_curves",
        keys,
        sold,
        bought,
        "lots bought",
        "lots sold (providers + buyers + makers)",
        tol=GPU_HOURS,
    )
    f.compare(
        "forward_volume",
        "forward_curves",
        keys,
        c["volume_lots"],
        bought,
        "lots bought",
        "volume_lots",
        tol=GPU_HOURS,
    )
    for col in (*BOUGHT, *SOLD):
        f.require(
            "forward_volume",
            "forward_curves",
            keys.assign(side=col),
            c[col].to_numpy() >= 0,
            0,
            c[col],
            "{actual} lots, negative",
        )


def run_counts(run: Run, f: Findings) -> None:
    """agents.parquet counts the runs jobs.parquet lists, agent by agent, in the agent's class."""
    a, j = run["agents"], run["jobs"]
    keys = a[["replication", "agent_id"]]
    index = pd.MultiIndex.from_frame(keys)
    started = j["start_day"].notna()
    dropped = j["status"].isin(["abandoned", "killed"])
    counts = {
        "runs_total": j.groupby(["replication", "agent_id"]).size(),
        "runs_completed": j[started].groupby(["replication", "agent_id"]).size(),
        "runs_abandoned": j[dropped].groupby(["replication", "agent_id"]).size(),
    }
    against = {
        "runs_total": "jobs.parquet's runs of the agent",
        "runs_completed": "jobs.parquet's started runs of the agent",
        "runs_abandoned": "jobs.parquet's abandoned or killed runs of the agent",
    }
    for col, n in counts.items():
        f.compare(
            "run_counts",
            "agents",
            keys,
            n.reindex(index).fillna(0),
            a[col],
            col,
            against[col],
            tol=COUNT,
        )
    owner = a.set_index(["replication", "agent_id"])["agent_class"]
    theirs = owner.reindex(pd.MultiIndex.from_frame(j[["replication", "agent_id"]])).to_numpy()
    f.require(
        "run_counts",
        "jobs",
        j[["replication", "job_id", "agent_id"]],
        theirs == j["agent_class"].to_numpy(),
        theirs,
        j["agent_class"],
        "agent_class is {actual} but agents.parquet says {expected}",
    )


def largest_block(run: Run, f: Findings) -> None:
    """An agent's largest block is the largest run of it that started (0 if none did)."""
    a, j = run["agents"], run["jobs"]
    keys = a[["replication", "agent_id"]]
    biggest = (
        j[j["start_day"].notna()]
        .groupby(["replication", "agent_id"])["gpus"]
        .max()
        .reindex(pd.MultiIndex.from_frame(keys))
        .fillna(0.0)
        .to_numpy()
    )
    have = a["largest_block_gpus"].to_numpy()
    f.require(
        "largest_block",
        "agents",
        keys,
        have >= biggest - GPUS.absolute,
        biggest,
        have,
        "largest_block_gpus is {actual} but a run of {expected} GPUs started",
    )
    f.require(
        "largest_block",
        "agents",
        keys,
        have <= biggest + GPUS.absolute,
        biggest,
        have,
        "largest_block_gpus is {actual} but the largest run that started had {expected} GPUs",
    )


def jobs_consistency(run: Run, f: Findings) -> None:
    """Each run's fields agree: started runs have a channel (and a site, unless the programme
    hosts them), runs that never started have none (except a forward block given back), waits are start less arrival, hours are whole periods, and a run is still
    running exactly when its block ends after the last period."""
    j, h, T = run["jobs"], run.hours_per_period, run.horizon
    check, table = "jobs_consistency", "jobs"
    keys = j[["replication", "job_id", "agent_id"]]
    ppd = 24 / h
    started = j["start_day"].notna().to_numpy()
    channel = j["channel"].to_numpy()
    status = j["status"].to_numpy()
    # a run that bought a forward block and gave it back (its owner failed or could not pay at
    # delivery) keeps the forward channel without ever starting
    given_back = ~started & (channel == "forward") & (status == "abandoned")
    f.require(
        check,
        table,
        keys,
        (started == (channel != "none")) | given_back,
        np.where(started, "a channel", "none"),
        channel,
        "channel is {actual}; expected {expected} (start_day says whether it started)",
    )
    f.require(
        check,
        table,
        keys,
        ~started | np.isin(status, STARTED),
        "running or completed",
        status,
        "started but status is {actual}",
    )
    f.require(
        check,
        table,
        keys,
        started | np.isin(status, WAITING),
        "pending, reserved or abandoned",
        status,
        "never started but status is {actual}",
    )
    site = j["site"].to_numpy()
    at_site = started & (channel != "public")
    f.require(
        check,
        table,
        keys,
        (site >= 0) == at_site,
        np.where(at_site, "a site", "-1"),
        site,
        "site is {actual}; expected {expected}",
    )
    s = j[started]
    skeys = s[["replication", "job_id", "agent_id"]]
    f.compare(
        check,
        table,
        skeys,
        s["start_day"] - s["arrival_day"],
        s["wait_days"],
        "wait_days",
        "start_day - arrival_day",
        tol=RATIO,
    )
    f.require(
        check,
        table,
        skeys,
        s["wait_days"].to_numpy() >= 0,
        0,
        s["wait_days"],
        "wait_days is {actual}, negative",
    )
    hours = j["hours"].to_numpy()
    f.require(
        check,
        table,
        keys,
        np.isclose(hours / h, np.round(hours / h), rtol=0, atol=1e-9),
        f"a multiple of {h}",
        hours,
        "hours {actual} are not whole periods ({expected} h)",
    )
    gpus = j["gpus"].to_numpy()
    f.require(
        check,
        table,
        keys,
        (gpus >= 1) & (gpus == np.round(gpus)),
        "a whole number >= 1",
        gpus,
        "gpus is {actual}",
    )
    end = np.round(s["start_day"].to_numpy() * ppd) + np.ceil(s["hours"].to_numpy() / h - 1e-9)
    st = s["status"].to_numpy()
    ok = np.where(st == "running", end >= T, np.where(st == "completed", end <= T - 1, True))
    f.require(
        check,
        table,
        skeys.assign(status=st),
        ok,
        T,
        end,
        "the block ends at period {actual}, which does not fit the status "
        "(a run is still running at the horizon, period {expected}, when it ends there or "
        "later)",
    )
    f.require(
        check,
        table,
        keys,
        j["arrival_day"].to_numpy() * ppd < T + 1e-9,
        T,
        j["arrival_day"].to_numpy() * ppd,
        "arrives at period {actual}, after the horizon",
    )
    dup = j.duplicated(["replication", "job_id"]).to_numpy()
    f.require(check, table, keys, ~dup, 1, np.full(len(j), 2), "more than one row")


def contracts_consistency(run: Run, f: Findings) -> None:
    """A contract's holder class is the holder's, its site belongs to its provider, and it lasts
    a positive time with a positive number of GPUs."""
    c, a, cap = run["contracts"], run["agents"], run["capacity"]
    check, table = "contracts_consistency", "contracts"
    id_col = "contract_id" if "contract_id" in c else "holder_id"
    keys = c[["replication", id_col, "holder_id", "site"]]
    owner = a.set_index(["replication", "agent_id"])["agent_class"]
    theirs = owner.reindex(pd.MultiIndex.from_frame(c[["replication", "holder_id"]])).to_numpy()
    f.require(
        check,
        table,
        keys,
        theirs == c["holder_class"].to_numpy(),
        theirs,
        c["holder_class"],
        "holder_class is {actual} but agents.parquet says {expected}",
    )
    site_owner = cap.drop_duplicates(["replication", "site"]).set_index(["replication", "site"])[
        "provider_id"
    ]
    expected = site_owner.reindex(pd.MultiIndex.from_frame(c[["replication", "site"]])).to_numpy()
    f.require(
        check,
        table,
        keys,
        expected == c["provider_id"].to_numpy(),
        expected,
        c["provider_id"],
        "provider_id is {actual} but capacity.parquet gives the site to provider {expected}",
    )
    f.require(
        check,
        table,
        keys,
        c["end_day"].to_numpy() > c["start_day"].to_numpy(),
        c["start_day"],
        c["end_day"],
        "ends on day {actual}, not after its start (day {expected})",
    )
    f.require(
        check, table, keys, c["gpus"].to_numpy() > 0, 0, c["gpus"], "{actual} GPUs, not positive"
    )


def margin_defaults(run: Run, f: Findings) -> None:
    """A margin default names a participant by its account number (buyers, then providers,
    then market makers) and a positive shortfall."""
    d = run["margin_defaults"]
    n_b = run["agents"].groupby("replication").size()
    n_p = run["providers"].groupby("replication").size()
    rep = d["replication"]
    nb = n_b.reindex(rep).fillna(0).to_numpy()
    npv = n_p.reindex(rep).fillna(0).to_numpy()
    who = d["participant"].to_numpy()
    kind = np.where(who < nb, "buyer", np.where(who < nb + npv, "provider", "market_maker"))
    keys = d[["replication", "participant"]]
    f.require(
        "margin_defaults",
        "margin_defaults",
        keys,
        kind == d["kind"].to_numpy(),
        kind,
        d["kind"],
        "kind is {actual} but the participant number is a {expected}'s",
    )
    f.require(
        "margin_defaults",
        "margin_defaults",
        keys,
        d["shortfall"].to_numpy() > 0,
        0,
        d["shortfall"],
        "shortfall {actual} is not positive",
    )


def pool_runs(run: Run, f: Findings) -> None:
    """A run in a contract pool runs at a site where its owner holds a contract, live when the
    run starts, of at least the run's GPUs."""
    j, c = run["jobs"], run["contracts"]
    eps = 1e-9
    pool = j[(j["channel"] == "contract") & j["start_day"].notna()]
    if pool.empty:
        return
    held = pool[["replication", "job_id", "agent_id", "site", "gpus", "start_day"]].merge(
        c[["replication", "holder_id", "site", "gpus", "start_day", "end_day"]],
        left_on=["replication", "agent_id", "site"],
        right_on=["replication", "holder_id", "site"],
        how="left",
        suffixes=("", "_contract"),
    )
    covers = (
        (held["start_day_contract"] <= held["start_day"] + eps)
        & (held["start_day"] < held["end_day"] - eps)
        & (held["gpus_contract"] >= held["gpus"] - GPUS.absolute)
    )
    ok = covers.groupby([held["replication"], held["job_id"]]).any()
    keys = pool[["replication", "job_id", "agent_id"]]
    found = ok.reindex(pd.MultiIndex.from_frame(pool[["replication", "job_id"]])).to_numpy()
    f.require(
        "pool_runs",
        "jobs",
        keys,
        found.astype(bool),
        "a contract of its owner at its site",
        pool["site"],
        "a run in a contract pool at site {actual} without {expected} live at its start",
    )
