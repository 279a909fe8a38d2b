"""The sweep specification (what ``sweep.json`` holds) and the seed of every run.

Seeds. A sweep has one root ``numpy.random.SeedSequence(root_seed)``, where ``root_seed`` is the
scenario's ``seed``. Replication ``r`` of design point ``i`` runs with

    SeedSequence(entropy=root_seed, spawn_key=(i, r))

which is exactly ``SeedSequence(root_seed).spawn(i + 1)[i].spawn(r + 1)[r]``. It depends on
nothing but (root seed, i, r): not on the order runs finish, the number of workers or the
executor, so a sweep gives the same table on one core, many cores or a Dask cluster, and a
resumed sweep gives the same table as an uninterrupted one.

With ``common_random_numbers`` the key is ``(r,)`` instead: every point's replication ``r`` uses
the same stream, ``SeedSequence(root_seed).spawn(r + 1)[r]``, so differences between points
come from the parameters rather than from sampling noise (common random numbers). The design's
own sampler is seeded from the key ``(DESIGN_KEY,)``, apart from every run's stream.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sim.fingerprint import model_fingerprint
from sim.sweep.parameters import Parameter
from sim.sweep.worker import point_seed

METHODS = ("grid", "lhs", "sobol", "morris")
FORMAT_VERSION = 1
DESIGN_KEY = 2**32 - 1  # spawn key of the design sampler; no point index reaches it
ANALYSIS_KEY = 2**32 - 2  # spawn key of the bootstrap in the sensitivity analysis

__all__ = ["SweepSpec", "aux_rng", "point_seed", "spec_differences"]


def aux_rng(root_seed: int, key: int) -> np.random.Generator:
    """A generator for the sweep's own sampling (design, bootstrap), apart from every run."""
    return np.random.default_rng(np.random.SeedSequence(entropy=root_seed, spawn_key=(key,)))


@dataclass(frozen=True)
class SweepSpec:
    """Everything that determines a sweep's results; two sweeps with equal specs are the same."""

    parameters: tuple[Parameter, ...]
    method: str
    samples: int
    replications: int
    root_seed: int
    raw: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    scenario_name: str = "scenario"
    common_random_numbers: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    model_code: str = field(default_factory=model_fingerprint)

    def identity(self) -> dict[str, Any]:
        """The fields that decide the results (the source path is only a note)."""
        data = self.to_json()
        data.pop("source")
        return data

    def digest(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, default=float).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def sweep_id(self) -> str:
        return self.digest()[:10]

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "source": self.source,
            "scenario_name": self.scenario_name,
            "raw_scenario": self.raw,
            "parameters": [p.to_json() for p in self.parameters],
            "method": self.method,
            "samples": self.samples,
            "replications": self.replications,
            "root_seed": self.root_seed,
            "common_random_numbers": self.common_random_numbers,
            "options": dict(self.options),
            "model_code": self.model_code,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SweepSpec:
        return cls(
            parameters=tuple(Parameter.from_json(p) for p in data["parameters"]),
            method=data["method"],
            samples=int(data["samples"]),
            replications=int(data["replications"]),
            root_seed=int(data["root_seed"]),
            raw=data.get("raw_scenario", {}),
            source=data.get("source", ""),
            scenario_name=data.get("scenario_name", "scenario"),
            common_random_numbers=bool(data.get("common_random_numbers", False)),
            options=data.get("options", {}),
            model_code=data.get("model_code", ""),
        )

    def with_source(self, source: str) -> SweepSpec:
        return replace(self, source=source)

    @property
    def names(self) -> list[str]:
        return [p.path for p in self.parameters]


def spec_differences(old: SweepSpec, new: SweepSpec) -> list[str]:
    """Names of the top-level spec fields that differ (empty when the sweeps are the same)."""
    a, b = old.identity(), new.identity()
    a_norm = json.loads(json.dumps(a, sort_keys=True, default=float))
    b_norm = json.loads(json.dumps(b, sort_keys=True, default=float))
    return sorted(k for k in a_norm.keys() | b_norm.keys() if a_norm.get(k) != b_norm.get(k))
