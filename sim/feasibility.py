"""Will a run fit in this machine's memory? An estimate from the scenario's sizes, and what the
machine has available.

``estimate_memory`` adds up what one replication holds at its peak: per buyer (about 30 float
arrays in ``Buyers``, the world, the recorder and the accounts), per training run (the columns of
``Runs`` in ``sim/demand.py``, drawn up front from the arrival rates, and their temporaries), per
period (the recorder's series, built into the tidy timeseries table at the end), per site and
period (the capacity ledger's four float64 arrays in ``sim/ledger.py`` and the tables' copies),
per forward-curve row; and what each replication hands back (its tables) until the run folder is
written. The constants were measured with ``ru_maxrss`` on worlds scaled along one size at a
time; the estimate is meant to be right within a factor of two, enough to refuse a scenario that
cannot run (10**12 buyers need terabytes) before it starts instead of failing after minutes.

``check_memory`` compares the estimate of a run (``workers`` replications at once, plus every
replication's tables) with ``available_memory`` and returns the problems, in the loader's format.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.calendar import DAYS_PER_MONTH, DAYS_PER_YEAR, Calendar
from sim.schema import Scenario

MiB = 2**20

PROCESS_BYTES = 200 * MiB  # a worker process with the package and its libraries imported
FIXED_BYTES = 16 * MiB  # one replication of a small world (simpy, clearing, pandas temporaries)
PER_BUYER = 950  # bytes: its arrays in the world, recorder and accounts (17 reasons x paid and
# received), its rows of the money ledger table, and temporaries
PER_BUYER_MARKETS = 150  # with a spot or forward market: order books and their arrays
PER_BUYER_TENOR = 16  # with a forward market: positions and collateral in each open window
PER_RUN = 330  # one training run: ~15 columns of ``Runs``, sorting copies, its row of jobs
PER_DRAW = 40  # one candidate arrival drawn before thinning (sim.demand._class_runs)
PER_PERIOD = 250  # the recorder's [period, class] arrays and per-period series, the profiles
PER_SERIES_PERIOD = 150  # one row of the tidy timeseries table while it is built
SERIES = 31  # series of the timeseries table (sim.recorder.Recorder.timeseries), 36 with spot
SPOT_SERIES = 5
PER_SITE_PERIOD = 120  # the ledger's 4 float64 [site, period] arrays, the capacity table
# (one row per site and period) and the tables' temporaries
PER_PROVIDER_PERIOD = 32  # the recorder's [period, provider] list prices and their slices
PER_CURVE_ROW = 500  # one forward-curve row (a tuple of floats) and its table row

# what one replication hands back to the run until its folder is written (its tables)
KEPT_PER_SERIES_PERIOD = 34
KEPT_PER_BUYER = 260  # its row of agents and rows of the money ledger
KEPT_PER_RUN = 90
KEPT_PER_CURVE_ROW = 100
KEPT_PER_SITE_PERIOD = 56  # a row of the capacity table
KEPT_PER_REPLICATION = 16 * 1024  # the summary and the bookkeeping of one replication
KEPT_COPIES = 2  # the replications' tables, then their concatenation

HINTS = {
    "buyers": "fewer buyers",
    "runs": "fewer training runs per buyer (runs_per_year)",
    "shocks": "a smaller demand_boom magnitude",
    "time": "a shorter time.horizon_years",
    "step": "a daily step (time.step: day)",
    "sites": "fewer providers or sites_per_provider",
    "forward": "fewer forward sessions or tenors (markets.forward.session_days, tenors)",
    "stylized": "fewer stylized.firms",
    "replications": "fewer replications",
    "workers": "fewer --workers",
}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one replication needs at its peak (``replication``, by ``terms``) and the bytes of
    tables it hands back (``tables``). Each term is keyed by the scenario field that drives it
    and carries the kind of change that lowers it (a key of ``HINTS``)."""

    replication: float
    tables: float
    terms: dict[str, tuple[float, str]] = field(default_factory=dict)

    def run(self, replications: int, workers: int = 1) -> float:
        """Bytes of a whole run: ``workers`` replications at once (each in its own process when
        there are several), and every replication's tables until the folder is written."""
        at_once = min(max(workers, 1), max(replications, 1))
        working = at_once * (self.replication + (PROCESS_BYTES if at_once > 1 else 0))
        return working + replications * (KEPT_COPIES * self.tables + KEPT_PER_REPLICATION)

    def largest(self) -> tuple[str, str]:
        """The field and the hint of the largest term."""
        path, (_, hint) = max(self.terms.items(), key=lambda kv: kv[1][0])
        return path, hint


def _big(x: float) -> float:
    """Sizes beyond any machine stay finite (and comparable) instead of overflowing."""
    return min(float(x), 1e30) if math.isfinite(x) else 1e30


def _boom(sc: Scenario, cls: str, horizon_days: float) -> tuple[float, float]:
    """Mean and peak over the horizon of the demand_boom multiplier of buyer class ``cls``."""
    shocks = [
        s
        for s in sc.shocks
        if s.kind == "demand_boom" and (not s.classes or cls in s.classes)
    ]
    if not shocks or horizon_days <= 0:
        return 1.0, 1.0
    cuts = {0.0, horizon_days}
    for s in shocks:
        cuts |= {min(max(s.start_day, 0.0), horizon_days)}
        cuts |= {min(max(s.start_day + s.duration_days, 0.0), horizon_days)}
    edges = sorted(cuts)
    total, peak = 0.0, 0.0
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        mid = 0.5 * (a + b)
        mult = 1.0
        for s in shocks:
            if s.start_day <= mid < s.start_day + s.duration_days:
                mult = _big(mult * s.magnitude)
        total += (b - a) * mult
        peak = max(peak, mult)
    return _big(total / horizon_days), peak


def _season_peak(sc: Scenario) -> float:
    """Peak of the academic season multiplier (mean 1; sim.demand.academic_season)."""
    ac = sc.buyers.academics
    day = np.arange(int(DAYS_PER_YEAR))
    peak = np.zeros(day.size, dtype=bool)
    for month in ac.conference_deadline_months:
        deadline = (month - 1) * DAYS_PER_MONTH + 14
        peak |= (deadline - day) % DAYS_PER_YEAR < ac.peak_weeks * 7
    factor = np.where(peak, ac.peak_factor, 1.0)
    return float(factor.max() / factor.mean())


def estimate_memory(sc: Scenario) -> MemoryEstimate:
    """Bytes of one replication of ``sc`` at its peak, and of the tables it returns."""
    if sc.stylized is not None:  # the backward induction holds a few firms x firms matrices
        n = _big(sc.stylized.firms)
        need = FIXED_BYTES + 8 * n * n * (8 + sc.stylized.forward_rounds)
        return MemoryEstimate(need, 0.0, {"stylized.firms": (need, "stylized")})
    cal = Calendar.from_time(sc.time)
    T = float(cal.horizon)
    days = T / cal.periods_per_day
    years = days / DAYS_PER_YEAR
    terms: dict[str, tuple[float, str]] = {}
    kept = 0.0

    def add(path: str, nbytes: float, hint: str) -> None:
        old = terms.get(path, (0.0, hint))[0]
        terms[path] = (_big(old + nbytes), hint)

    markets = sc.markets
    per_buyer: float = PER_BUYER
    fw = markets.forward
    fw_rows, tenors_open = 0.0, 0.0
    if fw.enabled:
        window = cal.periods(fw.window_days)
        tenors_open = min(fw.tenors, T // window + 1)
        fw_rows = math.ceil(T / cal.periods(fw.session_days)) * tenors_open
    if markets.spot.enabled or fw.enabled:
        per_buyer += PER_BUYER_MARKETS + PER_BUYER_TENOR * (tenors_open + 1)

    b = sc.buyers
    buyers = 0.0
    for name in ("frontier_labs", "startups", "academics"):
        spec = getattr(b, name)
        n = _big(spec.count)
        buyers += n
        add(f"buyers.{name}.count", n * per_buyer, "buyers")
        kept += n * KEPT_PER_BUYER
        rate = getattr(spec, "runs_per_year", 0.0)
        if not (n and rate):
            continue
        mean, peak = _boom(sc, name, days)
        if name == "academics":
            peak = _big(peak * _season_peak(sc))
        runs = _big(n * rate * years * mean)
        draws = _big(n * rate * years * peak)
        nbytes = runs * PER_RUN + draws * PER_DRAW
        kept += runs * KEPT_PER_RUN
        if peak > 100 and peak >= rate:  # a boom multiplies the arrivals
            add("shocks", nbytes, "shocks")
        elif rate * years > 1000:  # thousands of runs per buyer
            add(f"buyers.{name}.runs_per_year", nbytes, "runs")
        else:
            add(f"buyers.{name}.count", nbytes, "buyers")

    series = SERIES + (SPOT_SERIES if markets.spot.enabled else 0)
    hint = "step" if sc.time.step == "hour" else "time"
    add("time.horizon_years", T * (PER_PERIOD + series * PER_SERIES_PERIOD), hint)
    kept += T * series * KEPT_PER_SERIES_PERIOD

    providers = sites = 0.0
    field = "providers.neoclouds.count"
    most = -1.0
    for name in ("hyperscalers", "neoclouds"):
        pc = getattr(sc.providers, name)
        here = _big(pc.count) * _big(pc.sites_per_provider)
        providers += _big(pc.count)
        sites += here
        if here > most:
            most = here
            big = "sites_per_provider" if pc.sites_per_provider > pc.count else "count"
            field = f"providers.{name}.{big}"
    add(field, _big(T * (sites * PER_SITE_PERIOD + providers * PER_PROVIDER_PERIOD)), "sites")
    kept += _big(T * sites * KEPT_PER_SITE_PERIOD)

    if fw_rows:
        add("markets.forward.session_days", fw_rows * PER_CURVE_ROW, "forward")
        kept += fw_rows * KEPT_PER_CURVE_ROW
    makers = _big(sc.market_makers.count)
    add("market_makers.count", makers * per_buyer, "buyers")

    need = FIXED_BYTES + sum(v for v, _ in terms.values())
    return MemoryEstimate(_big(need), _big(kept), terms)


def available_memory() -> int | None:
    """Bytes this process can still allocate: ``MemAvailable`` of /proc/meminfo (else the free
    physical pages ``os.sysconf`` reports), lowered to a cgroup's remaining limit when a container
    sets one; None when none of them can be read."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError, AttributeError):
            pass
    for limit, usage in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            cap = Path(limit).read_text().strip()
            if cap != "max" and int(cap) < 2**60:
                found.append(max(int(cap) - int(Path(usage).read_text().strip()), 0))
        except (OSError, ValueError):
            pass
    return min(found) if found else None


def format_bytes(n: float) -> str:
    """``7.3 TiB``, ``512 MiB``."""
    if n >= 1e30:
        return "more than 10**30 bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def check_memory(
    sc: Scenario,
    source: str = "<scenario>",
    workers: int = 1,
    replications: int | None = None,
    available: int | None = None,
) -> list[str]:
    """One problem (in the loader's message format) when a run of ``sc`` with ``workers``
    worker processes needs more memory than is available, else none. ``available`` defaults to
    ``available_memory()``; with nothing to compare with, nothing is refused."""
    if available is None:
        available = available_memory()
    if available is None:
        return []
    reps = sc.replications if replications is None else replications
    est = estimate_memory(sc)
    need = est.run(reps, workers)
    if need <= available:
        return []
    path, hint = est.largest()
    if est.run(1, 1) <= available < est.run(reps, 1):  # the replications' tables add up
        path, hint = "replications", "replications"
    elif workers > 1 and est.run(reps, 1) <= available:  # one at a time would fit
        path, hint = "--workers", "workers"
    usual: tuple[str, ...] = ("buyers", "time", "step", "workers") if workers > 1 else ("buyers", "time", "step")
    if sc.time.step == "day" or sc.stylized is not None:
        usual = tuple(h for h in usual if h != "step")
    hints = [HINTS[hint]] + [HINTS[h] for h in usual if h != hint]
    run = f"{reps} replication{'s' if reps > 1 else ''}"
    if workers > 1:
        run += f" on {workers} workers"
    return [
        f"{source}: {path}: too large for this machine: one replication needs about "
        f"{format_bytes(est.replication)} of memory and the run ({run}) about "
        f"{format_bytes(need)}, but {format_bytes(available)} is available (allowed: at most "
        f"{format_bytes(available)}; lower it with {', '.join(hints[:-1])} or {hints[-1]})"
    ]
