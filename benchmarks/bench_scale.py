"""Wall time and peak memory of the baseline scenario as the population grows.

    python benchmarks/bench_scale.py            # all cases up to 100,000 agents
    python benchmarks/bench_scale.py --quick    # 1,000 and 10,000 agents only
    python benchmarks/bench_scale.py --plan-scale [--largest 1000000]
                                                # the plan at 10k, 100k and 1M agents

Each case runs one replication in a fresh process (so peak memory is that case's own).
Populations are scaled by a factor applied to every buyer count and to providers' capacity
(provider counts stay, so a 100x world has 100x the GPUs in the same nine providers).
Cases run ``--scenario`` (the baseline by default) unless they name their own; the plan cases
run ``scenarios/plan.yaml`` (spot with resale, forward market, market makers) with an hourly
spot auction, the most frequent clearing a scenario can ask for.
Goals on a 2-core machine: 1 simulated year of 1,000 agents at hourly steps in <= 5 s, for the
baseline and for the plan with hourly spot auctions; 100,000 agents over 3 years at daily steps
in <= 60 s and <= 2 GB; the plan, 3 years daily, at 1,000,000 agents in <= 300 s and <= 4 GB.
Agent-steps per second are agents x periods / simulated seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
from sim.loader import load_scenario
from sim.recorder import Recorder
from sim.world import World
from sim.seeding import replication_seed

factor, step, years = float(sys.argv[1]), sys.argv[2], float(sys.argv[3])
extra = json.loads(sys.argv[5])
base = load_scenario(sys.argv[4], extra)
b, p = base.buyers, base.providers
over = {
    "time.step": step,
    "time.horizon_years": years,
    "buyers.frontier_labs.count": max(1, round(b.frontier_labs.count * factor)),
    "buyers.startups.count": round(b.startups.count * factor),
    "buyers.academics.count": round(b.academics.count * factor),
    "providers.hyperscalers.gpus_per_site.median": p.hyperscalers.gpus_per_site.median * factor,
    "providers.neoclouds.gpus_per_site.median": p.neoclouds.gpus_per_site.median * factor,
    **extra,
}
sc = load_scenario(sys.argv[4], over)
t0 = time.perf_counter()
world = World(sc, replication_seed(sc.seed, 0))
recorder = Recorder(world.state)
world.subscribe(recorder)
t1 = time.perf_counter()
world.run()
t2 = time.perf_counter()
from sim.summary import replication_summary  # tables and summary are part of the cost
replication_summary(recorder.tables(0), sc.metrics.large_run_gpus)
t3 = time.perf_counter()
st = world.state
agents = len(st.buyers) + st.sites.providers
print(json.dumps({
    "agents": agents, "periods": st.cal.horizon, "runs": len(st.runs),
    "setup_s": t1 - t0, "simulate_s": t2 - t1, "tables_s": t3 - t2, "total_s": t3 - t0,
    "per_period_ms": 1000 * (t2 - t1) / st.cal.horizon,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""

PLAN = ROOT / "scenarios" / "plan.yaml"
HOURLY_SPOT = {"markets.spot.session_days": 1 / 24}

# label, population factor, step, years, goal (s), goal (MB), scenario (None: --scenario), overrides
CASES = [
    ("1k agents, 1 year hourly", 1, "hour", 1.0, 5.0, None, None, {}),
    ("plan, 1k agents, 1 year hourly, hourly spot", 1, "hour", 1.0, 5.0, None, PLAN, HOURLY_SPOT),
    ("1k agents, 3 years daily", 1, "day", 3.0, None, None, None, {}),
    ("10k agents, 3 years daily", 10, "day", 3.0, None, None, None, {}),
    ("100k agents, 3 years daily", 100, "day", 3.0, 60.0, 2048.0, None, {}),
]
PLAN_SCALE = [
    ("plan, 10k agents, 3 years daily", 10, "day", 3.0, None, None, PLAN, {}),
    ("plan, 100k agents, 3 years daily", 100, "day", 3.0, None, None, PLAN, {}),
    ("plan, 1M agents, 3 years daily", 1000, "day", 3.0, 300.0, 4096.0, PLAN, {}),
]


def run_case(factor: float, step: str, years: float, scenario: Path, extra: dict) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(factor),
            step,
            str(years),
            str(scenario),
            json.dumps(extra),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode != 0:
        sys.exit(f"case failed (factor {factor}, {step}, {years} years):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the 100,000-agent case")
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "baseline.yaml")
    ap.add_argument("--plan-scale", action="store_true", help="the plan at 10k, 100k, 1M agents")
    ap.add_argument("--largest", type=float, default=1000, help="largest factor (x 1,000 agents)")
    args = ap.parse_args()
    if args.plan_scale:
        cases = [c for c in PLAN_SCALE if c[1] <= args.largest]
    else:
        cases = [c for c in CASES if c[1] < 100] if args.quick else CASES
    w = max(30, max(len(c[0]) for c in cases) + 2)
    header = (
        f"{'case':<{w}}{'agents':>8}{'periods':>8}{'runs':>9}{'wall s':>9}{'ms/period':>10}"
        f"{'peak MB':>9}{'agent-steps/s':>14}  goal"
    )
    print(header, flush=True)
    for label, factor, step, years, goal_s, goal_mb, scenario, extra in cases:
        r = run_case(factor, step, years, scenario or args.scenario, extra)
        goal = []
        if goal_s is not None:
            goal.append(f"<= {goal_s:g} s: {'met' if r['total_s'] <= goal_s else 'NOT met'}")
        if goal_mb is not None:
            goal.append(f"<= {goal_mb:g} MB: {'met' if r['peak_mb'] <= goal_mb else 'NOT met'}")
        print(
            f"{label:<{w}}{r['agents']:>8}{r['periods']:>8}{r['runs']:>9}{r['total_s']:>9.2f}"
            f"{r['per_period_ms']:>10.3f}{r['peak_mb']:>9.0f}"
            f"{r['agents'] * r['periods'] / r['simulate_s']:>14.3g}  {'; '.join(goal)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
