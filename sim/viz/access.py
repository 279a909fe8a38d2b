"""Access figures: who is served over time, which block sizes complete, how compute is spread
across agents (Lorenz curve and Gini), and how long runs wait to start."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.viz.draw import (
    Built,
    class_handles,
    errorbar_point,
    figure_legend,
    finish,
    grid_figure,
    plot_band,
    run_handles,
)
from sim.viz.rundir import Run
from sim.viz.stats import (
    BLOCK_LABELS,
    block_bucket,
    ecdf_with_never,
    gini,
    lorenz_on_grid,
    spread,
)
from sim.viz.style import (
    BAND_QUANTILES,
    BUYER_CLASSES,
    UNITS,
    class_colour,
    class_label,
    order_classes,
    run_linestyle,
)

_LORENZ_GRID = np.linspace(0.0, 1.0, 201)
RESOLVED = ("completed", "abandoned", "killed")


def _has_columns(frame: pd.DataFrame | None, columns: set[str]) -> bool:
    return frame is not None and not frame.empty and columns <= set(frame.columns)


def _buyer_classes(runs: Sequence[Run], column_source: str = "agents") -> list[str]:
    names: list[str] = []
    for run in runs:
        frame = getattr(run, column_source)
        if "agent_class" in frame.columns:
            names.extend(frame["agent_class"].dropna().unique().tolist())
    return order_classes(names, BUYER_CLASSES)


def _offsets(n: int, width: float = 0.7) -> np.ndarray:
    """Horizontal offsets that spread ``n`` markers around a category's position."""
    if n <= 1:
        return np.zeros(1)
    return np.linspace(-width / 2, width / 2, n)


def _category_axis(ax: Axes, classes: Sequence[str]) -> None:
    ax.set_xticks(np.arange(len(classes)), [class_label(c) for c in classes])
    ax.set_xlim(-0.6, len(classes) - 0.4)
    ax.grid(axis="x", visible=False)


# --- served share ------------------------------------------------------------------------------


def _served_over_time(axes: list[Axes], runs: Sequence[Run], classes: list[str]) -> None:
    """One axis for every class when a single run is shown; one axis per class otherwise."""
    per_class = len(axes) > 1
    for i, run in enumerate(runs):
        frame = run.metric("served_share")
        for k, cls in enumerate(classes):
            ax = axes[k] if per_class else axes[0]
            plot_band(ax, frame[frame["group"] == cls], class_colour(cls), run_linestyle(i))
    for k, ax in enumerate(axes):
        name = f": {class_label(classes[k])}" if per_class else ""
        ax.set_title(f"Share of demanded GPU-hours served{name}")
        ax.set_xlabel(UNITS["day"])
        ax.set_ylabel("Share served (0-1)")
        ax.set_ylim(-0.02, 1.02)


def _served_overall(ax: Axes, runs: Sequence[Run], classes: list[str]) -> None:
    offsets = _offsets(len(runs), 0.5)
    for i, run in enumerate(runs):
        a = run.agents
        for k, cls in enumerate(classes):
            g = a[a["agent_class"] == cls].groupby("replication")
            share = g["served_gpu_hours"].sum() / g["demanded_gpu_hours"].sum()
            errorbar_point(ax, k + offsets[i], spread(share.to_numpy()), class_colour(cls), i)
    _category_axis(ax, classes)
    ax.set_title("Share of demanded GPU-hours served, whole run")
    ax.set_ylabel("Share served (0-1)")
    ax.set_ylim(-0.02, 1.02)


def access_figure(runs: Sequence[Run]) -> Built:
    notes: list[str] = []
    series = [r for r in runs if r.has_metric("served_share")]
    groups: list[str] = []
    for run in series:
        groups.extend(run.metric("served_share")["group"].unique().tolist())
    ts_classes = order_classes(groups, (*BUYER_CLASSES, "all"))
    agent_cols = {"agent_class", "replication", "served_gpu_hours", "demanded_gpu_hours"}
    overall = all(_has_columns(r.agents, agent_cols) for r in runs)
    if not ts_classes:
        notes.append("served share over time (metric served_share absent)")
    if not overall:
        notes.append("whole-run served share (agents.parquet lacks served/demanded GPU-hours)")
    n_time = (len(ts_classes) if len(runs) > 1 else 1) if ts_classes else 0
    if n_time + overall == 0:
        return Built("access", None, notes)
    fig, axes = grid_figure(n_time + int(overall))
    if n_time:
        _served_over_time(axes[:n_time], series, ts_classes)
    classes = _buyer_classes(runs) if overall else []
    if overall:
        _served_overall(axes[-1], runs, classes)
    legend_classes = order_classes(ts_classes + classes, (*BUYER_CLASSES, "all"))
    figure_legend(fig, class_handles(legend_classes) + run_handles(runs, markers=overall))
    finish(fig, "Access: who gets the GPU-hours they ask for", runs, notes, band=True)
    return Built("access", fig, notes)


# --- block sizes -------------------------------------------------------------------------------


def completion_by_block(jobs: pd.DataFrame) -> pd.DataFrame:
    """Share of runs completed per replication, class and block-size bucket.

    Only runs whose fate is known count: completed, abandoned or killed. Runs still waiting or
    running when the horizon ends are left out rather than counted as failures."""
    resolved = jobs[jobs["status"].isin(RESOLVED)]
    j = resolved.assign(
        bucket=block_bucket(resolved["gpus"]), done=resolved["status"] == "completed"
    )
    out = (
        j.groupby(["replication", "agent_class", "bucket"], observed=True)["done"]
        .agg(["mean", "size"])
        .reset_index()
        .rename(columns={"mean": "completed_share", "size": "runs"})
    )
    return out


def _bucket_points(
    ax: Axes, tables: Sequence[pd.DataFrame], classes: Sequence[str], column: str
) -> None:
    """Per-replication values by class and block-size bucket, one table per run, drawn as
    means with 10-90% bars; classes are spread around each bucket's position."""
    slots = [(i, cls) for cls in classes for i in range(len(tables))]
    offsets = dict(zip(slots, _offsets(len(slots), 0.6), strict=True))
    for i, table in enumerate(tables):
        for cls in classes:
            sub = table[table["agent_class"] == cls]
            xs, stats = [], []
            for b, label in enumerate(BLOCK_LABELS):
                values = sub.loc[sub["bucket"] == label, column].to_numpy()
                if values.size:
                    xs.append(b + offsets[(i, cls)])
                    stats.append(spread(values))
            if not xs:
                continue
            colour = class_colour(cls)
            ax.plot(xs, [s[0] for s in stats], color=colour, linestyle=run_linestyle(i), lw=1.0)
            for x, st in zip(xs, stats, strict=True):
                errorbar_point(ax, x, st, colour, i)
    ax.set_xticks(np.arange(len(BLOCK_LABELS)), list(BLOCK_LABELS))
    ax.grid(axis="x", visible=False)
    ax.set_xlabel("Block size of the run (GPUs)")


def _completion_panel(ax: Axes, runs: Sequence[Run], classes: list[str]) -> None:
    _bucket_points(ax, [completion_by_block(r.jobs) for r in runs], classes, "completed_share")
    ax.set_title("Share of training runs completed, by block size")
    ax.set_ylabel("Share of runs completed (0-1)")
    ax.set_ylim(-0.02, 1.02)


def _largest_block_panel(ax: Axes, runs: Sequence[Run], classes: list[str]) -> None:
    offsets = _offsets(len(runs), 0.5)
    positive = True
    for i, run in enumerate(runs):
        a = run.agents
        for k, cls in enumerate(classes):
            per_rep = a[a["agent_class"] == cls].groupby("replication")["largest_block_gpus"].max()
            stats = spread(per_rep.to_numpy())
            positive &= bool(np.isfinite(stats[1]) and stats[1] > 0)
            errorbar_point(ax, k + offsets[i], stats, class_colour(cls), i)
    if positive:
        ax.set_yscale("log")
    _category_axis(ax, classes)
    ax.set_title("Largest block obtained by any agent of the class")
    ax.set_ylabel(f"Largest block ({UNITS['gpus']})")


def blocks_figure(runs: Sequence[Run]) -> Built:
    notes: list[str] = []
    job_cols = {"replication", "agent_class", "gpus", "status"}
    completion = all(_has_columns(r.jobs, job_cols) for r in runs)
    largest = all(
        _has_columns(r.agents, {"replication", "agent_class", "largest_block_gpus"}) for r in runs
    )
    if not completion:
        notes.append("completion by block size (jobs.parquet has no runs or lacks gpus/status)")
    if not largest:
        notes.append("largest block (agents.parquet lacks largest_block_gpus)")
    if not (completion or largest):
        return Built("blocks", None, notes)
    fig, axes = grid_figure(int(completion) + int(largest))
    classes = order_classes(
        (_buyer_classes(runs, "jobs") if completion else [])
        + (_buyer_classes(runs) if largest else []),
        BUYER_CLASSES,
    )
    if completion:
        _completion_panel(axes[0], runs, classes)
    if largest:
        _largest_block_panel(axes[-1], runs, _buyer_classes(runs))
    figure_legend(fig, class_handles(classes) + run_handles(runs, markers=True))
    lo, hi = (round(q * 100) for q in BAND_QUANTILES)
    extra = (
        f"Points: mean over replications; bars: {lo}th-{hi}th percentile."
        " Completion: completed / (completed + abandoned + killed) runs."
    )
    title = "Block sizes: can large training runs get concentrated compute?"
    finish(fig, title, runs, notes, band=False, extra=extra)
    return Built("blocks", fig, notes)


# --- distribution of compute -------------------------------------------------------------------


def _lorenz_panel(ax: Axes, runs: Sequence[Run]) -> None:
    ax.plot([0, 1], [0, 1], color="#999999", linestyle=":", linewidth=1.0, label="Equal shares")
    for i, run in enumerate(runs):
        curves, ginis = [], []
        for _, g in run.agents.groupby("replication", sort=True):
            served = g["served_gpu_hours"].to_numpy(dtype=float)
            curves.append(lorenz_on_grid(served, _LORENZ_GRID))
            ginis.append(gini(served))
        stack = np.vstack(curves)
        lo, hi = np.quantile(stack, BAND_QUANTILES, axis=0)
        g_mean, g_lo, g_hi = spread(np.array(ginis))
        name = "All buyers" if len(runs) == 1 else run.label
        spread_text = f" ({g_lo:.2f}-{g_hi:.2f})" if len(ginis) > 1 else ""
        colour = class_colour("all")
        ax.plot(
            _LORENZ_GRID,
            stack.mean(axis=0),
            color=colour,
            linestyle=run_linestyle(i),
            linewidth=1.8,
            label=f"{name}: Gini {g_mean:.2f}{spread_text}",
        )
        if len(curves) > 1:
            ax.fill_between(_LORENZ_GRID, lo, hi, color=colour, alpha=0.12, linewidth=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_title("Lorenz curve of compute across buyers")
    ax.set_xlabel("Share of buyer agents, fewest GPU-hours first")
    ax.set_ylabel("Share of all GPU-hours served")
    ax.legend(loc="upper left", title="Gini (10th-90th percentile)")


def _class_share_panel(ax: Axes, runs: Sequence[Run], classes: list[str]) -> None:
    offsets = _offsets(len(runs), 0.5)
    for i, run in enumerate(runs):
        a = run.agents
        total = a.groupby("replication")["served_gpu_hours"].sum()
        agents_total = a.groupby("replication").size()
        for k, cls in enumerate(classes):
            sub = a[a["agent_class"] == cls].groupby("replication")
            share = (sub["served_gpu_hours"].sum() / total).dropna()
            errorbar_point(ax, k + offsets[i], spread(share.to_numpy()), class_colour(cls), i)
            pop = float((sub.size() / agents_total).mean())
            ax.plot(
                [k + offsets[i]], [pop], marker="_", markersize=16, color="#777777", linewidth=0
            )
    _category_axis(ax, classes)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Share of all compute by class (grey dash: share of agents)")
    ax.set_ylabel("Share of GPU-hours served (0-1)")


def lorenz_figure(runs: Sequence[Run]) -> Built:
    cols = {"replication", "agent_class", "served_gpu_hours"}
    if not all(_has_columns(r.agents, cols) for r in runs):
        return Built("lorenz", None, ["Lorenz curve (agents.parquet lacks served_gpu_hours)"])
    classes = _buyer_classes(runs)
    fig, axes = grid_figure(2)
    _lorenz_panel(axes[0], runs)
    _class_share_panel(axes[1], runs, classes)
    figure_legend(fig, class_handles(classes) + run_handles(runs, markers=True))
    finish(fig, "Distribution: how concentrated is compute?", runs, [], band=True)
    return Built("lorenz", fig, [])


# --- waiting -----------------------------------------------------------------------------------


def _ecdf_panel(ax: Axes, runs: Sequence[Run], classes: list[str]) -> None:
    longest = 0.0
    for i, run in enumerate(runs):
        for cls in classes:
            waits = run.jobs.loc[run.jobs["agent_class"] == cls, "wait_days"].to_numpy(float)
            if waits.size == 0:
                continue
            x, y = ecdf_with_never(waits)
            longest = max(longest, float(x[-1]))
            never = 1.0 - y[-1]
            label = f"{class_label(cls)} (not started: {never:.0%})" if len(runs) == 1 else None
            ax.step(
                x,
                y,
                where="post",
                color=class_colour(cls),
                linestyle=run_linestyle(i),
                linewidth=1.6,
                label=label,
            )
    ax.set_xlim(0, max(longest * 1.02, 1.0))
    ax.set_ylim(0, 1.02)
    ax.set_title("Time to start: share of runs started within x days")
    ax.set_xlabel(UNITS["wait"])
    ax.set_ylabel("Share of all runs of the class (0-1)")
    if len(runs) == 1:
        ax.legend(loc="lower right")


def mean_wait_by_block(jobs: pd.DataFrame) -> pd.DataFrame:
    """Mean wait of runs that started, per replication, class and block-size bucket."""
    j = jobs[np.isfinite(jobs["wait_days"])]
    j = j.assign(bucket=block_bucket(j["gpus"]))
    keys = ["replication", "agent_class", "bucket"]
    return j.groupby(keys, observed=True)["wait_days"].mean().reset_index()


def _mean_wait_panel(ax: Axes, runs: Sequence[Run], classes: list[str]) -> None:
    _bucket_points(ax, [mean_wait_by_block(r.jobs) for r in runs], classes, "wait_days")
    ax.set_title("Mean wait of runs that started, by block size")
    ax.set_ylabel(UNITS["wait"])


def wait_figure(runs: Sequence[Run]) -> Built:
    cols = {"agent_class", "wait_days"}
    if not all(_has_columns(r.jobs, cols) for r in runs):
        return Built("wait", None, ["time to start (jobs.parquet has no runs or lacks wait_days)"])
    classes = _buyer_classes(runs, "jobs")
    with_blocks = all("gpus" in r.jobs.columns for r in runs)
    fig, axes = grid_figure(1 + int(with_blocks))
    _ecdf_panel(axes[0], runs, classes)
    if with_blocks:
        _mean_wait_panel(axes[1], runs, classes)
    figure_legend(fig, class_handles(classes) + run_handles(runs, markers=with_blocks))
    notes = [] if with_blocks else ["mean wait by block size (jobs.parquet lacks gpus)"]
    extra = (
        "Left: runs of all replications pooled; runs not started by the end keep the curve"
        " below 1. Right: points are means over replications, bars 10th-90th percentile."
    )
    finish(fig, "Speed: how long runs wait for compute", runs, notes, band=False, extra=extra)
    return Built("wait", fig, notes)
