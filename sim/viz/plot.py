"""Which figures exist (``KINDS``), building them for one or several runs, and ``plot_run``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from sim.viz.access import access_figure, blocks_figure, lorenz_figure, wait_figure
from sim.viz.draw import Built
from sim.viz.price import forward_figure, price_figure
from sim.viz.rundir import Run, load_run
from sim.viz.style import save_figure, style

log = logging.getLogger(__name__)

KINDS: dict[str, Callable[[Sequence[Run]], Built]] = {
    "price": price_figure,
    "access": access_figure,
    "lorenz": lorenz_figure,
    "wait": wait_figure,
    "blocks": blocks_figure,
    "forward": forward_figure,
}
FORMATS = ("png", "svg")

DESCRIPTIONS: dict[str, str] = {
    "price": "Prices over time: each market's price, on-demand list prices by provider class, "
    "the average price each buyer class paid, and the volume traded in each market.",
    "access": "Share of the GPU-hours each buyer class asked for that it was served, period by "
    "period and over the whole run.",
    "lorenz": "How concentrated compute is: the Lorenz curve of GPU-hours served across buyer "
    "agents (Gini in the legend) and each class's share of all compute.",
    "wait": "How fast runs start: the share of runs started within a given number of days, and "
    "the median wait by block size.",
    "blocks": "Whether large runs get concentrated compute: the share of runs completed by block "
    "size, and the largest block each class obtained.",
    "forward": "Forward curves: the curve quoted at each trading session, and the price surface "
    "by session and tenor.",
}


def _resolve(values: Iterable[str], known: tuple[str, ...], alias: str, what: str) -> list[str]:
    """Expand ``alias`` (all of ``known``) and check names; the order is always ``known``'s."""
    wanted: set[str] = set()
    for value in values:
        if value == alias:
            wanted.update(known)
        elif value in known:
            wanted.add(value)
        else:
            allowed = ", ".join([*known, alias])
            raise ValueError(f"unknown {what} {value!r}; allowed: {allowed}")
    return [k for k in known if k in wanted]


def resolve_kinds(kinds: Iterable[str]) -> list[str]:
    return _resolve(kinds, tuple(KINDS), "all", "plot kind")


def resolve_formats(formats: Iterable[str] | str) -> list[str]:
    return _resolve(
        [formats] if isinstance(formats, str) else formats, tuple(FORMATS), "both", "figure format"
    )


def build_figures(runs: Sequence[Run], kinds: Iterable[str] = ("all",)) -> list[Built]:
    """Build each requested figure for the runs (overlaid when there are several)."""
    with style():
        return [KINDS[kind](runs) for kind in resolve_kinds(kinds)]


def save_built(
    built: Sequence[Built], out_dir: Path, formats: Iterable[str], prefix: str = ""
) -> list[Path]:
    paths: list[Path] = []
    for b in built:
        if b.figure is not None:
            paths += save_figure(b.figure, out_dir / f"{prefix}{b.kind}", resolve_formats(formats))
    return paths


def plot_run(
    run_dir: Path | str,
    kinds: Iterable[str] = ("all",),
    formats: Iterable[str] | str = ("png",),
    out_dir: Path | str | None = None,
) -> list[Path]:
    """Draw the figures of one run folder into ``out_dir`` (default ``RUN_DIR/figures``).

    Figures whose data the run lacks (a forward fan without a forward market) are skipped and
    logged; raises ``RunFolderError`` when ``run_dir`` is not a readable run folder.
    """
    run = load_run(run_dir)
    out = Path(out_dir) if out_dir is not None else run.path / "figures"
    built = build_figures([run], kinds)
    for b in built:
        for note in b.notes:
            log.info("%s: %s not shown: %s", run.path, b.kind, note)
    return save_built(built, out, formats)
