"""The scenario schema: every parameter declared once, with type, unit, default, description and
the source of its default (a row of CALIBRATION.md where one exists).

The reference documentation in ``docs/scenario-reference.md`` is generated from these
declarations (``sim docs``), so it cannot drift from the code.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.distributions import Choice, Constant, DistSpec, LogNormal, Uniform, _as_constant, _Dist

Dist = Annotated[DistSpec, BeforeValidator(_as_constant)]


def param(default: Any, description: str, unit: str = "", source: str = "", **kw: Any) -> Any:
    """A scenario field with its documentation attached."""
    extra: dict[str, Any] = {"unit": unit, "source": source}
    if callable(default):
        return Field(
            default_factory=default, description=description, json_schema_extra=extra, **kw
        )
    return Field(default=default, description=description, json_schema_extra=extra, **kw)


def const(v: float) -> dict:
    return {"dist": "constant", "value": v}


def lognormal(median: float, sigma: float, low: float | None = None, high: float | None = None):
    d: dict[str, Any] = {"dist": "lognormal", "median": median, "sigma": sigma}
    if low is not None:
        d["low"] = low
    if high is not None:
        d["high"] = high
    return lambda: d


def dist_range(d: _Dist, practical: bool = False) -> tuple[float, float]:
    """Smallest and largest value ``d`` can draw. A log-normal's are 0 and inf unless clipped;
    with ``practical`` its largest is the median times exp(10 sigma), which a draw exceeds with
    probability 1e-23."""
    if isinstance(d, Constant):
        return d.value, d.value
    if isinstance(d, Uniform):
        return d.low, d.high
    if isinstance(d, Choice):
        return min(d.values), max(d.values)
    assert isinstance(d, LogNormal)
    lo = 0.0 if d.low is None else max(d.low, 0.0)
    hi = math.inf if d.high is None else d.high
    if practical:
        with np.errstate(over="ignore"):
            hi = min(hi, float(d.median * np.exp(10 * d.sigma)))
    if d.low is not None and d.high is not None and d.low > d.high:  # np.clip gives ``high``
        lo = hi
    return min(lo, hi), hi


def _dist_numbers(d: _Dist) -> list[float]:
    values = [getattr(d, k, None) for k in ("value", "low", "high", "median", "sigma")]
    values += list(getattr(d, "values", None) or []) + list(getattr(d, "weights", None) or [])
    return [v for v in values if v is not None]


# every distribution in a scenario draws a size, an amount of money, a price or a time: none may
# be negative, and runs have at least some GPUs and some hours
_POSITIVE_DISTS = {"run_gpus", "run_hours"}
# no amount, price or rate in a scenario comes near this; beyond it products of a few fields
# would leave float64's exact range for money
LARGEST_NUMBER = 1e15
# durations, in the unit of the field, and how many days that unit is; at most LONGEST_DAYS
LONGEST_DAYS = 1e6
_DURATIONS = {
    "review_days": 1.0,
    "lead_time_days": 1.0,
    "session_days": 1.0,
    "window_days": 1.0,
    "start_day": 1.0,
    "duration_days": 1.0,
    "deadline_slack_days": 1.0,
    "round_interval_months": 365.0 / 12,
    "peak_weeks": 7.0,
}


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """``true`` is not a count or an amount (pydantic would read it as 1)."""
        if isinstance(v, bool) and info.field_name:
            ann = cls.model_fields[info.field_name].annotation
            if ann in (int, float) or ann == int | None or ann == float | None:
                raise ValueError(f"must be a number (got {v!r})")
        return v

    @field_validator("*")
    @classmethod
    def _in_range(cls, v: Any, info: ValidationInfo) -> Any:
        """Distributions are finite and never negative; durations fit in periods."""
        name = info.field_name or ""
        if isinstance(v, _Dist):
            if not all(math.isfinite(x) and abs(x) <= LARGEST_NUMBER for x in _dist_numbers(v)):
                raise ValueError(
                    f"every parameter must be a finite number of at most {LARGEST_NUMBER:g} in "
                    f"size (got {_brief(v)})"
                )
            lo, hi = dist_range(v, practical=name in _DURATIONS)
            # a log-normal draws above 0 (then clips), so it is positive unless clipped to <= 0
            positive = lo > 0 or (isinstance(v, LogNormal) and hi > 0)
            if name in _POSITIVE_DISTS and not positive:
                raise ValueError(f"must be > 0 (got {_brief(v)}, which can draw {lo:g})")
            if lo < 0:
                raise ValueError(f"must be >= 0 (got {_brief(v)}, which can draw {lo:g})")
            if name in _DURATIONS and hi * _DURATIONS[name] > LONGEST_DAYS:
                raise ValueError(f"must be at most {LONGEST_DAYS:g} days (got {_brief(v)})")
        elif isinstance(v, float) and abs(v) > LARGEST_NUMBER:
            raise ValueError(f"must be at most {LARGEST_NUMBER:g} in size (got {v:g})")
        elif name in _DURATIONS and isinstance(v, float | int) and v * _DURATIONS[name] > LONGEST_DAYS:
            unit = next(u for u in ("months", "weeks", "days") if u[:-1] in name)
            raise ValueError(
                f"must be at most {LONGEST_DAYS / _DURATIONS[name]:g} {unit} (got {v:g})"
            )
        return v


def _brief(d: _Dist) -> str:
    return str(d.model_dump(exclude_none=True))


# --- time ----------------------------------------------------------------------------------------


class Time(Section):
    step: Literal["hour", "day"] = param(
        "day", "Length of one simulated period; market sessions and the ledger use this grain."
    )
    horizon_years: float = param(3.0, "Simulated horizon.", "years", gt=0, le=20)
    start_year: int = param(
        2025, "Calendar year the scenario describes (prices are a snapshot).", ge=2000, le=2100
    )


# --- providers -----------------------------------------------------------------------------------


class BuildPolicy(Section):
    enabled: bool = param(True, "Providers order new capacity when the review rule fires.")
    review_days: float = param(90, "Days between capacity reviews.", "days", gt=0)
    lead_time_days: float = param(
        630,
        "Time from order to capacity arriving.",
        "days",
        "CALIBRATION: data-center build lag 21 months (JLL 2026)",
        ge=0,
    )
    trigger_utilization: float = param(
        0.85,
        "Order capacity when committed share of capacity (contracts plus recent on-demand use) exceeds this.",
        "share",
        ge=0,
        le=1,
    )
    step_fraction: float = param(
        0.15, "Size of one order as a share of current capacity.", "share", ge=0, le=5
    )
    price_signal: float = param(
        1.2,
        "Also order when the average price received exceeds this multiple of owning cost.",
        "ratio",
        gt=0,
    )


class ProviderClass(Section):
    count: int = param(3, "Number of providers of this class.", "providers", ge=0)
    sites_per_provider: int = param(2, "Sites (data centres) per provider.", "sites", ge=1)
    gpus_per_site: Dist = param(
        lognormal(3000, 0.3), "H100-equivalent GPUs installed per site at start.", "GPUs"
    )
    gpu_capital_cost: float = param(
        50_000,
        "All-in capital cost per GPU (server share, networking).",
        "$",
        "CALIBRATION: all-in capital cost per H100 (Epoch; Cheah 2024)",
        ge=0,
    )
    economic_life_years: float = param(
        5,
        "Depreciation life of a GPU.",
        "years",
        "CALIBRATION: depreciation life (Epoch; AWS, Microsoft filings)",
        gt=0,
    )
    cost_of_capital: float = param(
        0.10,
        "Annual cost of capital for the annuity.",
        "1/year",
        "CALIBRATION: cost of capital (assumption)",
        ge=0,
    )
    power_kw_per_gpu: float = param(
        1.275, "Wall power per GPU.", "kW", "CALIBRATION: wall power per H100 (Epoch)", ge=0
    )
    pue: float = param(
        1.25, "Power usage effectiveness.", "ratio", "CALIBRATION: PUE (Epoch)", ge=1
    )
    electricity_price: float = param(
        0.08,
        "Electricity price.",
        "$/kWh",
        "CALIBRATION: electricity, US industrial 2023-2025",
        ge=0,
    )
    other_opex_per_gpu_hour: float = param(
        0.30,
        "Other operating cost per installed GPU-hour.",
        "$/GPU-h",
        "CALIBRATION: owning cost at full use ($0.2-0.4 other opex)",
        ge=0,
    )
    on_demand_price: Dist = param(
        lambda: const(6.88),
        "On-demand list price.",
        "$/GPU-h",
        "CALIBRATION: hyperscaler H100 on-demand list price (AWS p5, 2025)",
    )
    discount_1y: float = param(
        0.31,
        "1-year commitment discount vs on-demand.",
        "share",
        "CALIBRATION: 1-year commitment discount (Epoch AI hardware prices)",
        ge=0,
        lt=1,
    )
    discount_3y: float = param(
        0.54,
        "3-year commitment discount vs on-demand.",
        "share",
        "CALIBRATION: 3-year commitment discount (Epoch AI hardware prices)",
        ge=0,
        lt=1,
    )
    min_contract_gpus: int = param(256, "Smallest contract a provider signs.", "GPUs", ge=1)
    credit_cover_months: float = param(
        12,
        "Credit screen: a buyer must hold cash worth this many months of the contract's payments.",
        "months",
        ge=0,
    )
    max_contracted_share: float = param(
        0.9,
        "Share of a site's capacity a provider is willing to commit to contracts.",
        "share",
        ge=0,
        le=1,
    )
    price_adjustment: float = param(
        0.0,
        "Monthly relative change of the list price per unit of utilization above (or below) target; 0 keeps list prices fixed.",
        "1/month",
        ge=0,
        le=1,
    )
    target_utilization: float = param(
        0.8, "Utilization the repricing rule steers toward.", "share", gt=0, le=1
    )
    strategy: Literal["price_taker", "cournot"] = param(
        "price_taker",
        "In spot auctions: offer all idle capacity, or withhold some as a Cournot player "
        "facing the session's bids (sim/channels/withholding.py).",
    )
    build: BuildPolicy = param(BuildPolicy, "Capacity build-out rule.")

    @model_validator(mode="after")
    def _annuity_defined(self) -> ProviderClass:
        r, n = self.cost_of_capital, self.economic_life_years
        try:  # the capital annuity of sim.agents.owning_cost_per_gpu_hour
            factor = r / (1 - (1 + r) ** -n) if r > 0 else 1 / n
        except (ZeroDivisionError, OverflowError):
            factor = math.inf
        if not math.isfinite(factor):
            raise ValueError(
                f"economic_life_years: too short to spread the capital cost over at "
                f"cost_of_capital {r:g} (got {n:g} years; allowed: a life of a day or more)"
            )
        return self


class Hyperscalers(ProviderClass):
    """Large clouds: high list price, deep term discounts, large minimum contracts."""


class Neoclouds(ProviderClass):
    """GPU clouds: lower list prices, shallower discounts, smaller contracts."""

    count: int = param(6, "Number of neoclouds.", "providers", ge=0)
    sites_per_provider: int = param(1, "Sites (data centres) per provider.", "sites", ge=1)
    gpus_per_site: Dist = param(
        lognormal(800, 0.4), "H100-equivalent GPUs installed per site at start.", "GPUs"
    )
    on_demand_price: Dist = param(
        lambda: {"dist": "uniform", "low": 1.99, "high": 3.99},
        "On-demand list price.",
        "$/GPU-h",
        "CALIBRATION: neocloud H100 on-demand 2.99 (1.99-3.99; Lambda, RunPod)",
    )
    discount_1y: float = param(
        0.21,
        "1-year commitment discount vs on-demand.",
        "share",
        "CALIBRATION: neocloud 1-year H100 contract 2.35 vs 2.99 on-demand (SemiAnalysis)",
        ge=0,
        lt=1,
    )
    discount_3y: float = param(
        0.35, "3-year commitment discount vs on-demand.", "share", "assumption", ge=0, lt=1
    )
    min_contract_gpus: int = param(64, "Smallest contract a provider signs.", "GPUs", ge=1)
    credit_cover_months: float = param(
        6,
        "Credit screen: a buyer must hold cash worth this many months of the contract's payments.",
        "months",
        ge=0,
    )


class Providers(Section):
    hyperscalers: Hyperscalers = param(Hyperscalers, "Large clouds.")
    neoclouds: Neoclouds = param(Neoclouds, "GPU clouds.")


# --- buyers --------------------------------------------------------------------------------------


class FrontierLabs(Section):
    count: int = param(3, "Number of frontier labs.", "labs", ge=0)
    steady_gpus: Dist = param(
        lognormal(4000, 0.3), "Steady demand at start (training plus serving).", "GPUs"
    )
    demand_growth_per_year: float = param(0.3, "Growth of steady demand.", "1/year", ge=-1)
    cash: Dist = param(lambda: const(5e10), "Cash available for compute.", "$")
    contract_term_years: Literal[1, 3] = param(3, "Term of the contracts labs sign.", "years")
    contract_headroom: float = param(
        1.0, "Contract size as a multiple of current steady demand.", "ratio", gt=0
    )
    value_per_gpu_hour: Dist = param(
        lambda: const(12.0), "Value of a GPU-hour to a lab.", "$/GPU-h"
    )


class Startups(Section):
    count: int = param(300, "Number of startups.", "startups", ge=0)
    initial_cash: Dist = param(lognormal(4e6, 1.0, 2e5, 2e8), "Cash at start.", "$")
    monthly_burn: Dist = param(
        lognormal(1.5e5, 0.7), "Non-compute spending (salaries, etc.).", "$/month"
    )
    round_interval_months: float = param(18, "Months between funding rounds.", "months", gt=0)
    raise_probability: float = param(
        0.45, "Chance a round succeeds with no completed training run.", "probability", ge=0, le=1
    )
    raise_probability_per_run: float = param(
        0.1,
        "Added chance of raising for each training run completed since the last round (capped at 0.95).",
        "probability",
        ge=0,
    )
    round_size: Dist = param(
        lognormal(1.2e7, 1.0, 1e6, 1e9), "Money raised in a successful round.", "$"
    )
    runs_per_year: float = param(
        2.0, "Training runs a startup starts needing each year (Poisson).", "1/year", ge=0
    )
    run_gpus: Dist = param(
        lognormal(64, 1.6, 8, 4096),
        "GPUs in one training run (one block at one site).",
        "GPUs",
        "CALIBRATION: industry run size, median 256 (Epoch) scaled down for startups",
    )
    run_hours: Dist = param(
        lognormal(350, 1.3, 24, 2016),
        "Length of one training run.",
        "hours",
        "CALIBRATION: industry run length median 350 h, p90 2,016 h (Epoch)",
    )
    deadline_slack_days: Dist = param(
        lognormal(30, 0.7),
        "Time a startup will wait for a run to start before giving it up.",
        "days",
    )
    value_per_gpu_hour: Dist = param(
        lognormal(9.0, 0.4), "Value of a training GPU-hour.", "$/GPU-h"
    )
    inference_gpus: Dist = param(lognormal(4, 1.0, 0, 2000), "Inference load at start.", "GPUs")
    inference_growth_per_run: float = param(
        0.5, "Relative growth of inference load after each completed run.", "share", ge=0
    )
    inference_value_per_gpu_hour: Dist = param(
        lambda: const(7.0), "Value of an inference GPU-hour.", "$/GPU-h"
    )
    contract_terms_years: list[Literal[1, 3]] = param(
        lambda: [1, 3], "Contract terms a startup considers."
    )


class Academics(Section):
    count: int = param(700, "Number of academic groups.", "groups", ge=0)
    cloud_budget_share: float = param(
        0.15,
        "Share of groups with any cloud budget.",
        "share",
        "CALIBRATION: academics with no cloud budget 85% (Khandelwal et al. 2024)",
        ge=0,
        le=1,
    )
    annual_budget: Dist = param(
        lognormal(60_000, 1.0, 5_000, 2e6),
        "Yearly compute grant of a group with a cloud budget.",
        "$",
    )
    grant_month: int = param(9, "Month (1-12) grants are renewed.", "month", ge=1, le=12)
    small_job_gpus: Dist = param(
        lognormal(2, 0.8, 0, 64),
        "Average GPUs kept busy by many small jobs.",
        "GPUs",
        "CALIBRATION: typical academic access 1-8 GPUs",
    )
    conference_deadline_months: list[int] = param(
        lambda: [1, 5, 9], "Months of major conference deadlines."
    )

    @field_validator("conference_deadline_months")
    @classmethod
    def _months(cls, months: list[int]) -> list[int]:
        bad = [m for m in months if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"months are 1 to 12 (got {', '.join(map(str, bad))})")
        return months
    peak_weeks: float = param(4, "Weeks before a deadline when demand peaks.", "weeks", ge=0)
    peak_factor: float = param(2.5, "Multiple of small-job demand during a peak.", "ratio", ge=1)
    runs_per_year: float = param(
        3.0, "Mid-size runs a group needs each year (Poisson).", "1/year", ge=0
    )
    run_gpus: Dist = param(
        lognormal(8, 1.4, 1, 1024),
        "GPUs in one run.",
        "GPUs",
        "CALIBRATION: academic run size median 8, p90 104 (Epoch)",
    )
    run_hours: Dist = param(
        lognormal(80, 1.3, 4, 2000),
        "Length of one run.",
        "hours",
        "CALIBRATION: academic run length median 80 h, p90 960 h (Epoch)",
    )
    deadline_slack_days: Dist = param(
        lognormal(14, 0.7), "Time a group will wait for a run to start.", "days"
    )
    value_per_gpu_hour: Dist = param(
        lognormal(5.0, 0.4), "Value of a GPU-hour to research.", "$/GPU-h"
    )


class ChannelChoice(Section):
    risk_aversion: float = param(
        1.0,
        "Weight of price risk in a buyer's choice of channel: a channel's score is its expected "
        "price plus this many standard deviations of it (mean-variance in price units).",
        "s.d.",
        ge=0,
    )


class Buyers(Section):
    choice: ChannelChoice = param(
        ChannelChoice, "How a waiting run chooses between on-demand, spot and forward."
    )
    frontier_labs: FrontierLabs = param(
        FrontierLabs, "Labs with very large steady demand on long contracts."
    )
    startups: Startups = param(
        Startups, "Venture-funded startups: runway, training runs, growing inference."
    )
    academics: Academics = param(
        Academics, "University groups: annual grants, small jobs, a few mid-size runs."
    )


# --- markets -------------------------------------------------------------------------------------


class OnDemandMarket(Section):
    enabled: bool = param(True, "Posted-price sales from idle capacity.")


class ContractMarket(Section):
    enabled: bool = param(True, "Long-term take-or-pay contracts.")
    session_days: float = param(7, "Days between contracting rounds.", "days", gt=0)
    resale: bool = param(
        False,
        "Holders offer contracted capacity they will not use into the spot market (needs markets.spot).",
    )


class SpotMarket(Section):
    enabled: bool = param(False, "Periodic uniform-price call auction for capacity.")
    mechanism: Literal["uniform_price", "block_auction"] = param(
        "uniform_price",
        "Clearing mechanism by registry name: uniform_price (divisible orders clear at one price; "
        "waiting runs then take blocks at that price) or block_auction (steady load and "
        "all-or-nothing blocks clear together, exactly, by MILP on HiGHS; one-period sessions).",
    )
    time_limit_seconds: float = param(
        10.0,
        "Time limit of one block_auction session; past it the best allocation found is used and "
        "its MIP gap is written to the time series (spot_mip_gap).",
        "seconds",
        gt=0,
        le=3600,
    )
    session_days: float = param(
        1.0,
        "Days between auctions; each sells capacity for the window up to the next one.",
        "days",
        gt=0,
    )
    reserve: Literal["owning_cost", "marginal_cost"] = param(
        "owning_cost",
        "Providers' reserve price: full owning cost (capital, opex and energy) or energy only.",
    )
    block_bids: bool = param(
        True, "Waiting runs bid for all-or-nothing blocks (N GPUs at one site for their length)."
    )


class ForwardMarket(Section):
    enabled: bool = param(False, "Forward market: standardized contracts on future windows.")
    mechanism: Literal["forward_lots"] = param(
        "forward_lots",
        "Clearing mechanism by registry name: a uniform-price auction of whole lots.",
    )
    session_days: float = param(7, "Days between forward auctions.", "days", gt=0)
    window_days: float = param(
        7, "Delivery window of one contract (a week; 30 for a month).", "days", gt=0
    )
    tenors: int = param(
        8, "Number of future windows traded at each session.", "windows", ge=1, le=52
    )
    lot_gpus: int = param(8, "GPUs in one lot (one 8-GPU server).", "GPUs", ge=1)
    settlement: Literal["physical", "cash"] = param(
        "physical",
        "physical: a run's contract becomes a reservation of a block at one site; cash: positions "
        "settle against the spot price index over the window (needs markets.spot).",
    )
    initial_margin: float = param(
        0.2,
        "Collateral posted per position, as a share of its notional value.",
        "share",
        gt=0,
        le=1,
    )
    reserve: Literal["expected_spot", "owning_cost", "marginal_cost"] = param(
        "expected_spot",
        "Providers' reserve price for forward sales: the spot price they expect (the recent spot "
        "average, never below energy cost: selling forward for less than waiting would bring is "
        "not worth it), or their full owning cost, or energy only.",
    )


class Markets(Section):
    on_demand: OnDemandMarket = param(OnDemandMarket, "Posted-price on-demand channel.")
    contracts: ContractMarket = param(ContractMarket, "Long-term contracts channel.")
    spot: SpotMarket = param(SpotMarket, "Spot market (the plan).")
    forward: ForwardMarket = param(ForwardMarket, "Forward market (the plan).")

    @model_validator(mode="after")
    def _resale_needs_spot(self) -> Markets:
        if self.forward.enabled and self.forward.settlement == "cash" and not self.spot.enabled:
            raise ValueError(
                "markets.forward.settlement: cash needs markets.spot.enabled: true (the index)"
            )
        if self.contracts.resale and not self.spot.enabled:
            raise ValueError(
                "contracts.resale needs markets.spot.enabled: true (resale goes through the spot market)"
            )
        return self


# --- shocks, metrics, outputs ----------------------------------------------------------------------


class Shock(Section):
    kind: Literal["supply_cut", "demand_boom"] = param(..., "What changes.")
    start_day: float = param(..., "Day the shock starts.", "days", ge=0)
    duration_days: float = param(..., "How long it lasts.", "days", gt=0)
    magnitude: float = param(
        ...,
        "supply_cut: share of installed capacity lost; demand_boom: multiple of demand.",
        "share or ratio",
        ge=0,
    )
    classes: list[
        Literal["startups", "academics", "frontier_labs", "hyperscalers", "neoclouds"]
    ] = param(lambda: [], "Classes affected (empty: all of the relevant side).")

    @model_validator(mode="after")
    def _bounds(self) -> Shock:
        if self.kind == "supply_cut" and self.magnitude > 1:
            raise ValueError(
                f"magnitude: a supply_cut's magnitude is a share of capacity and must be <= 1 "
                f"(got {self.magnitude:g})"
            )
        return self


class PublicProgramme(Section):
    enabled: bool = param(False, "A public programme (NAIRR-like) buys capacity for academics.")
    budget_per_year: float = param(
        8.7e7,
        "Money the programme spends on compute each year.",
        "$/year",
        "CALIBRATION: NAIRR pilot about 5,000 H100-equivalents (CSET; NSF), at about 2 $/GPU-h",
        ge=0,
    )
    allocation: Literal["spread", "concentrated"] = param(
        "spread",
        "spread: many small standing grants for academics' everyday jobs; concentrated: the "
        "capacity is kept whole for academics' large runs.",
    )
    procurement: Literal["contracts", "forwards"] = param(
        "contracts",
        "contracts: one-year contracts bought once a year; forwards: a strip of forward lots "
        "bought at every forward session for every window traded (needs markets.forward).",
    )
    grant_gpus: float = param(
        8,
        "spread: GPUs in one standing grant to an academic group.",
        "GPUs",
        "CALIBRATION: typical academic access 1-8 GPUs",
        gt=0,
    )
    min_run_gpus: int | None = param(
        None,
        "concentrated: smallest run served from the programme's blocks (default: metrics.large_run_gpus).",
        "GPUs",
        ge=1,
    )


class MarketMakers(Section):
    count: int = param(0, "Market makers quoting two-sided forward prices.", "firms", ge=0)
    capital: Dist = param(lambda: const(2e7), "Capital of one market maker.", "$")
    risk_aversion: float = param(
        0.1, "Risk aversion gamma of the Avellaneda-Stoikov quotes.", "1/$", gt=0
    )
    arrival_decay: float = param(
        1.5, "How fast order arrivals fall with distance from the fair value (k).", "1/$", gt=0
    )
    quote_lots: float = param(50, "Lots quoted per side when no limit binds.", "lots", gt=0)
    max_inventory_lots: float = param(500, "Largest long or short position.", "lots", gt=0)


class Metrics(Section):
    large_run_gpus: int = param(
        64, "Runs at or above this many GPUs count as large runs in access metrics.", "GPUs", ge=1
    )


# --- stylized markets ----------------------------------------------------------------------------


class StylizedMarket(Section):
    """A textbook market solved by backward induction in place of the agent world (sim/stylized.py)."""

    kind: Literal["cournot_forward"] = param(
        "cournot_forward",
        "cournot_forward: n symmetric Cournot providers, N forward rounds, then the spot market "
        "(Allaz and Vila 1993).",
    )
    demand_intercept: float = param(
        10.0,
        "a in the inverse demand P = a - b Q: the price at which demand vanishes.",
        "$/GPU-h",
        gt=0,
    )
    demand_slope: float = param(
        1.0,
        "b in P = a - b Q, Q being GPUs demanded in each hour (GPU-hours per hour).",
        "$/GPU-h per GPU",
        gt=0,
    )
    marginal_cost: float = param(
        2.0,
        "c: constant marginal cost of a GPU-hour, the same for every firm; c < a.",
        "$/GPU-h",
        ge=0,
    )
    firms: int = param(3, "n: symmetric Cournot providers.", "providers", ge=1)
    forward_rounds: int = param(
        2, "N: forward rounds before the spot market (0: plain Cournot).", "rounds", ge=0, le=50
    )
    capacity_per_firm: float | None = param(
        None, "Optional output cap of each firm (null: no cap).", "GPUs", gt=0
    )

    @field_validator("marginal_cost")
    @classmethod
    def _cost_below_intercept(cls, c: float, info: ValidationInfo) -> float:
        a = info.data.get("demand_intercept")
        if a is not None and not c < a:
            raise ValueError(f"must be below demand_intercept ({a}); got {c}")
        return c


class Scenario(Section):
    @model_validator(mode="after")
    def _makers_need_cash_forwards(self) -> Scenario:
        fw = self.markets.forward
        if self.market_makers.count and not (fw.enabled and fw.settlement == "cash"):
            raise ValueError(
                "market_makers.count: must be 0 unless markets.forward.enabled: true with "
                "settlement: cash (market makers hold cash-settled positions)"
            )
        spot = self.markets.spot
        if spot.enabled and spot.mechanism == "block_auction":
            period_days = 1.0 / 24 if self.time.step == "hour" else 1.0
            if abs(spot.session_days - period_days) > 1e-9:
                raise ValueError(
                    f"markets.spot.session_days: block_auction clears one period per session, so "
                    f"session_days must be {period_days:g} with time.step: {self.time.step} "
                    f"(got {spot.session_days:g})"
                )
        pp = self.public_programme
        if pp.enabled and pp.procurement == "forwards" and not fw.enabled:
            raise ValueError(
                "public_programme.procurement: forwards needs markets.forward.enabled: true"
            )
        return self

    name: str = param(
        "scenario", "Short name; used in the results folder name.", pattern=r"^[A-Za-z0-9_.-]+$"
    )
    description: str = param("", "What question the scenario answers.")
    seed: int = param(20250723, "Root seed of the numpy SeedSequence.", ge=0)
    replications: int = param(5, "Independent replications (seeds spawned from the root).", ge=1)
    time: Time = param(Time, "Time grain and horizon.")
    providers: Providers = param(Providers, "Supply side.")
    buyers: Buyers = param(Buyers, "Demand side.")
    markets: Markets = param(Markets, "Channels and markets enabled, and their design.")
    shocks: list[Shock] = param(lambda: [], "Supply cuts and demand booms.")
    market_makers: MarketMakers = param(
        MarketMakers, "Market makers in the forward market (cash-settled positions)."
    )
    public_programme: PublicProgramme = param(
        PublicProgramme, "Public compute programme (policy lever)."
    )
    metrics: Metrics = param(Metrics, "Settings of the access metrics.")
    stylized: StylizedMarket | None = param(
        None,
        "A stylized market that replaces the agent world (e.g. Cournot providers with forward "
        "rounds, to check the Allaz-Vila result).",
    )
