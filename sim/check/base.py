"""What every check shares: the violation record, tolerances, and the run folder as read from disk.

Nothing here imports the code that wrote the folder: the folder is read with pandas, PyYAML and
json, and every number is recomputed from the tables themselves.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

Amount = float | int | str | None


@dataclass(frozen=True)
class Violation:
    """One broken rule: which check, in which table, at which row, and both amounts."""

    check: str
    table: str
    key: str
    expected: Amount
    actual: Amount
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.table} ({self.key}): {self.message}"


class RunFolderError(Exception):
    """The folder is not a complete run folder, or one of its files is missing or unreadable."""


@dataclass(frozen=True)
class Tolerance:
    absolute: float
    relative: float
    unit: str  # how amounts are printed: "$", "GPU", "GPU-h" or ""

    def close(self, expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
        """Elementwise: within tolerance, or both NaN."""
        e = np.asarray(expected, dtype=float)
        a = np.asarray(actual, dtype=float)
        with np.errstate(invalid="ignore"):
            scale = np.maximum(np.abs(e), np.abs(a))
            ok = np.abs(a - e) <= self.absolute + self.relative * scale
        both_nan = np.isnan(e) & np.isnan(a)
        same_inf = np.isinf(e) & (e == a)
        return ok | both_nan | same_inf

    def show(self, x: Amount) -> str:
        if x is None:
            return "none"
        if isinstance(x, str):
            return repr(x)
        v = float(x)
        if not math.isfinite(v):
            return str(v)
        if self.unit == "$":
            return f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}"
        if self.unit in ("GPU", "GPU-h"):
            return f"{v:,.6g} {self.unit}"
        return f"{v:.10g}"


MONEY = Tolerance(0.01, 1e-6, "$")  # dollars: a cent, or a part in a million
GPUS = Tolerance(1e-6, 0.0, "GPU")  # capacity, contracted and busy GPUs
GPU_HOURS = Tolerance(1e-6, 1e-9, "GPU-h")  # traded volumes, which are sums of fractions
COUNT = Tolerance(0.0, 0.0, "")  # counts and whole numbers: exact
RATIO = Tolerance(1e-12, 1e-9, "")  # shares, prices and other summary figures


def key_text(keys: Mapping[Any, Any]) -> str:
    parts = []
    for name, value in keys.items():
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)
        elif isinstance(value, np.integer):
            value = int(value)
        parts.append(f"{name}={value}")
    return ", ".join(parts)


def _amount(x: Any) -> Amount:
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, bool | np.bool_):
        return int(x)
    v = float(x)
    return None if math.isnan(v) else v


@dataclass
class Findings:
    """Violations found so far, and how many comparisons were made."""

    items: list[Violation] = field(default_factory=list)
    compared: int = 0

    def add(
        self,
        check: str,
        table: str,
        keys: Mapping[Any, Any],
        expected: Any,
        actual: Any,
        message: str,
    ) -> None:
        self.items.append(
            Violation(check, table, key_text(keys), _amount(expected), _amount(actual), message)
        )

    def compare(
        self,
        check: str,
        table: str,
        keys: pd.DataFrame,
        expected: Sequence[float] | np.ndarray | pd.Series,
        actual: Sequence[float] | np.ndarray | pd.Series,
        what: str,
        against: str,
        tol: Tolerance = MONEY,
    ) -> None:
        """Report every row where ``actual`` (the table's ``what``) differs from ``expected``
        (what ``against`` gives); ``keys`` holds the row keys, aligned with both arrays."""
        e = np.asarray(expected, dtype=float)
        a = np.asarray(actual, dtype=float)
        self.compared += int(e.size)
        bad = np.flatnonzero(~tol.close(e, a))
        if not bad.size:
            return
        records = keys.reset_index(drop=True).iloc[bad].to_dict("records")
        for k, row in zip(bad, records, strict=True):
            diff = a[k] - e[k]
            gap = f" (off by {tol.show(diff)})" if math.isfinite(diff) else ""
            self.add(
                check,
                table,
                row,
                e[k],
                a[k],
                f"{what} = {tol.show(a[k])}; {against}: {tol.show(e[k])}{gap}",
            )

    def require(
        self,
        check: str,
        table: str,
        keys: pd.DataFrame,
        ok: np.ndarray | pd.Series,
        expected: Any,
        actual: np.ndarray | pd.Series | Sequence[Any],
        message: str,
    ) -> None:
        """Report every row where ``ok`` is false; ``message`` is formatted with ``{actual}``
        and ``{expected}`` (the row's value when ``expected`` is an array)."""
        flags = np.asarray(ok, dtype=bool)
        self.compared += int(flags.size)
        bad = np.flatnonzero(~flags)
        if not bad.size:
            return
        act = np.asarray(actual, dtype=object)
        exp = np.asarray(expected, dtype=object) if np.ndim(expected) else None
        records = keys.reset_index(drop=True).iloc[bad].to_dict("records")
        for k, row in zip(bad, records, strict=True):
            e = exp[k] if exp is not None else expected
            self.add(check, table, row, e, act[k], message.format(actual=act[k], expected=e))


# ---- the run folder --------------------------------------------------------------------------

FIRST_TABLES = ("timeseries", "agents", "jobs", "providers", "contracts", "ledger", "capacity")
FORWARD_TABLES = ("forward_curves", "market_makers", "margin_defaults")
STYLIZED_TABLES = ("rounds", "firms")

COLUMNS: dict[str, tuple[str, ...]] = {
    "timeseries": ("replication", "period", "day", "metric", "group", "value"),
    "agents": (
        "replication",
        "agent_id",
        "agent_class",
        "demanded_gpu_hours",
        "served_gpu_hours",
        "spend",
        "value_received",
        "surplus",
        "initial_cash",
        "final_cash",
        "inflow",
        "resale_income",
        "forward_flow",
        "outflow",
        "failed",
        "largest_block_gpus",
        "runs_total",
        "runs_completed",
        "runs_abandoned",
    ),
    "jobs": (
        "replication",
        "job_id",
        "agent_id",
        "agent_class",
        "gpus",
        "hours",
        "arrival_day",
        "start_day",
        "wait_days",
        "channel",
        "status",
        "site",
        "price_per_gpu_hour",
        "paid",
    ),
    "providers": (
        "replication",
        "provider_id",
        "provider_class",
        "sites",
        "capacity_start",
        "capacity_end",
        "gpu_hours_installed",
        "revenue",
        "forward_pnl",
        "contract_revenue",
        "cost",
        "profit",
        "defaulted_amount",
    ),
    "contracts": (
        "replication",
        "holder_id",
        "holder_class",
        "provider_id",
        "site",
        "gpus",
        "start_day",
        "end_day",
    ),
    "ledger": ("replication", "account", "account_kind", "agent_id", "reason", "paid", "received"),
    "capacity": (
        "replication",
        "site",
        "provider_id",
        "period",
        "capacity_gpus",
        "contracted_gpus",
        "in_use_gpus",
    ),
    "forward_curves": (
        "replication",
        "session_day",
        "tenor_days",
        "delivery_day",
        "price",
        "volume_lots",
        "bought_by_runs",
        "bought_by_programme",
        "bought_by_makers",
        "sold_by_providers",
        "sold_by_buyers",
        "sold_by_makers",
        "settlement_index",
    ),
    "market_makers": (
        "replication",
        "maker_id",
        "capital_start",
        "capital_end",
        "pnl",
        "bust",
        "collateral_open",
    ),
    "margin_defaults": ("replication", "participant", "kind", "shortfall"),
    "rounds": ("replication", "round", "firm", "forward_sales", "position_after"),
    "firms": ("replication", "firm", "spot_quantity", "forward_position", "profit"),
}


@dataclass
class Run:
    """A run folder read from disk: its resolved scenario, manifest, summary and tables."""

    path: Path
    scenario: dict[str, Any]
    manifest: dict[str, Any]
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]

    @property
    def stylized(self) -> bool:
        return self.scenario.get("stylized") is not None

    def market(self, name: str) -> bool:
        return bool(((self.scenario.get("markets") or {}).get(name) or {}).get("enabled", False))

    @property
    def hours_per_period(self) -> int:
        """The time step: a period is an hour or a day (as ``sim/calendar.py`` reads it)."""
        return 1 if (self.scenario.get("time") or {}).get("step") == "hour" else 24

    @property
    def horizon(self) -> int:
        """Periods simulated: the horizon in years at the time step, rounded, at least one."""
        years = float((self.scenario.get("time") or {}).get("horizon_years", 0.0))
        return max(1, round(years * 365.0 * 24 / self.hours_per_period))

    @property
    def replications(self) -> list[int]:
        return list(range(int(self.manifest.get("replications", 0))))

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        out = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RunFolderError(f"{path}: unreadable ({err})") from None
    if not isinstance(out, dict):
        raise RunFolderError(f"{path}: not a JSON object")
    return out


def required_tables(scenario: dict[str, Any]) -> tuple[str, ...]:
    if scenario.get("stylized") is not None:
        return STYLIZED_TABLES
    forward = ((scenario.get("markets") or {}).get("forward") or {}).get("enabled", False)
    return FIRST_TABLES + (FORWARD_TABLES if forward else ())


def read_run(path: Path) -> Run:
    """Read a run folder; raise ``RunFolderError`` naming the file if it is not one, or if a
    table it must hold is missing, unreadable or lacks a column."""
    path = Path(path)
    if not path.is_dir():
        raise RunFolderError(f"{path}: not a directory")
    for name in ("manifest.json", "scenario.yaml", "summary.json"):
        if not (path / name).is_file():
            raise RunFolderError(f"{path / name}: missing (not a run folder)")
    manifest = _read_json(path / "manifest.json")
    if manifest.get("status") != "complete":
        raise RunFolderError(
            f"{path / 'manifest.json'}: run status is {manifest.get('status')!r}, not 'complete'"
        )
    try:
        scenario = yaml.safe_load((path / "scenario.yaml").read_text())
    except (OSError, yaml.YAMLError) as err:
        raise RunFolderError(f"{path / 'scenario.yaml'}: unreadable ({err})") from None
    if not isinstance(scenario, dict):
        raise RunFolderError(f"{path / 'scenario.yaml'}: not a scenario mapping")
    summary = _read_json(path / "summary.json")
    if not isinstance(summary.get("metrics"), dict):
        raise RunFolderError(f"{path / 'summary.json'}: no 'metrics' mapping")
    tables: dict[str, pd.DataFrame] = {}
    problems = []
    for name in required_tables(scenario):
        file = path / f"{name}.parquet"
        if not file.is_file():
            problems.append(f"{file}: missing")
            continue
        try:
            df = pd.read_parquet(file)
        except Exception as err:  # pyarrow raises several kinds for a damaged file
            problems.append(f"{file}: unreadable ({type(err).__name__}: {err})")
            continue
        lacking = [c for c in COLUMNS[name] if c not in df.columns]
        if lacking:
            problems.append(f"{file}: missing column(s) {', '.join(lacking)}")
            continue
        tables[name] = _plain(df)
    if problems:
        raise RunFolderError("\n".join(problems))
    return Run(path, scenario, manifest, summary, tables)


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Categorical and string columns as plain Python strings, so comparisons never depend on
    a category's list of levels."""
    out = df.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype) or out[col].dtype == object:
            out[col] = out[col].astype(str)
        elif pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].astype(str)
    return out


def by_replication(df: pd.DataFrame, replication: int) -> pd.DataFrame:
    return df[df["replication"] == replication]
