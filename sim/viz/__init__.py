"""Figures, comparisons and HTML reports of run folders.

``plot_run`` draws one run's figures, ``compare_runs`` compares runs against a reference and
``write_report`` writes a self-contained HTML page; ``sim.viz.cli`` holds the commands.
"""

from sim.viz.compare import compare_runs, compare_table
from sim.viz.plot import KINDS, build_figures, plot_run
from sim.viz.report import render_report, write_report
from sim.viz.rundir import Run, RunFolderError, load_run, load_runs

__all__ = [
    "KINDS",
    "Run",
    "RunFolderError",
    "build_figures",
    "compare_runs",
    "compare_table",
    "load_run",
    "load_runs",
    "plot_run",
    "render_report",
    "write_report",
]
