"""Sweep benchmarks: speed-up of 2 workers over 1, and the per-run overhead of each executor.

    python benchmarks/bench_sweep.py [--points 16] [--overhead-runs 300]

1. A Latin-hypercube sweep of the simulator on ``scenarios/tiny.yaml`` (``--points`` points, one
   replication each), run in-process and on a pool of 2 worker processes. Reported twice: end to
   end (pool start-up and imports included) and warm (workers started and the simulator imported
   before the clock starts). Falls back to a CPU-bound analytic model when ``sim.runner`` is not
   there, and says so.
2. The cost per run of going through an executor: ``--overhead-runs`` runs of the Ishigami function
   (microseconds of work each), in-process, on a warm process pool of one worker and on a warm
   Dask ``LocalCluster`` of one worker; the difference to in-process, divided by the runs, is the
   overhead each run pays (file writes included in all three).

Timings are wall-clock on this machine and vary with its load; results are checked to be equal.
As a yardstick, part 1 also prints how much more work two busy processes get done than one on
this machine at that moment: the most a 2-worker sweep can gain.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.sweep.analytic import BusyModel, ishigami  # noqa: E402
from sim.sweep.engine import sweep  # noqa: E402
from sim.sweep.executor import ExecutorConfig, open_executor  # noqa: E402
from sim.sweep.parameters import Parameter  # noqa: E402
from sim.sweep.spec import SweepSpec  # noqa: E402


def warm_up() -> int:
    """Run in each worker before timing: import what a simulator run imports."""
    try:
        import sim.runner  # noqa: F401
    except ImportError:
        pass
    time.sleep(0.5)  # keep this worker busy so that the other one takes the next warm-up
    return os.getpid()


def simulator_spec(points: int) -> tuple[SweepSpec, Callable, str]:
    try:
        import sim.runner  # noqa: F401
        from sim.loader import load_raw, validate
        from sim.sweep.model import SimulatorModel
        from sim.sweep.parameters import materialize_distributions, parse_parameters
    except ImportError:
        params = (Parameter("a", 0.0, 1.0), Parameter("b", 0.0, 1.0))
        spec = SweepSpec(params, "lhs", points, 1, root_seed=1)
        return spec, BusyModel(work=3_000_000), "analytic stand-in (sim.runner not available)"
    path = ROOT / "scenarios" / "tiny.yaml"
    raw = load_raw(path)
    scenario = validate(raw, str(path))
    vary = ["buyers.startups.count=10:40", "providers.hyperscalers.gpus_per_site=200:600"]
    params = parse_parameters(vary, scenario)
    raw = materialize_distributions(raw, scenario, params)
    spec = SweepSpec(tuple(params), "lhs", points, 1, scenario.seed, raw, str(path), "tiny")
    return spec, SimulatorModel(raw, str(path)), "simulator, scenarios/tiny.yaml"


def timed_sweep(spec: SweepSpec, model: Callable, executor: Executor | None, out: Path):
    start = time.perf_counter()
    result = sweep(spec, model, out, executor=executor)
    elapsed = time.perf_counter() - start
    for failure in result.failures:
        print(f"   run failed: point {failure['point']}: {failure['error']}")
    return elapsed, result.table


def spin(n: int) -> float:
    """Pure-Python busy loop; returns its wall time."""
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - start


def capacity(n: int = 8_000_000) -> float:
    """Throughput of 2 processes over 1 on a busy loop: the most any 2-worker sweep can gain here."""
    with open_executor(ExecutorConfig("local", workers=2)) as pool:
        warm(pool, 2)
        start = time.perf_counter()
        pool.submit(spin, n).result()
        pool.submit(spin, n).result()
        one = time.perf_counter() - start
        start = time.perf_counter()
        for fut in [pool.submit(spin, n) for _ in range(2)]:
            fut.result()
        two = time.perf_counter() - start
    return one / two


def same(a, b, name_a: str, name_b: str) -> None:
    """Stop with the differences if two executors gave different tables."""
    if a.equals(b):
        return
    if a.shape != b.shape:
        raise SystemExit(f"tables differ: {name_a} {a.shape} vs {name_b} {b.shape}")
    cols = [c for c in a.columns if not a[c].equals(b[c])]
    raise SystemExit(f"tables differ between {name_a} and {name_b} in {cols}")


def warm(executor: Executor, workers: int) -> None:
    futures = [executor.submit(warm_up) for _ in range(workers)]
    for fut in futures:
        fut.result()


def speedup(points: int, tmp: Path) -> None:
    spec, model, what = simulator_spec(points)
    print(f"1. speed-up of 2 workers over 1: {points} points x 1 replication, {what}")
    t1, table1 = timed_sweep(spec, model, None, tmp / "one")
    start = time.perf_counter()
    with open_executor(ExecutorConfig("local", workers=2)) as pool:
        t_cold, table2 = timed_sweep(spec, model, pool, tmp / "two-cold")
    t_cold_total = time.perf_counter() - start
    with open_executor(ExecutorConfig("local", workers=2)) as pool:
        warm(pool, 2)
        t_warm, table3 = timed_sweep(spec, model, pool, tmp / "two-warm")
    same(table1, table2, "in-process", "cold pool")
    same(table1, table3, "in-process", "warm pool")
    print(f"   1 worker (in-process)          {t1:7.2f} s   {t1 / points:6.3f} s/run")
    print(
        f"   2 workers, end to end          {t_cold_total:7.2f} s   "
        f"speed-up {t1 / t_cold_total:4.2f}x"
    )
    print(f"   2 workers, warm                {t_warm:7.2f} s   speed-up {t1 / t_warm:4.2f}x")
    print(f"   (this machine: 2 busy processes do {capacity():.2f}x the work of 1)")


def overhead(runs: int, tmp: Path) -> None:
    params = tuple(Parameter(f"x{i}", -math.pi, math.pi) for i in (1, 2, 3))
    spec = SweepSpec(params, "lhs", runs, 1, root_seed=1)
    print(f"2. overhead per run: {runs} runs of the Ishigami function (no real work)")
    t0, base = timed_sweep(spec, ishigami, None, tmp / "inproc")
    with open_executor(ExecutorConfig("local", workers=2)) as pool:
        warm(pool, 2)
        t_pool, pool_table = timed_sweep(spec, ishigami, pool, tmp / "pool")
    with open_executor(ExecutorConfig("dask", workers=1)) as client:
        warm(client, 1)
        t_dask, dask_table = timed_sweep(spec, ishigami, client, tmp / "dask")
    same(base, pool_table, "in-process", "pool")
    same(base, dask_table, "in-process", "dask")
    print(f"   in-process                     {1e3 * t0 / runs:7.2f} ms/run (writes included)")
    extra_pool = 1e3 * (t_pool - t0) / runs
    extra_dask = 1e3 * (t_dask - t0) / runs
    print(
        f"   process pool (2 workers)       {1e3 * t_pool / runs:7.2f} ms/run (+{extra_pool:.2f})"
    )
    print(
        f"   dask LocalCluster (1 worker)   {1e3 * t_dask / runs:7.2f} ms/run (+{extra_dask:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=16)
    parser.add_argument("--overhead-runs", type=int, default=300)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        speedup(args.points, Path(tmp))
        overhead(args.overhead_runs, Path(tmp))


if __name__ == "__main__":
    main()
