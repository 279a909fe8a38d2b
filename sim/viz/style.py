"""One look for every figure: class colours and labels, units, line styles per run, and saving
with deterministic bytes.

Every figure takes its colours from ``class_colour`` so that a class has the same colour in the
price, access, block, Lorenz and waiting-time figures, in ``sim plot``, ``sim compare`` and the
HTML report alike.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

BUYER_CLASSES: tuple[str, ...] = ("frontier_labs", "startups", "academics", "public_programme")
PROVIDER_CLASSES: tuple[str, ...] = ("hyperscalers", "neoclouds", "market_makers")
MARKETS: tuple[str, ...] = ("on_demand", "contract", "spot", "forward")

# Okabe-Ito palette: distinguishable with the common forms of colour blindness.
CLASS_COLOURS: dict[str, str] = {
    "frontier_labs": "#D55E00",
    "startups": "#E69F00",
    "academics": "#0072B2",
    "public_programme": "#009E73",
    "hyperscalers": "#CC79A7",
    "neoclouds": "#56B4E9",
    "market_makers": "#A89200",
    "all": "#000000",
}

CLASS_LABELS: dict[str, str] = {
    "frontier_labs": "Frontier labs",
    "startups": "Startups",
    "academics": "Academics",
    "public_programme": "Public programme",
    "hyperscalers": "Hyperscalers",
    "neoclouds": "Neoclouds",
    "market_makers": "Market makers",
    "all": "All",
}

# Markets are not agent classes: dark hues plus a marker keep them apart from the class palette.
MARKET_COLOURS: dict[str, str] = {
    "on_demand": "#333333",
    "contract": "#8C6D31",
    "spot": "#7B3294",
    "forward": "#1B7837",
}
MARKET_MARKERS: dict[str, str] = {"on_demand": "o", "contract": "s", "spot": "^", "forward": "D"}
MARKET_LABELS: dict[str, str] = {
    "on_demand": "On-demand",
    "contract": "Long-term contract",
    "spot": "Spot",
    "forward": "Forward",
    "public": "Public allocation",
    "none": "Not served",
}

RUN_LINESTYLES: tuple = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3)))

UNITS: dict[str, str] = {
    "day": "Simulated time (days)",
    "price": "$ per GPU-hour",
    "share": "Share (0-1)",
    "gpus": "GPUs",
    "gpu_hours": "GPU-hours",
    "wait": "Days from arrival to start",
}

BAND_NOTE = "Line: mean over replications; shaded band: 10th-90th percentile."
BAND_QUANTILES: tuple[float, float] = (0.10, 0.90)

_FALLBACK_COLOURS = ("#666666", "#999999", "#4D4D4D", "#B3B3B3", "#808080")
_SVG_HASHSALT = "compute-market-sim"
_DPI = 110

RC: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.5,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.6,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.hashsalt": _SVG_HASHSALT,
    "svg.fonttype": "path",
    "path.simplify": True,
}


def class_colour(name: str) -> str:
    """The one colour of an agent class (a stable grey for classes not yet known here)."""
    if name in CLASS_COLOURS:
        return CLASS_COLOURS[name]
    digest = hashlib.sha256(name.encode()).digest()
    return _FALLBACK_COLOURS[digest[0] % len(_FALLBACK_COLOURS)]


def class_label(name: str) -> str:
    return CLASS_LABELS.get(name, name.replace("_", " ").capitalize())


def market_colour(name: str) -> str:
    return MARKET_COLOURS.get(name, class_colour(name))


def market_label(name: str) -> str:
    return MARKET_LABELS.get(name, name.replace("_", " ").capitalize())


def run_linestyle(index: int):
    return RUN_LINESTYLES[index % len(RUN_LINESTYLES)]


def order_classes(names: Iterable[str], known: tuple[str, ...]) -> list[str]:
    """Known classes in their canonical order, then any others alphabetically."""
    present = set(names)
    return [c for c in known if c in present] + sorted(present - set(known))


@contextmanager
def style() -> Iterator[None]:
    """Build and save figures inside this so every figure picks up the same rc settings."""
    with mpl.rc_context(RC):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure not registered with pyplot: no global state, safe to build in any thread."""
    return Figure(figsize=(width, height), layout="constrained", dpi=_DPI)


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure encoded as PNG or SVG; the same figure always gives the same bytes."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"figure format must be 'png' or 'svg', not {fmt!r}")
    metadata = {"Software": None} if fmt == "png" else {"Date": None}
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format=fmt, metadata=metadata, dpi=_DPI)
    return buf.getvalue()


def save_figure(fig: Figure, stem: Path, formats: Iterable[str]) -> list[Path]:
    """Write ``stem.<fmt>`` for each format and return the paths written."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        path.write_bytes(figure_bytes(fig, fmt))
        paths.append(path)
    return paths


METRIC_LABELS: dict[str, str] = {
    "served_share": "Share of demanded GPU-hours served",
    "large_run_completion": "Share of large runs completed",
    "price_paid": "Average price paid ($ per GPU-hour)",
    "on_demand_price": "On-demand price ($ per GPU-hour)",
    "spot_price": "Spot price ($ per GPU-hour)",
    "utilization": "Utilization (share of GPU-hours used)",
    "provider_profit": "Provider profit ($)",
    "gini_compute": "Gini of compute across buyers",
    "wait_days": "Days from arrival to start",
    "surplus": "Surplus ($)",
}


def metric_label(name: str) -> str:
    """A reader's name for a summary metric such as ``served_share.academics``."""
    base, _, qualifier = name.partition(".")
    label = METRIC_LABELS.get(base, base.replace("_", " ").capitalize())
    if not qualifier:
        return label
    if qualifier in CLASS_LABELS or qualifier in BUYER_CLASSES + PROVIDER_CLASSES:
        return f"{label}: {class_label(qualifier)}"
    return f"{label} ({qualifier.replace('_', ' ')})"
