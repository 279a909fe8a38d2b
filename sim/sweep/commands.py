"""What ``sim sweep`` and ``sim discover`` do, apart from option parsing (``sim.sweep.cli``).

Every input is checked before anything runs; bad input prints a message naming the option and
the value, and exits with status 2. Kept apart from the typer functions so that loading the main
command line does not import the numerical libraries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sim.loader import ScenarioError, apply_overrides, load_raw, validate
from sim.summary import HEADLINE
from sim.sweep.design import DesignError, check_design, default_options
from sim.sweep.discovery import Discovery, parse_where, sweep_cases
from sim.sweep.discovery import discover as run_discovery
from sim.sweep.engine import ProgressCallback, SweepFolder, SweepFolderError, SweepResult, run_sweep
from sim.sweep.executor import ExecutorConfig, ExecutorError, open_executor
from sim.sweep.files import write_json
from sim.sweep.model import SimulatorModel, runner_available
from sim.sweep.parameters import (
    Parameter,
    ParameterError,
    materialize_distributions,
    parse_parameters,
)
from sim.sweep.plots import plot_peeling, plot_sweep
from sim.sweep.sensitivity import (
    Sensitivity,
    analyse,
    metric_columns,
    point_means,
    write_sensitivity,
)
from sim.sweep.spec import SweepSpec

DEFAULT_METRICS = HEADLINE[:9]
_SHOWN_INDICES = {"sobol": ("S1", "ST"), "morris": ("mu_star", "sigma")}

err_console = Console(stderr=True)
out_console = Console()


def _fail(message: str | list[str], code: int = 2) -> typer.Exit:
    for line in [message] if isinstance(message, str) else message:
        typer.echo(line, err=True)
    return typer.Exit(code)


# --- sim sweep ------------------------------------------------------------------------------------


def sweep_command(
    file: Path,
    vary: list[str],
    method: str,
    samples: int,
    replications: int | None,
    executor: str,
    scheduler: str | None,
    workers: int | None,
    resume: bool,
    out: Path | None,
    metric: list[str] | None,
    common_random_numbers: bool,
    plots: bool,
) -> None:
    """Check the inputs, run the sweep, then report sensitivity and figures."""
    spec = build_spec(
        file, vary, method, samples, replications, common_random_numbers=common_random_numbers
    )
    config = ExecutorConfig(executor, workers, scheduler)
    try:
        config.check()
    except ExecutorError as exc:
        raise _fail(str(exc)) from None
    if not runner_available():
        raise _fail("the simulator (sim.runner) is not available; nothing was run")
    out_dir = out or Path("results") / f"{spec.scenario_name}-sweep-{spec.sweep_id}"
    try:
        folder = SweepFolder.open(spec, out_dir, resume=resume)
    except SweepFolderError as exc:
        raise _fail(str(exc)) from None

    total = folder.design.size * spec.replications
    left = total - len(folder.done() & _all_runs(folder))
    err_console.print(
        f"sweep {spec.sweep_id}: {folder.design.size} points x {spec.replications} replications "
        f"= {total} runs ({total - left} already done) on {config.describe()}; folder {out_dir}"
    )
    model = SimulatorModel(spec.raw, spec.source)
    try:
        with open_executor(config) as pool, _progress_bar() as progress:
            result = run_sweep(folder, model, pool, progress=progress)
    except KeyboardInterrupt:
        done = len(folder.done() & _all_runs(folder))
        raise _fail(
            f"interrupted: {done} of {total} runs are saved in {out_dir}; "
            f"continue with the same command plus --resume --out {out_dir}",
            code=130,
        ) from None
    report_sweep(result, metric, plots)


def build_spec(
    file: Path,
    vary: list[str],
    method: str,
    samples: int,
    replications: int | None,
    common_random_numbers: bool = False,
) -> SweepSpec:
    """Read and check everything a sweep needs; any problem exits with status 2."""
    try:
        raw = load_raw(file)
        scenario = validate(raw, str(file))
    except ScenarioError as err:
        raise _fail([*err.problems, f"{len(err.problems)} problem(s); nothing was run."]) from None
    try:
        params = parse_parameters(vary, scenario)
        check_design(method, samples, len(params))
    except (ParameterError, DesignError) as exc:
        raise _fail(str(exc)) from None
    reps = scenario.replications if replications is None else replications
    if reps < 1:
        raise _fail(f"--replications {reps}: must be >= 1")
    raw = materialize_distributions(raw, scenario, params)
    _check_bounds(raw, str(file), params)
    return SweepSpec(
        parameters=tuple(params),
        method=method,
        samples=samples,
        replications=reps,
        root_seed=scenario.seed,
        raw=raw,
        source=str(file),
        scenario_name=scenario.name,
        common_random_numbers=common_random_numbers,
        options=default_options(method),
    )


def _check_bounds(raw: dict[str, Any], source: str, params: list[Parameter]) -> None:
    """Each bound must give a valid scenario, or every point near it would fail."""
    for param in params:
        for u in (0.0, 1.0):
            value = param.scale(u)
            try:
                validate(apply_overrides(raw, {param.path: value}), source)
            except ScenarioError as err:
                problems = "; ".join(p.split(": ", 1)[-1] for p in err.problems)
                raise _fail(
                    f"--vary {param.path}={param.lo:g}:{param.hi:g}: the scenario is invalid at "
                    f"{param.path}={value:g}: {problems}"
                ) from None


def _all_runs(folder: SweepFolder) -> set[tuple[int, int]]:
    return {(p, r) for p in range(folder.design.size) for r in range(folder.spec.replications)}


@contextmanager
def _progress_bar() -> Iterator[ProgressCallback]:
    progress = Progress(
        TextColumn("runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
        transient=True,
    )
    task = progress.add_task("runs", total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    with progress:
        yield update


def chosen_metrics(
    requested: list[str] | None, available: list[str]
) -> tuple[list[str], list[str]]:
    """(metrics to report, requested names that are not metrics of the sweep)."""
    if requested:
        return [m for m in requested if m in available], [
            m for m in requested if m not in available
        ]
    headline = [m for m in DEFAULT_METRICS if m in available]
    return headline or list(available), []


def report_sweep(result: SweepResult, requested: list[str] | None, plots: bool) -> None:
    """Sensitivity, figures and a summary; exit 1 when runs failed."""
    folder, spec = result.folder, result.folder.spec
    table = result.table
    available = metric_columns(table, spec)
    metrics, unknown = chosen_metrics(requested, available)
    if unknown:
        err_console.print(
            f"[yellow]not metrics of this sweep: {', '.join(unknown)}[/]; "
            f"available: {', '.join(available)}"
        )
    sens = analyse(table, spec, folder.design)
    write_sensitivity(sens, folder.root)
    for note in sens.notes:
        if note.split(":", 1)[0] in metrics:
            err_console.print(f"[yellow]sensitivity: {note}[/]")
    if plots:
        means = point_means(table, spec, folder.design)
        written = plot_sweep(means, sens.indices, spec, metrics, folder.root / "plots")
        err_console.print(f"{len(written)} figure(s) in {folder.root / 'plots'}")
    print_indices(sens, metrics)
    err_console.print(
        f"{result.ran} run(s) done, {result.skipped} already on disk; table {folder.table_path}"
    )
    if result.failures:
        first = result.failures[0]
        raise _fail(
            f"{len(result.failures)} run(s) failed (first: point {first['point']}, replication "
            f"{first['replication']}: {first['error']}); details in {folder.failures_path}; "
            "rerun with --resume to retry them",
            code=1,
        )


def print_indices(sens: Sensitivity, metrics: list[str]) -> None:
    names = _SHOWN_INDICES.get(sens.method, ("spearman", "effect"))
    frame = sens.indices
    for metric in metrics:
        rows = frame[(frame["metric"] == metric) & frame["index"].isin(names)]
        if rows.empty:
            continue
        table = Table(title=f"{sens.method} sensitivity of {metric}", title_justify="left")
        table.add_column("parameter")
        for name in names:
            table.add_column(name, justify="right")
        for param, group in rows.groupby("parameter", sort=False):
            cells = []
            for name in names:
                hit = group[group["index"] == name]
                cells.append(_cell(hit.iloc[0]) if len(hit) else "")
            table.add_row(str(param), *cells)
        out_console.print(table)


def _cell(row: pd.Series) -> str:
    value, conf = float(row["value"]), float(row["conf"])
    return f"{value:.3g} ± {conf:.2g}" if np.isfinite(conf) else f"{value:.3g}"


# --- sim discover ---------------------------------------------------------------------------------


def discover_command(
    sweep_dir: Path,
    where: list[str],
    threshold: float | None,
    alpha: float,
    min_mass: float,
    boxes: int,
) -> None:
    """Find the parameter ranges where a condition on a metric holds (PRIM)."""
    try:
        conditions = [parse_where(w) for w in where]
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if threshold is not None and not 0 < threshold <= 1:
        raise _fail(f"--threshold {threshold}: must be in (0, 1]")
    if not 0 < alpha < 0.5:
        raise _fail(f"--alpha {alpha}: must be in (0, 0.5)")
    if not 0 < min_mass < 1:
        raise _fail(f"--min-mass {min_mass}: must be in (0, 1)")
    if boxes < 1:
        raise _fail(f"--boxes {boxes}: must be >= 1")
    try:
        folder = SweepFolder.load(sweep_dir)
    except SweepFolderError as exc:
        raise _fail(str(exc)) from None
    table = (
        pd.read_parquet(folder.table_path) if folder.table_path.exists() else folder.read_points()
    )
    means = point_means(table, folder.spec, folder.design)
    try:
        x, y = sweep_cases(means, folder.spec.names, conditions)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if len(x) == 0:
        raise _fail(f"{sweep_dir}: no finished point has a value for the metric")
    text = " and ".join(str(c) for c in conditions)
    found = run_discovery(x, y, text, alpha, min_mass, threshold, boxes)
    info = {**found.to_json(), "alpha": alpha, "min_mass": min_mass, "threshold": threshold}
    write_json(folder.root / "discovery.json", info)
    if found.runs:
        plot_peeling(
            found.runs[0].frame(), found.runs[0].chosen, threshold, folder.root / "discovery.png"
        )
    print_discovery(found)
    err_console.print(f"written: {folder.root / 'discovery.json'}")


def print_discovery(found: Discovery) -> None:
    rate = found.n_cases / found.n_points if found.n_points else 0.0
    out_console.print(
        f"where {found.where}: {found.n_cases} of {found.n_points} points ({rate:.0%})"
    )
    if not found.runs:
        out_console.print("no box: no point meets the condition")
        return
    for k, run in enumerate(found.runs, start=1):
        box = run.box
        out_console.print(
            f"box {k}: coverage {box.coverage:.0%}, density {box.density:.0%}, "
            f"mass {box.mass:.0%} ({box.n_cases} of the {box.n_points} points in it are cases)"
        )
        table = Table()
        table.add_column("parameter")
        table.add_column("from", justify="right")
        table.add_column("to", justify="right")
        table.add_column("of range", justify="right")
        limits = run.restricted()
        if not limits:
            table.add_row("(no restriction)", "", "", "")
        for name, (lo, hi) in limits.items():
            full_lo, full_hi = run.start.limits[name]
            table.add_row(name, f"{lo:.4g}", f"{hi:.4g}", f"{full_lo:.4g} .. {full_hi:.4g}")
        out_console.print(table)
