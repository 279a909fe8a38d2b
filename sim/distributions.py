"""Parameter distributions that scenario files use to describe heterogeneous populations.

A field that takes a distribution accepts either a plain number (every agent gets that value) or a
mapping with a ``dist`` key. Sampling is vectorized: one call draws the whole population.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Constant(_Dist):
    """Every agent gets ``value``."""

    dist: Literal["constant"] = "constant"
    value: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value, dtype=float)

    @property
    def mean(self) -> float:
        return self.value


class Uniform(_Dist):
    """Uniform between ``low`` and ``high``."""

    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)

    @property
    def mean(self) -> float:
        return 0.5 * (self.low + self.high)


class LogNormal(_Dist):
    """Log-normal given by its median and the s.d. of the log; optionally clipped to [low, high].

    Run sizes and budgets are right-skewed: the calibration gives medians and upper percentiles,
    which map directly to ``median`` and ``sigma`` (p90 = median * exp(1.2816 * sigma)).
    """

    dist: Literal["lognormal"]
    median: float = Field(gt=0)
    # at most 5: the 90th percentile is then 600 times the median, wider than any size or budget
    # in the calibration, and the mean (median * exp(sigma**2 / 2)) stays finite
    sigma: float = Field(ge=0, le=5)
    low: float | None = None
    high: float | None = None

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        x = self.median * np.exp(self.sigma * rng.standard_normal(size))
        if self.low is not None or self.high is not None:
            x = np.clip(x, self.low, self.high)
        return x

    @property
    def mean(self) -> float:
        return self.median * float(np.exp(0.5 * self.sigma**2))


class Choice(_Dist):
    """One of ``values`` with probabilities ``weights`` (normalised)."""

    dist: Literal["choice"]
    values: list[float] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Choice:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError("weights must have as many entries as values")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be >= 0 and not all zero")
        return self

    def _p(self) -> np.ndarray | None:
        if self.weights is None:
            return None
        w = np.asarray(self.weights, dtype=float)
        return w / w.sum()

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), size=size, p=self._p())

    @property
    def mean(self) -> float:
        p = self._p()
        v = np.asarray(self.values, dtype=float)
        return float(v.mean() if p is None else v @ p)


def _as_constant(v: object) -> object:
    """A plain number means a constant; so does a numeric string such as ``2.0e7``, which
    YAML 1.1 (PyYAML) reads as a string when the exponent has no sign."""
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return v
    if isinstance(v, int | float) and not isinstance(v, bool):
        return {"dist": "constant", "value": float(v)}
    return v


DistSpec = Annotated[
    Constant | Uniform | LogNormal | Choice,
    Field(discriminator="dist"),
]
