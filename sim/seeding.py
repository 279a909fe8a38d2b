"""Seeds: one root SeedSequence per scenario, one child per replication, one grandchild per
component. Children are built from (entropy, spawn_key) rather than ``spawn()`` so that a seed is a
pure function of its position: replication 0 is the same whether 1 or 100 replications run, and
whichever worker process runs it."""

from __future__ import annotations

import numpy as np

COMPONENTS = ("sites", "buyers", "runs", "funding", "contracts", "markets")


def replication_seed(root_seed: int, replication: int, *prefix: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(root_seed, spawn_key=(*prefix, replication))


def component_rng(seed: np.random.SeedSequence, component: str) -> np.random.Generator:
    child = np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, COMPONENTS.index(component))
    )
    return np.random.default_rng(child)
