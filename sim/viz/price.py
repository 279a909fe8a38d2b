"""Price figures: prices by market over time, on-demand list prices by provider class, the price
each buyer class paid, traded volume, and forward curves as a fan and a surface."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D

from sim.viz.draw import (
    Built,
    class_handles,
    figure_legend,
    finish,
    grid_figure,
    plot_band,
    run_handles,
)
from sim.viz.rundir import Run
from sim.viz.style import (
    BUYER_CLASSES,
    MARKET_MARKERS,
    MARKETS,
    PROVIDER_CLASSES,
    UNITS,
    class_colour,
    market_colour,
    market_label,
    new_figure,
    order_classes,
    run_linestyle,
)

_MAX_BINS = 60
_MAX_FAN_LINES = 30


def _time_bins(run: Run) -> np.ndarray:
    """Bin edges on the run's own day grid, coarsened to at most ``_MAX_BINS`` bins."""
    days = np.unique(run.timeseries["day"].dropna().to_numpy(dtype=float))
    if days.size < 2:
        return np.array([0.0, max(float(days.max()) if days.size else 1.0, 1.0)])
    step = max(1, int(np.ceil(days.size / _MAX_BINS)))
    edges = days[::step]
    return np.append(edges, days[-1] + (days[-1] - days[-2]))


def channel_price_series(run: Run, channel: str) -> pd.DataFrame:
    """Average price of runs started through ``channel``, per replication and time bin,
    weighted by GPU-hours (how contract prices show up over time)."""
    jobs = run.jobs
    needed = {"channel", "start_day", "price_per_gpu_hour", "gpus", "hours", "replication"}
    if not needed <= set(jobs.columns):
        return pd.DataFrame(columns=["replication", "day", "value"])
    j = jobs[(jobs["channel"] == channel) & np.isfinite(jobs["price_per_gpu_hour"])]
    j = j[np.isfinite(j["start_day"])]
    if j.empty:
        return pd.DataFrame(columns=["replication", "day", "value"])
    edges = _time_bins(run)
    idx = np.clip(np.searchsorted(edges, j["start_day"].to_numpy(), side="right") - 1, 0, None)
    idx = np.minimum(idx, edges.size - 2)
    weight = (j["gpus"] * j["hours"]).to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "replication": j["replication"].to_numpy(),
            "day": edges[idx],
            "pw": j["price_per_gpu_hour"].to_numpy(dtype=float) * weight,
            "w": weight,
        }
    )
    g = frame.groupby(["replication", "day"], sort=True)[["pw", "w"]].sum().reset_index()
    g = g[g["w"] > 0]
    g["value"] = g["pw"] / g["w"]
    return g[["replication", "day", "value"]]


def front_forward_series(run: Run) -> pd.DataFrame:
    """The nearest-delivery forward price at each session, per replication."""
    fc = run.forward_curves
    if fc is None or fc.empty:
        return pd.DataFrame(columns=["replication", "day", "value"])
    first = fc.loc[fc.groupby(["replication", "session_day"])["tenor_days"].idxmin()]
    return first.rename(columns={"session_day": "day", "price": "value"})[
        ["replication", "day", "value"]
    ]


def market_price_series(run: Run, market: str) -> pd.DataFrame:
    """Price of one market over time: the recorded series where there is one, else from jobs."""
    if market == "on_demand":
        od = run.metric("on_demand_price")
        return od[od["group"] == "all"]
    if market == "spot" and run.has_metric("spot_price"):
        sp = run.metric("spot_price")
        if (sp["group"] == "all").any():
            return sp[sp["group"] == "all"]
        # Regions only: the unweighted mean across regions stands for the market.
        return sp.groupby(["replication", "day"])["value"].mean().reset_index()
    if market == "forward":
        front = front_forward_series(run)
        if not front.empty:
            return front
    return channel_price_series(run, market)


def _markets_panel(ax: Axes, runs: Sequence[Run]) -> list[str]:
    drawn: list[str] = []
    for i, run in enumerate(runs):
        for market in MARKETS:
            if plot_band(
                ax,
                market_price_series(run, market),
                market_colour(market),
                run_linestyle(i),
                marker=MARKET_MARKERS[market],
            ):
                if market not in drawn:
                    drawn.append(market)
    ax.set_title("Price by market")
    ax.set_xlabel(UNITS["day"])
    ax.set_ylabel(UNITS["price"])
    labels = {
        "on_demand": "On-demand (capacity-weighted list)",
        "contract": "Long-term contract (paid, by start)",
        "spot": "Spot (clearing)",
        "forward": "Forward (nearest delivery)",
    }
    handles = [
        Line2D(
            [],
            [],
            color=market_colour(m),
            marker=MARKET_MARKERS[m],
            label=labels.get(m, market_label(m)),
        )
        for m in MARKETS
        if m in drawn
    ]
    ax.legend(handles=handles, loc="best")
    return drawn


def _class_metric_panel(
    ax: Axes, runs: Sequence[Run], metric: str, classes: Sequence[str], title: str, ylabel: str
) -> list[str]:
    drawn: list[str] = []
    for i, run in enumerate(runs):
        frame = run.metric(metric)
        for cls in classes:
            if plot_band(ax, frame[frame["group"] == cls], class_colour(cls), run_linestyle(i)):
                if cls not in drawn:
                    drawn.append(cls)
    ax.set_title(title)
    ax.set_xlabel(UNITS["day"])
    ax.set_ylabel(ylabel)
    return drawn


def _groups(runs: Sequence[Run], metric: str, known: tuple[str, ...]) -> list[str]:
    names: list[str] = []
    for run in runs:
        names.extend(run.metric(metric)["group"].unique().tolist())
    return order_classes([n for n in names if n != "all"], known)


def price_figure(runs: Sequence[Run]) -> Built:
    """Prices over time: by market, on-demand by provider class, paid by buyer class, volume."""
    notes: list[str] = []
    panels = []
    if any(not market_price_series(r, m).empty for r in runs for m in MARKETS):
        panels.append("markets")
    else:
        notes.append("prices by market (no on-demand, contract, spot or forward prices recorded)")
    providers = _groups(runs, "on_demand_price", PROVIDER_CLASSES)
    if providers:
        panels.append("providers")
    else:
        notes.append("on-demand price by provider class (metric on_demand_price absent)")
    buyers = _groups(runs, "price_paid", BUYER_CLASSES)
    if buyers and any(r.has_metric("price_paid") for r in runs):
        panels.append("buyers")
    else:
        notes.append("price paid by buyer class (metric price_paid absent)")
    if any(r.has_metric("volume") for r in runs):
        panels.append("volume")
    else:
        notes.append("volume by market (metric volume absent)")
    if not panels:
        return Built("price", None, notes)

    fig, axes = grid_figure(len(panels))
    classes: list[str] = []
    for ax, panel in zip(axes, panels, strict=True):
        if panel == "markets":
            _markets_panel(ax, runs)
        elif panel == "providers":
            classes += _class_metric_panel(
                ax,
                runs,
                "on_demand_price",
                providers,
                "On-demand list price by provider class",
                UNITS["price"],
            )
        elif panel == "buyers":
            classes += _class_metric_panel(
                ax,
                runs,
                "price_paid",
                buyers,
                "Average price paid by buyer class",
                UNITS["price"],
            )
        else:
            _volume_panel(ax, runs)
    ordered = order_classes(classes, BUYER_CLASSES + PROVIDER_CLASSES)
    figure_legend(fig, class_handles(ordered) + run_handles(runs))
    finish(fig, "Prices for GPU compute over time", runs, notes, band=True)
    return Built("price", fig, notes)


def _volume_panel(ax: Axes, runs: Sequence[Run]) -> None:
    drawn: list[str] = []
    for i, run in enumerate(runs):
        vol = run.metric("volume")
        names = order_classes(vol["group"].unique().tolist(), MARKETS)
        for market in names:
            marker = MARKET_MARKERS.get(market)
            sub = vol[vol["group"] == market]
            if plot_band(ax, sub, market_colour(market), run_linestyle(i), marker=marker):
                if market not in drawn:
                    drawn.append(market)
    ax.set_title("Volume traded by market")
    ax.set_xlabel(UNITS["day"])
    ax.set_ylabel(f"{UNITS['gpu_hours']} per period")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    handles = [
        Line2D([], [], color=market_colour(m), marker=MARKET_MARKERS.get(m), label=market_label(m))
        for m in drawn
    ]
    ax.legend(handles=handles, loc="best")


def _mean_curves(fc: pd.DataFrame) -> pd.DataFrame:
    return fc.groupby(["session_day", "tenor_days"], as_index=False).agg(
        price=("price", "mean"), delivery_day=("delivery_day", "mean")
    )


def forward_figure(runs: Sequence[Run]) -> Built:
    """Forward curves: each session's curve as a fan coloured by session date, and the surface
    of price by session and tenor (one row per run)."""
    pairs = [(r, fc) for r in runs if (fc := r.forward_curves) is not None and not fc.empty]
    with_curves = [r for r, _ in pairs]
    notes = [
        f"forward curves for {r.label} (no forward market: forward_curves.parquet absent)"
        for r in runs
        if r not in with_curves
    ]
    if not with_curves:
        return Built("forward", None, notes)
    fig = new_figure(17.0, 3.9 * len(with_curves) + 0.9)
    axes = fig.subplots(len(with_curves), 3, squeeze=False)
    for (ax_fan, ax_surface, ax_basis), (run, table) in zip(axes, pairs, strict=True):
        curves = _mean_curves(table)
        _fan(fig, ax_fan, curves, run)
        _surface(fig, ax_surface, curves, run)
        if not _basis(ax_basis, table, run):
            ax_basis.set_axis_off()
            notes.append(f"basis by tenor for {run.label} (no settled windows)")
    extra = "Curves are means over replications; the basis band spans replications."
    finish(fig, "Forward curves: price by delivery date", with_curves, notes, False, extra)
    return Built("forward", fig, notes)


def basis_by_tenor(fc: pd.DataFrame) -> pd.DataFrame:
    """Mean |forward price - settlement index| by tenor, as a share of the index's mean level,
    per replication (traded or quoted windows that have settled)."""
    if "settlement_index" not in fc:
        return pd.DataFrame(columns=["replication", "tenor_days", "basis"])
    ok = fc[np.isfinite(fc["price"]) & np.isfinite(fc["settlement_index"])]
    level = ok.groupby("replication")["settlement_index"].transform("mean")
    ok = ok.assign(basis=(ok["price"] - ok["settlement_index"]).abs() / level)
    ok = ok[np.isfinite(ok["basis"])]
    return ok.groupby(["replication", "tenor_days"], as_index=False)["basis"].mean()


def _basis(ax: Axes, fc: pd.DataFrame, run: Run) -> bool:
    per_rep = basis_by_tenor(fc)
    if per_rep.empty:
        return False
    stats = per_rep.groupby("tenor_days")["basis"].agg(["mean", "min", "max"]).reset_index()
    x = stats["tenor_days"].to_numpy(dtype=float)
    ax.fill_between(x, stats["min"], stats["max"], color="0.8", linewidth=0)
    ax.plot(x, stats["mean"], color="0.15", linewidth=1.6, marker=".")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Convergence: basis by tenor: {run.label}")
    ax.set_xlabel("Tenor (days from session to delivery)")
    ax.set_ylabel("|forward - index| / index level")
    return True


def _fan(fig, ax: Axes, curves: pd.DataFrame, run: Run) -> None:
    sessions = np.unique(curves["session_day"].to_numpy())
    if sessions.size > _MAX_FAN_LINES:
        keep = np.unique(np.linspace(0, sessions.size - 1, _MAX_FAN_LINES).round().astype(int))
        sessions = sessions[keep]
    norm = Normalize(float(sessions.min()), float(max(sessions.max(), sessions.min() + 1)))
    cmap = colormaps["viridis"]
    for s in sessions:
        c = curves[curves["session_day"] == s].sort_values("delivery_day")
        ax.plot(c["delivery_day"], c["price"], color=cmap(norm(s)), linewidth=1.3, marker=".")
    mappable = ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(mappable, ax=ax, label="Trading session (day)", fraction=0.05, pad=0.02)
    ax.set_title(f"Forward curve at each session: {run.label}")
    ax.set_xlabel("Delivery date (simulated day)")
    ax.set_ylabel(UNITS["price"])


def _surface(fig, ax: Axes, curves: pd.DataFrame, run: Run) -> None:
    # sessions more frequent than delivery windows give every session its own tenors; bin
    # tenors by the spacing of delivery dates so that the surface has no holes
    delivery = np.unique(curves["delivery_day"].to_numpy(dtype=float))
    spacing = float(np.diff(delivery).min()) if delivery.size > 1 else 0.0
    tenor = curves["tenor_days"].to_numpy(dtype=float)
    if spacing > 0 and np.unique(tenor).size > 2 * np.unique(np.ceil(tenor / spacing)).size:
        curves = curves.assign(tenor_days=np.ceil(tenor / spacing) * spacing)
    table = curves.pivot_table(index="session_day", columns="tenor_days", values="price")
    tenors = table.columns.to_numpy(dtype=float)
    mesh = ax.pcolormesh(
        np.arange(tenors.size),
        table.index.to_numpy(dtype=float),
        table.to_numpy(dtype=float),
        shading="nearest",
        cmap="magma",
    )
    fig.colorbar(mesh, ax=ax, label=UNITS["price"], fraction=0.05, pad=0.02)
    step = max(1, tenors.size // 8)
    ax.set_xticks(np.arange(tenors.size)[::step], [f"{t:g}" for t in tenors[::step]])
    ax.set_title(f"Price surface by session and tenor: {run.label}")
    ax.set_xlabel("Tenor (days from session to delivery)")
    ax.set_ylabel("Trading session (day)")
    ax.grid(False)
