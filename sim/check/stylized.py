"""A stylized market (``stylized:`` in the scenario) replaces the agent world: no money moves
between accounts and no GPUs are scheduled, so the ledger and capacity checks do not apply.
What can be audited is that its two tables and its summary tell the same story: the price is
the inverse demand at the quantity sold, each firm's profit is its margin on its output, forward
positions are the sums of the rounds' sales, and every ``stylized.*`` figure follows."""

from __future__ import annotations

import pandas as pd

from sim.check.base import GPUS, RATIO, Findings, Run
from sim.check.headline import compare_metrics, summary_spread

REQUIRED = ("stylized.spot_price", "stylized.markup", "stylized.total_quantity")


def check_stylized(run: Run, f: Findings) -> None:
    summary_spread(run, f)
    spec = run.scenario.get("stylized") or {}
    a = float(spec.get("demand_intercept", float("nan")))
    b = float(spec.get("demand_slope", float("nan")))
    c = float(spec.get("marginal_cost", float("nan")))
    n = int(spec.get("firms", 0))
    rounds_n = int(spec.get("forward_rounds", 0))
    rounds, firms = run["rounds"], run["firms"]
    for rep in run.replications:
        fr = firms[firms["replication"] == rep].sort_values("firm")
        rr = rounds[rounds["replication"] == rep].sort_values(["firm", "round"])
        f.compare(
            "stylized",
            "firms",
            pd.DataFrame({"replication": [rep]}),
            [n],
            [len(fr)],
            "firms",
            "the scenario's stylized.firms",
            tol=RATIO,
        )
        f.compare(
            "stylized",
            "rounds",
            pd.DataFrame({"replication": [rep]}),
            [n * rounds_n],
            [len(rr)],
            "rows",
            "firms x forward rounds",
            tol=RATIO,
        )
        cum = rr.groupby("firm")["forward_sales"].cumsum()
        f.compare(
            "stylized",
            "rounds",
            rr[["replication", "round", "firm"]],
            cum,
            rr["position_after"],
            "position_after",
            "the running sum of forward_sales",
            tol=GPUS,
        )
        final = rr.groupby("firm")["forward_sales"].sum().reindex(fr["firm"]).fillna(0.0)
        f.compare(
            "stylized",
            "firms",
            fr[["replication", "firm"]],
            final,
            fr["forward_position"],
            "forward_position",
            "the sum of the firm's forward sales in rounds.parquet",
            tol=GPUS,
        )
        total = float(fr["spot_quantity"].sum())
        price = a - b * total
        f.compare(
            "stylized",
            "firms",
            fr[["replication", "firm"]],
            (price - c) * fr["spot_quantity"],
            fr["profit"],
            "profit",
            "(price - marginal cost) x spot_quantity",
            tol=RATIO,
        )
        markup = price - c
        competitive = (a - c) / b if b else float("nan")
        position = float(fr["forward_position"].sum())
        mine = {
            "stylized.spot_price": price,
            "stylized.markup": markup,
            "stylized.markup_cournot": (a - c) / (n + 1),
            "stylized.lerner_index": markup / price if price else float("nan"),
            "stylized.total_quantity": total,
            "stylized.competitive_quantity": competitive,
            "stylized.forward_share": position / total if total > 0 else float("nan"),
            "stylized.profit_per_firm": float(fr["profit"].mean()) if len(fr) else float("nan"),
            "stylized.consumer_surplus": b * total**2 / 2,
            "stylized.deadweight_loss": b * (competitive - total) ** 2 / 2,
        }
        closed = (run.summary["metrics"].get("stylized.markup_closed_form") or {}).get("values")
        if closed and rep < len(closed) and closed[rep] is not None:
            mine["stylized.markup_gap"] = markup / float(closed[rep]) - 1
        compare_metrics(run, f, rep, mine, REQUIRED)
