"""The ``sim plot``, ``sim compare`` and ``sim report`` commands.

Register them on the main app with ``app.command("plot")(plot)`` and likewise for ``compare``
and ``report``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sim.viz.compare import compare_runs
from sim.viz.plot import build_figures, save_built
from sim.viz.report import write_report
from sim.viz.rundir import RunFolderError, load_run

console = Console()
err_console = Console(stderr=True)


class Kind(StrEnum):
    price = "price"
    access = "access"
    lorenz = "lorenz"
    wait = "wait"
    blocks = "blocks"
    forward = "forward"
    all = "all"


class Format(StrEnum):
    png = "png"
    svg = "svg"
    both = "both"


class ReportFormat(StrEnum):
    png = "png"
    svg = "svg"


def _fail(message: str) -> typer.Exit:
    err_console.print(Text(f"error: {message}", style="bold red"), soft_wrap=True)
    return typer.Exit(2)


def _labels(labels: str | None, count: int) -> list[str] | None:
    if labels is None:
        return None
    names = [s.strip() for s in labels.split(",")]
    if len(names) != count or not all(names):
        raise _fail(f"--labels gives {len(names)} label(s) for {count} run folder(s): {labels!r}")
    return names


def _print_notes(notes: list[tuple[str, str]]) -> None:
    for kind, note in notes:
        console.print(Text(f"skipped in {kind}: {note}", style="yellow"))


def _print_written(paths: list[Path]) -> None:
    for path in paths:
        console.print(Text(f"wrote {path}"), soft_wrap=True)


def plot(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `sim run`.")],
    kind: Annotated[
        list[Kind] | None,
        typer.Option("--kind", "-k", help="Figure(s) to draw; repeat the option for several."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Image format.")] = Format.png,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default: RUN_DIR/figures).")
    ] = None,
) -> None:
    """Draw price and access curves of one run."""
    kinds = [k.value for k in kind] if kind else ["all"]
    try:
        run = load_run(run_dir)
    except RunFolderError as exc:
        raise _fail(str(exc)) from exc
    built = build_figures([run], kinds)
    paths = save_built(built, out if out is not None else run_dir / "figures", [fmt.value])
    _print_notes([(b.kind, n) for b in built for n in b.notes])
    _print_written(paths)
    if not paths:
        console.print(Text(f"{run_dir}: no figure of the requested kind(s) has data in this run"))


def _deltas_table(table: pd.DataFrame) -> Table:
    """The deltas of one run against the reference as a rich table."""
    reference, run = str(table["reference"].iloc[0]), str(table["run"].iloc[0])
    out = Table(title=f"{run} against {reference}: difference of means, 95% Welch interval")
    out.add_column("Metric", no_wrap=True)
    out.add_column(reference, justify="right")
    out.add_column(run, justify="right")
    out.add_column("Diff.", justify="right", no_wrap=True)
    out.add_column("95% CI", justify="right", no_wrap=True)
    out.add_column("*", justify="center")

    def f(x: float) -> str:
        return "n/a" if pd.isna(x) else f"{x:.3g}"

    for r in table.to_dict("records"):
        out.add_row(
            Text(str(r["metric"])),
            f(r["reference_mean"]),
            f(r["run_mean"]),
            Text(f(r["delta"]), style="bold" if r["significant"] else ""),
            f"{f(r['ci95_low'])} to {f(r['ci95_high'])}",
            "*" if r["significant"] else "",
        )
    return out


def compare(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Two or more run folders; the first is the reference.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output folder (default: compare-A-vs-B beside A).",
        ),
    ] = None,
    labels: Annotated[
        str | None, typer.Option("--labels", "-l", help="Comma-separated run labels.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Image format.")] = Format.png,
    kind: Annotated[
        list[Kind] | None,
        typer.Option("--kind", "-k", help="Figure(s) to overlay; repeat for several."),
    ] = None,
) -> None:
    """Overlay the curves of several runs and tabulate differences against the first."""
    if len(run_dirs) < 2:
        raise _fail("compare needs at least two run folders")
    kinds = [k.value for k in kind] if kind else ["all"]
    names = _labels(labels, len(run_dirs))
    try:
        result = compare_runs(run_dirs, names, out, kinds=kinds, formats=[fmt.value])
    except RunFolderError as exc:
        raise _fail(str(exc)) from exc
    for _, rows in result.table.groupby("run", sort=False):
        console.print(_deltas_table(rows))
    console.print("* the 95% interval of the difference excludes 0", style="dim")
    _print_notes([(b.kind, n) for b in result.built for n in b.notes])
    _print_written(result.paths)


def report(
    run_dirs: Annotated[list[Path], typer.Argument(help="One or more run folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
    labels: Annotated[
        str | None, typer.Option("--labels", "-l", help="Comma-separated run labels.")
    ] = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="How figures are embedded.")
    ] = ReportFormat.png,
    kind: Annotated[
        list[Kind] | None,
        typer.Option("--kind", "-k", help="Figure(s) to include; repeat for several."),
    ] = None,
) -> None:
    """Write one self-contained HTML page with scenarios, headline metrics and all curves."""
    kinds = [k.value for k in kind] if kind else ["all"]
    try:
        path = write_report(run_dirs, out, _labels(labels, len(run_dirs)), fmt.value, kinds)
    except RunFolderError as exc:
        raise _fail(str(exc)) from exc
    _print_written([path])
