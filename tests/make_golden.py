"""Regenerate tests/expected/golden.json, the fixed-seed reference the world must reproduce:

python tests/make_golden.py [--tables DIR]

It holds, for ``tiny``, ``baseline`` and ``plan`` at a fixed seed, every replication's summary
values and the row count of every table. Regenerate it only for an intended model change, and
name that change (and its effect on these figures) in the commit.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from sim.loader import load_scenario
from sim.runner import run_replications

HERE = Path(__file__).parent
SCENARIOS = HERE.parent / "scenarios"
GOLDEN = HERE / "expected" / "golden.json"
# scenario -> replications; one root seed for all of them
CASES = {"tiny": 2, "baseline": 1, "plan": 1}
SEED = 11
# time series added since the figures were stored (new rows, not changed ones)
ADDED_METRICS = ("spot_volume",)


def golden_case(name: str, replications: int, tables_dir: Path | None = None) -> dict:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml", {"seed": SEED})
    results = run_replications(scenario, replications)
    if tables_dir is not None:
        import pandas as pd

        out = tables_dir / name
        out.mkdir(parents=True, exist_ok=True)
        for table in results[0].tables:
            frames = [r.tables[table] for r in results]
            pd.concat(frames, ignore_index=True).to_parquet(out / f"{table}.parquet")
    return {
        "seed": SEED,
        "replications": replications,
        "summary": {
            str(r.replication): {k: (None if math.isnan(v) else v) for k, v in r.summary.items()}
            for r in results
        },
        "rows": {table: sum(_rows(r.tables, table) for r in results) for table in results[0].tables},
    }


def _rows(tables: dict, name: str) -> int:
    table = tables[name]
    if name == "timeseries":
        return int((~table["metric"].isin(ADDED_METRICS)).sum())
    return len(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=Path, help="also write each case's tables here")
    args = parser.parse_args()
    golden = {name: golden_case(name, n, args.tables) for name, n in CASES.items()}
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print("wrote", GOLDEN)


if __name__ == "__main__":
    main()
