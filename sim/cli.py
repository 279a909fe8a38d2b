"""The ``sim`` command line."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.loader import ScenarioError, load_scenario, parse_override
from sim.output import RunFolder, atomic_write_json, atomic_write_parquet, new_run_dir
from sim.runner import run_replications
from sim.summary import HEADLINE, combine

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Simulate markets for GPU compute: who gets compute, at what price, how fast, in what blocks.",
)
console = Console(stderr=True)


def _load(file: Path, overrides: list[str] | None = None, workers: int = 1):
    """The scenario, or every problem printed and exit 2. Validation checks memory for one
    worker; with more, the run is checked again for ``workers`` replications at once."""
    try:
        pairs = dict(parse_override(s) for s in overrides or [])
        sc = load_scenario(file, pairs)
        if workers > 1:
            from sim.feasibility import check_memory

            source = f"{file} (with --workers {workers})"
            problems = check_memory(sc, source, workers=workers)
            if problems:
                raise ScenarioError(problems)
        return sc
    except ScenarioError as err:
        for line in err.problems:
            typer.echo(line, err=True)
        typer.echo(f"{len(err.problems)} problem(s); nothing was run.", err=True)
        raise typer.Exit(2) from None


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="Scenario YAML file.")]) -> None:
    """Check a scenario file; report every problem at once (exit 2 if any)."""
    sc = _load(file)
    typer.echo(f"{file}: ok (scenario '{sc.name}', {sc.replications} replications)")


@app.command()
def check(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `sim run`.")],
) -> None:
    """Audit a run folder from its own tables (exit 1 on any violation, 2 if not a run folder)."""
    from sim.check import main as check_main

    code = check_main(run_dir, echo=typer.echo, echo_err=lambda s: typer.echo(s, err=True))
    raise typer.Exit(code)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    seed: Annotated[int | None, typer.Option(help="Root seed (overrides the file).")] = None,
    replications: Annotated[
        int | None, typer.Option(help="Replications (overrides the file).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default results/<name>-<time>).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a field: path=value (repeatable).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes for replications.")] = 1,
    plots: Annotated[bool, typer.Option(help="Draw price and access figures.")] = True,
    check: Annotated[
        bool, typer.Option(help="Audit the folder's tables when done, as `sim check` does.")
    ] = True,
) -> None:
    """Run a scenario and write its results folder."""
    overrides = list(set_ or [])
    if seed is not None:
        overrides.append(f"seed={seed}")
    if replications is not None:
        overrides.append(f"replications={replications}")
    sc = _load(file, overrides, workers)
    path = out or new_run_dir(Path("results"), sc.name)
    if path.exists() and any(path.iterdir()):
        typer.echo(
            f"{path}: exists and is not empty; choose another --out (nothing was run)", err=True
        )
        raise typer.Exit(2)
    folder = RunFolder(path, sc, str(file))
    try:
        metrics = _run_into(folder, sc, workers, plots)
    except KeyboardInterrupt:
        typer.echo(f"interrupted; partial run recorded in {path}", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:  # the folder already holds the traceback in error.txt
        typer.echo(
            f"error: {type(exc).__name__}: {exc} (details in {path / 'error.txt'})", err=True
        )
        raise typer.Exit(1) from None
    _print_summary(metrics, path)
    if check:
        _audit(path)


def _audit(path: Path) -> None:
    """The run's own tables checked as `sim check` does; exit 1 when any rule fails."""
    from sim.check import audit, read_run

    found = audit(read_run(path))
    if not found.items:
        typer.echo(f"audit: ok ({found.compared:,} comparisons; `sim check {path}` repeats it)")
        return
    for v in found.items[:20]:
        typer.echo(str(v), err=True)
    more = f" (first 20 shown; `sim check {path}` lists all)" if len(found.items) > 20 else ""
    typer.echo(f"audit: {len(found.items)} violation(s) in the run's tables{more}", err=True)
    raise typer.Exit(1)


def _run_into(folder: RunFolder, sc, workers: int, plots: bool) -> dict:
    """Run every replication and write the folder; failures are recorded by ``folder``."""
    path = folder.path
    with folder:
        results = _run_with_progress(sc, workers)
        for name in results[0].tables:
            df = pd.concat([r.tables[name] for r in results], ignore_index=True)
            atomic_write_parquet(path / f"{name}.parquet", df)
        metrics = combine([r.summary for r in results])
        summary = {"scenario": sc.name, "replications": sc.replications, "metrics": metrics}
        atomic_write_json(path / "summary.json", summary)
        folder.manifest["seeds"] = [
            {
                "replication": r.replication,
                "entropy": r.seed_entropy,
                "spawn_key": list(r.spawn_key),
            }
            for r in results
        ]
        folder.manifest["timings"]["replication_seconds"] = [round(r.seconds, 3) for r in results]
        if plots and "timeseries" in results[0].tables:
            _plot(path)
        folder.finish("complete")
    return metrics


def _run_with_progress(sc, workers: int):
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"{sc.name}: replications", total=sc.replications)
        advance = lambda _r: bar.advance(task)  # noqa: E731
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                return run_replications(sc, executor=pool, on_done=advance)
        return run_replications(sc, on_done=advance)


def _plot(path: Path) -> None:
    from sim.viz import plot_run

    plot_run(path, kinds=["all"], formats=["png"], out_dir=None)


def _print_summary(metrics: dict, path: Path) -> None:
    table = Table(title=f"Headline metrics (mean and 95% CI over replications) -> {path}")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    names = [n for n in HEADLINE if n in metrics] or list(metrics)
    for name in names:
        m = metrics.get(name)
        if m is None:
            continue
        lo, hi = m["ci95"]
        table.add_row(name, f"{m['mean']:.4g}", f"[{lo:.4g}, {hi:.4g}]")
    Console().print(table)


@app.command()
def docs(
    out: Annotated[Path, typer.Option(help="Where to write the reference.")] = Path(
        "docs/scenario-reference.md"
    ),
) -> None:
    """Generate the scenario field reference from the schema."""
    from sim.docgen import reference_markdown
    from sim.output import atomic_write_text

    atomic_write_text(out, reference_markdown())
    typer.echo(f"wrote {out}")


def _register_commands() -> None:
    from sim.sweep.cli import discover, sweep
    from sim.viz.cli import compare, plot, report

    for name, fn in (
        ("plot", plot),
        ("compare", compare),
        ("report", report),
        ("sweep", sweep),
        ("discover", discover),
    ):
        app.command(name)(fn)


_register_commands()


def main() -> None:  # pragma: no cover
    app()
