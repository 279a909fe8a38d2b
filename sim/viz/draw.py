"""Drawing helpers shared by the figure modules: bands, notes, legends and footnotes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.viz.rundir import Run
from sim.viz.stats import band
from sim.viz.style import (
    BAND_NOTE,
    class_colour,
    class_label,
    new_figure,
    run_linestyle,
)

RUN_MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P")


@dataclass
class Built:
    """A figure of one kind (None when the runs hold no data for it) and notes for the reader."""

    kind: str
    figure: Figure | None
    notes: list[str] = field(default_factory=list)


def grid_figure(n_panels: int, ncols: int = 2, panel_w: float = 5.2, panel_h: float = 3.4):
    """A figure with ``n_panels`` axes laid out in up to ``ncols`` columns."""
    ncols = max(1, min(ncols, n_panels))
    nrows = math.ceil(n_panels / ncols)
    fig = new_figure(panel_w * ncols + 1.6, panel_h * nrows + 0.9)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.remove()
    return fig, list(axes[:n_panels])


def plot_band(
    ax: Axes,
    frame: pd.DataFrame,
    colour: str,
    linestyle=None,
    x: str = "day",
    marker: str | None = None,
    alpha: float = 0.18,
) -> bool:
    """Mean line with a 10-90% band over replications; False when there is nothing to draw."""
    b = band(frame, x=x)
    if b.empty:
        return False
    markevery = max(1, len(b) // 8)
    ax.plot(
        b[x],
        b["mean"],
        color=colour,
        linestyle=linestyle or "-",
        linewidth=1.6,
        marker=marker,
        markersize=4,
        markevery=markevery,
    )
    if (b["hi"] > b["lo"]).any():
        ax.fill_between(b[x], b["lo"], b["hi"], color=colour, alpha=alpha, linewidth=0)
    return True


def errorbar_point(
    ax: Axes,
    x: float,
    stats: tuple[float, float, float],
    colour: str,
    run_index: int,
) -> None:
    """A mean with its 10-90% range as an error bar; marker and line style name the run."""
    mean, lo, hi = stats
    if not np.isfinite(mean):
        return
    yerr = np.array([[max(mean - lo, 0.0)], [max(hi - mean, 0.0)]])
    container = ax.errorbar(
        [x],
        [mean],
        yerr=yerr,
        color=colour,
        marker=RUN_MARKERS[run_index % len(RUN_MARKERS)],
        markersize=6,
        capsize=3,
        linewidth=1.4,
    )
    for line in container.lines[2]:
        line.set_linestyle(run_linestyle(run_index))


def class_handles(classes: Sequence[str]) -> list[Line2D]:
    return [
        Line2D([], [], color=class_colour(c), linewidth=2.5, label=class_label(c)) for c in classes
    ]


def run_handles(runs: Sequence[Run], markers: bool = False) -> list[Line2D]:
    """Legend entries naming each run by its line style (only when several runs are shown)."""
    if len(runs) < 2:
        return []
    return [
        Line2D(
            [],
            [],
            color="#444444",
            linestyle=run_linestyle(i),
            marker=RUN_MARKERS[i % len(RUN_MARKERS)] if markers else None,
            linewidth=1.6,
            label=run.label,
        )
        for i, run in enumerate(runs)
    ]


def figure_legend(fig: Figure, handles: list[Line2D], title: str | None = None) -> None:
    if handles:
        fig.legend(handles=handles, loc="outside right upper", title=title)


def note_panel(ax: Axes, text: str) -> None:
    """Turn an axis into a boxed note (used when a panel's data is absent)."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9, color="#555555")


def finish(
    fig: Figure,
    title: str,
    runs: Sequence[Run],
    notes: Sequence[str],
    band: bool,
    extra: str = "",
) -> None:
    """Title, and a footnote naming the runs, the replications, how to read the figure
    (``extra``) and what is left out (``notes``)."""
    fig.suptitle(title, fontsize=13, fontweight="bold")
    parts = []
    if len(runs) == 1:
        run = runs[0]
        parts.append(f"Run: {run.label} (scenario {run.scenario_name}, {run.replications} reps).")
    else:
        reps = ", ".join(f"{r.label}: {r.replications}" for r in runs)
        parts.append(f"Runs (replications): {reps}.")
    if band:
        parts.append(BAND_NOTE)
    if extra:
        parts.append(extra)
    text = " ".join(parts)
    if notes:
        text += "\nNot shown: " + "; ".join(notes) + "."
    fig.supxlabel(text, fontsize=7.5, color="#555555", x=0.01, ha="left")
