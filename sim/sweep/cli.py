"""``sim sweep`` and ``sim discover``: typer command functions for the main app to register.

    from sim.sweep.cli import discover, sweep
    app.command("sweep")(sweep)
    app.command("discover")(discover)

This module only declares options; the work is in ``sim.sweep.commands``, imported when a
command runs, so that loading the command line stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["discover", "sweep"]


def sweep(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    vary: Annotated[
        list[str],
        typer.Option("--vary", help="Parameter to vary: dotted.path=lo:hi (repeatable)."),
    ],
    method: Annotated[str, typer.Option(help="Design: grid, lhs, sobol or morris.")] = "lhs",
    samples: Annotated[
        int,
        typer.Option(
            help="grid: levels per parameter; lhs: points; sobol: base sample N, a power of two "
            "(N x (parameters + 2) points); morris: trajectories."
        ),
    ] = 16,
    replications: Annotated[
        int | None, typer.Option(help="Replications per point (default: the scenario's).")
    ] = None,
    executor: Annotated[str, typer.Option(help="Where runs execute: local or dask.")] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of a running Dask scheduler, e.g. tcp://host:8786."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (local pool or local Dask cluster); default: cores."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the sweep in the output folder.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Sweep folder (default results/<scenario>-sweep-<id>).")
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", help="Metric to report and plot (repeatable; default: headline)."),
    ] = None,
    common_random_numbers: Annotated[
        bool,
        typer.Option(
            "--common-random-numbers",
            help="Give replication r the same seed at every point (see docs/sweeps.md).",
        ),
    ] = False,
    plots: Annotated[bool, typer.Option(help="Draw sensitivity figures.")] = True,
) -> None:
    """Sweep parameters of a scenario: run a design, then compute sensitivity indices."""
    from sim.sweep.commands import sweep_command

    sweep_command(
        file,
        vary,
        method,
        samples,
        replications,
        executor,
        scheduler,
        workers,
        resume,
        out,
        metric,
        common_random_numbers,
        plots,
    )


def discover(
    sweep_dir: Annotated[Path, typer.Argument(help="Folder of a sweep (holds sweep.json).")],
    where: Annotated[
        list[str],
        typer.Option(
            "--where",
            help="Cases of interest: 'METRIC OP NUMBER' with OP one of < <= > >= "
            "(repeatable; all must hold).",
        ),
    ],
    threshold: Annotated[
        float | None,
        typer.Option(help="Pick the widest box with at least this density (default: the knee)."),
    ] = None,
    alpha: Annotated[float, typer.Option(help="Share of points peeled per step.")] = 0.05,
    min_mass: Annotated[float, typer.Option(help="Smallest box, as a share of all points.")] = 0.05,
    boxes: Annotated[int, typer.Option(help="Most boxes to find (covering).")] = 1,
) -> None:
    """Find the parameter ranges where a condition on a metric holds (PRIM)."""
    from sim.sweep.commands import discover_command

    discover_command(sweep_dir, where, threshold, alpha, min_mass, boxes)
