"""The capacity ledger: GPUs installed, contracted and in use, per site and period.

Every reservation goes through ``reserve``, which refuses to oversell; contracts and on-demand use
are kept apart because a contract holds capacity whether or not its holder uses it.
"""

from __future__ import annotations

import numpy as np


class OversoldError(RuntimeError):
    """A reservation would have put more GPUs to use than a site has in some period."""


class CapacityLedger:
    """Per-site, per-period capacity (GPUs). Periods run from 0 to ``periods - 1``."""

    def __init__(self, capacity: np.ndarray, periods: int):
        cap = np.asarray(capacity, dtype=float)
        if np.any(cap < 0):
            raise ValueError("capacity must be >= 0")
        self.periods = periods
        self.capacity = np.repeat(cap[:, None], periods, axis=1)
        self.contracted = np.zeros_like(self.capacity)
        self.in_use = np.zeros_like(self.capacity)
        self._free = self.capacity.copy()  # capacity - contracted - in_use, kept in step
        self.tol = 1e-6

    @property
    def sites(self) -> int:
        return self.capacity.shape[0]

    def free(self, t: int, width: int) -> np.ndarray:
        """Free GPUs per site over ``[t, t + width)``; periods past the ledger end count as 0.

        Returns a read-only view when the window lies inside the ledger (no copy)."""
        end = min(t + width, self.periods)
        if end - t == width:
            view = self._free[:, t:end]
            view.flags.writeable = False
            return view
        out = np.zeros((self.sites, width))
        out[:, : end - t] = self._free[:, t:end]
        return out

    def free_in(self, t: int, sites: np.ndarray) -> np.ndarray:
        """Free GPUs at ``sites`` in period ``t`` (0 past the ledger end): a copy of
        ``free(t, 1)[sites, 0]``."""
        if t >= self.periods:
            return np.zeros(len(sites))
        return self._free[sites, t]

    def idle(self, t: int, width: int) -> np.ndarray:
        """GPUs per site free in every period of ``[t, t + width)`` (>= 0): what a seller can
        offer for the whole window."""
        if width == 1 and t < self.periods:
            return np.maximum(self._free[:, t], 0.0)
        return np.maximum(self.free(t, width).min(axis=1), 0.0)

    def reserve(self, sites, starts, durations, gpus, *, contract: bool) -> None:
        """Book ``gpus`` at ``sites`` for ``[start, start + duration)``, all-or-nothing."""
        window = self._window(sites, starts, durations, gpus)
        if window is None:
            return
        lo, hi, delta = window
        self._book(lo, hi, delta, contract)

    def reserve_per_site(self, t: int, width: int, gpus: np.ndarray, *, contract: bool) -> None:
        """Book ``gpus`` [site] at every site for ``[t, t + width)``: ``reserve`` with one window
        shared by all bookings (the same checks and arithmetic, without building the block)."""
        lo, hi = min(max(t, 0), self.periods), min(max(t + width, 0), self.periods)
        if hi <= lo:
            return
        if hi - lo == 1:  # one period: the same on columns
            self._reserve_column(lo, gpus, contract)
            return
        self._book(lo, hi, gpus[:, None], contract)

    def _book(self, lo: int, hi: int, delta: np.ndarray, contract: bool) -> None:
        """Add ``delta`` [site, period] over ``[lo, hi)``; raise before booking if any added
        GPU would oversell a site-period."""
        target = self.contracted if contract else self.in_use
        after = self.capacity[:, lo:hi] - self.contracted[:, lo:hi] - self.in_use[:, lo:hi] - delta
        if after.min() < -self.tol:
            bad = (delta > 0) & (after < -self.tol)
            if bad.any():
                s, p = np.argwhere(bad)[0]
                raise OversoldError(
                    f"site {s} period {lo + p} would be oversold by {-after[s, p]:.3f} GPUs"
                )
        target[:, lo:hi] += delta
        self._free[:, lo:hi] = after

    def _reserve_column(self, t: int, gpus: np.ndarray, contract: bool) -> None:
        target = self.contracted if contract else self.in_use
        after = self._free[:, t] - gpus
        if np.minimum.reduce(after) < -self.tol:
            bad = (gpus > 0) & (after < -self.tol)
            if bad.any():
                s = int(np.flatnonzero(bad)[0])
                raise OversoldError(
                    f"site {s} period {t} would be oversold by {-after[s]:.3f} GPUs"
                )
        target[:, t] += gpus
        self._free[:, t] = after

    def release(self, sites, starts, durations, gpus, *, contract: bool) -> None:
        """Give back part of a reservation (a defaulted contract's remaining term)."""
        window = self._window(sites, starts, durations, gpus)
        if window is None:
            return
        lo, hi, delta = window
        target = self.contracted if contract else self.in_use
        target[:, lo:hi] -= delta
        np.maximum(target[:, lo:hi], 0.0, out=target[:, lo:hi])
        self._refresh(lo, hi)

    def use_now(self, t: int, gpus_per_site: np.ndarray) -> None:
        """Book ``gpus_per_site`` for period ``t`` only (short jobs served from idle capacity)."""
        if np.any(gpus_per_site - self._free[:, t] > self.tol):
            s = int(np.argmax(gpus_per_site - self._free[:, t]))
            raise OversoldError(f"site {s} period {t} would be oversold")
        self.in_use[:, t] += gpus_per_site
        self._free[:, t] -= gpus_per_site

    def add_capacity(self, site: int, start: int, gpus: float, end: int | None = None) -> None:
        end = self.periods if end is None else min(end, self.periods)
        if start < end:
            self.capacity[site, start:end] += gpus
            self._free[site, start:end] += gpus

    def cut_uncommitted(self, sites: np.ndarray, start: int, end: int, share: float) -> np.ndarray:
        """Remove up to ``share`` of capacity in ``[start, end)``, never below what is committed.

        Committed reservations are honoured (a provider moves them to surviving machines), so a
        cut first takes idle and not-yet-sold capacity. Returns GPU-periods removed per site.
        """
        end = min(end, self.periods)
        if start >= end:
            return np.zeros(len(sites))
        cap = self.capacity[sites, start:end]
        committed = self.contracted[sites, start:end] + self.in_use[sites, start:end]
        cut = np.minimum(share * cap, np.maximum(cap - committed, 0.0))
        self.capacity[sites, start:end] = cap - cut
        self._refresh(start, end)
        return cut.sum(axis=1)

    def _refresh(self, lo: int, hi: int) -> None:
        self._free[:, lo:hi] = (
            self.capacity[:, lo:hi] - self.contracted[:, lo:hi] - self.in_use[:, lo:hi]
        )

    def _window(self, sites, starts, durations, gpus):
        """Bookings as a dense [site, period] block over the smallest window that holds them.

        When every booking shares one window (a spot sale, an on-demand slot) the block is one
        column of per-site totals broadcast over the window, which is what the general
        difference-and-cumulative-sum gives, without building it."""
        if isinstance(starts, int | np.integer) and isinstance(durations, int | np.integer):
            sites = np.asarray(sites).reshape(-1)
            if sites.size == 0:
                return None
            lo = min(max(int(starts), 0), self.periods)
            hi = min(max(int(starts + durations), 0), self.periods)
            if hi <= lo:
                return None
            gpus = np.asarray(gpus, dtype=float)
            if gpus.ndim == 0:
                gpus = np.full(sites.size, float(gpus))
            per_site = np.bincount(sites.astype(np.int64, copy=False), gpus, self.sites)
            return lo, hi, per_site[:, None]
        sites, starts, durations, gpus = (
            np.atleast_1d(np.asarray(a)) for a in (sites, starts, durations, gpus)
        )
        if sites.size == 0:
            return None
        s0 = np.minimum(np.maximum(starts, 0), self.periods).astype(np.int64)
        s1 = np.minimum(np.maximum(starts + durations, 0), self.periods).astype(np.int64)
        lo, hi = int(s0.min()), int(s1.max())
        if hi <= lo:
            return None
        diff = np.zeros((self.sites, hi - lo + 1))
        np.add.at(diff, (sites.astype(np.int64), s0 - lo), gpus)
        np.add.at(diff, (sites.astype(np.int64), s1 - lo), -np.asarray(gpus, dtype=float))
        return lo, hi, np.cumsum(diff, axis=1)[:, : hi - lo]

    def check(self) -> None:
        """Raise if any site-period is oversold (used in tests and at the end of every run)."""
        over = self.contracted + self.in_use - self.capacity
        if np.any(over > self.tol):
            s, p = np.unravel_index(np.argmax(over), over.shape)
            raise OversoldError(f"site {s} period {p} oversold by {over[s, p]:.3f} GPUs")
