"""Running replications of a scenario: the function sweeps and ``sim run`` both call."""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.recorder import Recorder
from sim.schema import Scenario
from sim.seeding import replication_seed
from sim.stylized import run_stylized
from sim.summary import replication_summary
from sim.world import World


@dataclass
class ReplicationResult:
    replication: int
    summary: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(repr=False)
    seconds: float = 0.0
    seed_entropy: int = 0
    spawn_key: tuple = ()


def run_replication(
    scenario: Scenario, seed: np.random.SeedSequence | None = None, replication: int = 0
) -> ReplicationResult:
    """Simulate one replication. ``seed`` defaults to the scenario's root seed, child ``replication``."""
    if seed is None:
        seed = replication_seed(scenario.seed, replication)
    start = time.perf_counter()
    if scenario.stylized is not None:
        summary, tables = run_stylized(scenario, replication)
    else:
        _, recorder = simulate(scenario, seed)
        tables = recorder.tables(replication)
        summary = replication_summary(tables, scenario.metrics.large_run_gpus)
    return ReplicationResult(
        replication=replication,
        summary=summary,
        tables=tables,
        seconds=time.perf_counter() - start,
        seed_entropy=int(seed.entropy),  # type: ignore[arg-type]  # a root seed is one int
        spawn_key=tuple(seed.spawn_key),
    )


def simulate(
    scenario: Scenario, seed: np.random.SeedSequence, world: World | None = None
) -> tuple[World, Recorder]:
    """Run one world (``world``, if given, built from ``scenario`` and ``seed``) with a recorder
    listening; returns both."""
    world = World(scenario, seed) if world is None else world
    recorder = Recorder(world.state)
    world.subscribe(recorder)
    world.run()
    return world, recorder


def _run_one(args: tuple[dict, int]) -> ReplicationResult:
    raw, replication = args
    return run_replication(Scenario.model_validate(raw), replication=replication)


def run_replications(
    scenario: Scenario,
    replications: int | None = None,
    executor: Executor | None = None,
    on_done=None,
) -> list[ReplicationResult]:
    """All replications, in order, in-process or on ``executor`` (results are identical)."""
    n = scenario.replications if replications is None else replications
    raw = scenario.model_dump(mode="json")
    jobs = [(raw, r) for r in range(n)]
    results: list[ReplicationResult] = []
    if executor is None:
        for job in jobs:
            results.append(_run_one(job))
            if on_done:
                on_done(results[-1])
        return results
    futures = [executor.submit(_run_one, job) for job in jobs]
    for fut in futures:
        results.append(fut.result())
        if on_done:
            on_done(results[-1])
    return results
