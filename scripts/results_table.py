"""Print the README's results table (markdown) from the run folders written by results.sh.

    python scripts/results_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "results"
RUNS = [
    "baseline",
    "spot-only",
    "spot-resale",
    "plan-strategic",
    "forward-physical",
    "plan",
    "public-spread",
    "public-concentrated",
    "public-plan-contracts",
    "public-forwards",
]
ROWS = [
    ("served_share.startups", "startups: share of needed GPU-hours served", "{:.2f}"),
    ("served_share.academics", "academics: share of needed GPU-hours served", "{:.3f}"),
    ("large_run_completion.startups", "startups: runs >= 64 GPUs started", "{:.2f}"),
    ("large_run_completion.academics", "academics: runs >= 64 GPUs started", "{:.3f}"),
    ("price_paid.startups", "startups: average price paid, $/GPU-h", "{:.2f}"),
    ("price_paid.academics", "academics: average price paid, $/GPU-h", "{:.2f}"),
    ("spot_price.mean", "spot price, $/GPU-h", "{:.2f}"),
    ("forward_price.mean", "forward price, $/GPU-h", "{:.2f}"),
    ("forward_spot_gap", "forward basis at the last session, share of the index", "{:.2f}"),
    ("market_makers.pnl", "market makers' P&L, $M over 3 years", "{:.0f}"),
    ("public_programme.cost", "public programme: cost of its compute, $M over 3 years", "{:.0f}"),
    ("utilization.mean", "utilization", "{:.2f}"),
    ("provider_profit.total", "provider profit, $bn over 3 years", "{:.2f}"),
    ("startup_failure_share", "startups failed", "{:.2f}"),
]


def cell(metric: dict | None, fmt: str, scale: float) -> str:
    if metric is None or metric["mean"] is None:
        return "-"
    lo, hi = (x / scale for x in metric["ci95"])
    return f"{fmt.format(metric['mean'] / scale)} [{fmt.format(lo)}, {fmt.format(hi)}]"


def main() -> None:
    summaries = {r: json.loads((RESULTS / r / "summary.json").read_text())["metrics"] for r in RUNS}
    print("| metric | " + " | ".join(RUNS) + " |")
    print("|---" * (len(RUNS) + 1) + "|")
    for key, label, fmt in ROWS:
        scale = {"provider_profit.total": 1e9, "market_makers.pnl": 1e6}.get(key, 1.0)
        scale = 1e6 if key == "public_programme.cost" else scale
        cells = [cell(summaries[r].get(key), fmt, scale) for r in RUNS]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
