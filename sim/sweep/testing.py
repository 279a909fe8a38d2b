"""Model functions that misbehave on purpose, for testing the engine's failure and resume paths.

They live in the package (not under tests/) so that worker processes can import them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from sim.sweep.analytic import NoisyIshigami


@dataclass(frozen=True)
class FailOnPoints:
    """Noisy Ishigami that raises ``ValueError`` at the given points."""

    points: frozenset[int]
    inner: NoisyIshigami = field(default_factory=NoisyIshigami)

    def __call__(
        self, params: dict[str, float], seed: np.random.SeedSequence, replication: int
    ) -> dict[str, float]:
        point = int(seed.spawn_key[0])
        if point in self.points:
            raise ValueError(f"planted failure at point {point}")
        return self.inner(params, seed, replication)


@dataclass
class CountingModel:
    """Noisy Ishigami that records every (point, replication) it runs; in-process use only.

    After ``stop_after`` runs it raises ``KeyboardInterrupt``, as a user pressing Ctrl-C would.
    """

    stop_after: int | None = None
    calls: list[tuple[int, int]] = field(default_factory=list)
    inner: NoisyIshigami = field(default_factory=NoisyIshigami)

    def __call__(
        self, params: dict[str, float], seed: np.random.SeedSequence, replication: int
    ) -> dict[str, float]:
        if self.stop_after is not None and len(self.calls) >= self.stop_after:
            raise KeyboardInterrupt
        self.calls.append((int(seed.spawn_key[0]), replication))
        return self.inner(params, seed, replication)


@dataclass(frozen=True)
class DieAfter:
    """Noisy Ishigami whose process dies (``os._exit``) once ``count_file`` lists ``n`` runs."""

    count_file: str
    n: int
    inner: NoisyIshigami = field(default_factory=NoisyIshigami)

    def __call__(
        self, params: dict[str, float], seed: np.random.SeedSequence, replication: int
    ) -> dict[str, float]:
        with open(self.count_file, "a+", encoding="utf-8") as fh:
            fh.seek(0)
            done = len(fh.read().splitlines())
            if done >= self.n:
                os._exit(9)
            fh.write(f"{seed.spawn_key[0]} {replication}\n")
        return self.inner(params, seed, replication)
