"""Conversion between simulated periods, hours and days."""

from __future__ import annotations

from dataclasses import dataclass

from sim.schema import Time

DAYS_PER_YEAR = 365.0
DAYS_PER_MONTH = DAYS_PER_YEAR / 12


@dataclass(frozen=True)
class Calendar:
    hours_per_period: int
    horizon: int  # periods simulated

    @classmethod
    def from_time(cls, time: Time) -> Calendar:
        hours = 1 if time.step == "hour" else 24
        return cls(hours, max(1, round(time.horizon_years * DAYS_PER_YEAR * 24 / hours)))

    @property
    def periods_per_day(self) -> float:
        return 24 / self.hours_per_period

    def periods(self, days: float) -> int:
        """Whole periods in ``days`` (at least one)."""
        return max(1, round(days * self.periods_per_day))

    def periods_for_hours(self, hours):
        """Periods needed to cover ``hours`` (array-friendly, at least one)."""
        import numpy as np

        return np.maximum(1, np.ceil(np.asarray(hours) / self.hours_per_period)).astype(np.int64)

    def day(self, period) -> float:
        return period / self.periods_per_day
