"""Figures of a sweep: sensitivity indices, tornado charts and two-parameter heatmaps.

Figures are drawn on ``matplotlib.figure.Figure`` objects (no pyplot state, no display needed)
and saved without timestamps or software versions, so the same sweep gives byte-identical files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.sweep.sensitivity import low_high_masks
from sim.sweep.spec import SweepSpec

_NO_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
}
_UNIT_WORDS = (
    ("price", "$/GPU-h"),
    ("profit", "$"),
    ("revenue", "$"),
    ("surplus", "$"),
    ("cost", "$"),
    ("share", "share"),
    ("completion", "share"),
    ("utilization", "share"),
)
_INDEX_NAMES = {
    "S1": "first-order S1",
    "ST": "total ST",
    "mu_star": "mu* (mean |elementary effect|)",
    "sigma": "sigma (interactions, non-linearity)",
    "spearman": "Spearman rank correlation",
}


def metric_label(name: str) -> str:
    """The metric's name with a unit guessed from its words (prices, money, shares)."""
    lowered = name.lower()
    for word, unit in _UNIT_WORDS:
        if word in lowered:
            return f"{name} [{unit}]"
    return name


def _param_label(spec: SweepSpec, path: str) -> str:
    for p in spec.parameters:
        if p.path == path:
            return p.label
    return path


def file_stem(metric: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", metric)


def save_figure(fig: Figure, path: Path) -> Path:
    """Save without run-dependent metadata; SVG ids come from a fixed salt."""
    fmt = path.suffix.lstrip(".").lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.hashsalt": "sim-sweep", "svg.fonttype": "path"}):
        fig.savefig(path, format=fmt, metadata=_NO_METADATA.get(fmt), dpi=120)
    return path


def _new_figure(n_rows: int) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(8.0, 1.6 + 0.45 * max(n_rows, 2)), layout="constrained")
    return fig, fig.add_subplot()


def plot_indices(indices: pd.DataFrame, spec: SweepSpec, metric: str, path: Path) -> Path | None:
    """Bar chart of the method's indices of ``metric`` for each parameter, with 95% intervals."""
    rows = indices[indices["metric"] == metric]
    shown = {"sobol": ["S1", "ST"], "morris": ["mu_star", "sigma"]}.get(spec.method, ["spearman"])
    rows = rows[rows["index"].isin(shown)]
    if rows.empty:
        return None
    wide = rows.pivot(index="parameter", columns="index", values="value").reindex(columns=shown)
    conf = rows.pivot(index="parameter", columns="index", values="conf").reindex(columns=shown)
    order = wide[shown[-1] if spec.method == "sobol" else shown[0]].abs().sort_values().index
    wide, conf = wide.loc[order], conf.loc[order]
    fig, ax = _new_figure(len(wide))
    y = np.arange(len(wide))
    height = 0.8 / len(shown)
    for k, name in enumerate(shown):
        pos = y + (k - (len(shown) - 1) / 2) * height
        values = wide[name].to_numpy(dtype=float)
        ax.barh(pos, values, height=height, label=_INDEX_NAMES.get(name, name))
        err = conf[name].to_numpy(dtype=float)
        has = np.isfinite(err)
        if has.any():
            ax.errorbar(values[has], pos[has], xerr=err[has], fmt="none", ecolor="black", capsize=3)
    ax.set_yticks(y, [_param_label(spec, p) for p in wide.index])
    ax.axvline(0.0, color="black", linewidth=0.8)
    xlabel = {
        "sobol": "share of output variance",
        "morris": f"change of {metric_label(metric)} over the full parameter range",
    }.get(spec.method, "rank correlation with the metric")
    ax.set_xlabel(xlabel)
    ax.set_title(f"{spec.method.capitalize()} sensitivity of {metric} (bars: 95% intervals)")
    fig.legend(loc="outside lower center", ncols=len(shown), fontsize="small")
    return save_figure(fig, path)


def plot_tornado(means: pd.DataFrame, spec: SweepSpec, metric: str, path: Path) -> Path | None:
    """Mean of ``metric`` where each parameter is low vs high, around the overall mean."""
    y_all = means[metric].to_numpy(dtype=float)
    ok = np.isfinite(y_all)
    if ok.sum() < 3:
        return None
    base = float(y_all[ok].mean())
    bars: list[tuple[str, float, float]] = []  # (label, mean when low, mean when high)
    for param in spec.parameters:
        x = means[param.path].to_numpy(dtype=float)[ok]
        if np.ptp(x) == 0:
            continue
        low, high = low_high_masks(x, spec.method)
        bars.append((param.label, float(y_all[ok][low].mean()), float(y_all[ok][high].mean())))
    if not bars:
        return None
    bars.sort(key=lambda b: abs(b[2] - b[1]))
    fig, ax = _new_figure(len(bars))
    y = np.arange(len(bars))
    words = (
        ("lowest level", "highest level")
        if spec.method == "grid"
        else ("bottom third", "top third")
    )
    # Side by side rather than overlaid: low and high can move the metric the same way.
    for k, (colour, word) in enumerate((("tab:blue", words[0]), ("tab:orange", words[1]))):
        ax.barh(
            y + (0.2 if k == 0 else -0.2),
            [(high if k else low) - base for _, low, high in bars],
            left=base,
            height=0.4,
            color=colour,
            label=f"parameter {word}",
        )
    ax.axvline(base, color="black", linewidth=0.8)
    ax.set_yticks(y, [b[0] for b in bars])
    ax.set_xlabel(f"mean {metric_label(metric)} (line: mean over all points)")
    ax.set_title(f"Tornado: what moves {metric}")
    fig.legend(loc="outside lower center", ncols=2, fontsize="small")
    return save_figure(fig, path)


def plot_heatmap(means: pd.DataFrame, spec: SweepSpec, metric: str, path: Path) -> Path | None:
    """``metric`` over a two-parameter grid (mean over replications)."""
    if spec.method != "grid" or len(spec.parameters) != 2:
        return None
    px, py = spec.parameters
    grid = means.pivot_table(
        index=py.path, columns=px.path, values=metric, aggfunc="mean", dropna=False
    )
    fig = Figure(figsize=(7.0, 5.5), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(grid.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
    _level_ticks(ax.set_xticks, grid.columns)
    _level_ticks(ax.set_yticks, grid.index)
    ax.set_xlabel(px.label)
    ax.set_ylabel(py.label)
    ax.set_title(f"Mean {metric} over the grid")
    fig.colorbar(image, ax=ax, label=metric_label(metric))
    return save_figure(fig, path)


def _level_ticks(set_ticks: Callable[..., object], levels: pd.Index) -> None:
    step = max(1, int(np.ceil(len(levels) / 10)))
    positions = np.arange(0, len(levels), step)
    set_ticks(positions, [f"{levels[int(i)]:.3g}" for i in positions])


def plot_sweep(
    means: pd.DataFrame,
    indices: pd.DataFrame,
    spec: SweepSpec,
    metrics: list[str],
    out_dir: Path,
    fmt: str = "png",
) -> list[Path]:
    """Every figure for ``metrics`` under ``out_dir``: indices, tornado (lhs/grid), heatmap."""
    written: list[Path] = []
    for metric in metrics:
        if metric not in means.columns:
            continue
        stem = file_stem(metric)
        made = [plot_indices(indices, spec, metric, out_dir / f"{stem}-{spec.method}.{fmt}")]
        if spec.method in ("lhs", "grid"):
            made.append(plot_tornado(means, spec, metric, out_dir / f"{stem}-tornado.{fmt}"))
            made.append(plot_heatmap(means, spec, metric, out_dir / f"{stem}-heatmap.{fmt}"))
        written.extend(p for p in made if p is not None)
    return written


def plot_peeling(
    trajectory: pd.DataFrame, chosen: int, threshold: float | None, path: Path
) -> Path:
    """PRIM's peeling trajectory: coverage against density, with the chosen box marked."""
    fig = Figure(figsize=(6.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(trajectory["coverage"], trajectory["density"], marker=".", color="tab:blue")
    row = trajectory.iloc[chosen]
    ax.plot(
        [row["coverage"]],
        [row["density"]],
        marker="o",
        markersize=10,
        color="tab:red",
        label="chosen box",
    )
    if threshold is not None:
        ax.axhline(
            threshold, color="grey", linestyle="--", linewidth=0.8, label="density threshold"
        )
    ax.set_xlabel("coverage (share of all cases of interest inside the box)")
    ax.set_ylabel("density (share of points in the box that are cases)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title("PRIM peeling trajectory")
    ax.legend(loc="lower left", fontsize="small")
    return save_figure(fig, path)
