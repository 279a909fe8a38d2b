"""A self-contained HTML report of one or several runs: scenario, headline metrics with their
spread, every figure (embedded, no external files) and, for several runs, the comparison."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sim import __version__
from sim.viz.compare import compare_table, metric_values
from sim.viz.draw import Built
from sim.viz.plot import DESCRIPTIONS, build_figures
from sim.viz.rundir import Run, RunFolderError, load_runs
from sim.viz.style import figure_bytes, metric_label

_CSS = """
:root { --ink: #1d1d1f; --muted: #5f6368; --rule: #e3e3e3; --accent: #0072B2; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       color: var(--ink); margin: 0; background: #fafafa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; background: white; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 21px; margin-top: 40px; padding-top: 12px; border-top: 2px solid var(--ink); }
h3 { font-size: 16px; margin: 26px 0 8px; }
p.lede, p.note, figcaption, .meta { color: var(--muted); }
nav a { margin-right: 14px; color: var(--accent); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.meta dt { font-weight: 600; color: var(--ink); }
dl.meta dd { margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
details { margin: 10px 0; border: 1px solid var(--rule); border-radius: 6px; padding: 6px 12px; }
summary { cursor: pointer; font-weight: 600; }
pre { overflow-x: auto; font-size: 13px; background: #f6f8fa; padding: 10px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 6px 0 12px; }
th, td { text-align: right; padding: 4px 10px; border-bottom: 1px solid var(--rule); }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
td.yes { color: #1b7837; font-weight: 600; }
code { font-size: 12px; color: var(--muted); }
figure.plot { margin: 18px 0 30px; }
figure.plot img, figure.plot svg { max-width: 100%; height: auto; display: block; }
"""

# Reports how many figures actually rendered, for a reader's devtools and for tests.
_SCRIPT = """
window.addEventListener("load", function () {
  var ok = 0;
  document.querySelectorAll("figure.plot img").forEach(function (img) {
    if (img.complete && img.naturalWidth > 0 && img.naturalHeight > 0) { ok += 1; }
  });
  document.querySelectorAll("figure.plot > svg").forEach(function (svg) {
    var box = svg.getBoundingClientRect();
    if (box.width > 0 && box.height > 0) { ok += 1; }
  });
  document.body.setAttribute("data-figures-loaded", String(ok));
});
"""


def _fmt(x: float | None) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:,.3f}" if abs(x) < 100 else f"{x:,.0f}"


def _inline_svg(data: bytes, kind: str) -> str:
    """SVG markup for inlining; ids are prefixed by the figure's digest because every inline
    SVG shares the page's id space."""
    svg = data.decode()
    svg = svg[svg.index("<svg") :]
    prefix = "f" + hashlib.sha256(data).hexdigest()[:10] + "-"
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
    svg = re.sub(r'\b(xlink:href|href)="#([^"]+)"', rf'\1="#{prefix}\2"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)
    return svg.replace("<svg", f'<svg role="img" aria-label="{kind} figure"', 1)


def figure_html(built: Built, fmt: str) -> str:
    """One figure as an embedded PNG (base64) or inline SVG with its caption."""
    if built.figure is None:
        return ""
    data = figure_bytes(built.figure, fmt)
    if fmt == "svg":
        body = _inline_svg(data, built.kind)
    else:
        encoded = base64.b64encode(data).decode()
        body = f'<img src="data:image/png;base64,{encoded}" alt="{built.kind} figure">'
    caption = html.escape(DESCRIPTIONS.get(built.kind, ""))
    return (
        f'<figure class="plot" data-kind="{built.kind}">{body}'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _notes_html(built: Sequence[Built], extra: Sequence[str] = ()) -> str:
    notes = [*extra, *(f"{b.kind}: {n}" for b in built for n in b.notes)]
    if not notes:
        return ""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f'<p class="note">Not shown:</p><ul class="note">{items}</ul>'


def headline_table(run: Run) -> str:
    """Headline metrics with their spread over replications."""
    metrics = run.summary.get("metrics") or {}
    if not metrics:
        return '<p class="note">No summary.json: headline metrics are not available.</p>'
    rows = []
    for name, entry in metrics.items():
        values = metric_values(run, name)
        finite = values[np.isfinite(values)]
        mean = entry.get("mean") if isinstance(entry, dict) else None
        std = entry.get("std") if isinstance(entry, dict) else None
        ci = entry.get("ci95") if isinstance(entry, dict) else None
        ci_text = f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci and len(ci) == 2 else "n/a"
        range_text = (
            f"{_fmt(float(finite.min()))} to {_fmt(float(finite.max()))}" if finite.size else "n/a"
        )
        rows.append(
            f"<tr><td>{html.escape(metric_label(name))}<br><code>{html.escape(name)}</code></td>"
            f"<td>{_fmt(mean)}</td><td>{_fmt(std)}</td><td>{ci_text}</td>"
            f"<td>{range_text}</td></tr>"
        )
    head = (
        "<tr><th>Metric</th><th>Mean</th><th>Std. dev.</th><th>95% CI of mean</th>"
        "<th>Range over replications</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def comparison_table_html(table: pd.DataFrame) -> str:
    head = (
        "<tr><th>Metric</th><th>Run</th><th>Reference mean</th><th>Run mean</th>"
        "<th>Difference</th><th>95% CI (Welch)</th><th>CI excludes 0</th></tr>"
    )
    rows = []
    for r in table.to_dict("records"):
        sig = '<td class="yes">yes</td>' if r["significant"] else "<td>no</td>"
        metric = str(r["metric"])
        rows.append(
            f"<tr><td>{html.escape(metric_label(metric))}<br><code>{html.escape(metric)}"
            f"</code></td><td>{html.escape(str(r['run']))}</td><td>{_fmt(r['reference_mean'])}</td>"
            f"<td>{_fmt(r['run_mean'])}</td><td>{_fmt(r['delta'])}</td>"
            f"<td>[{_fmt(r['ci95_low'])}, {_fmt(r['ci95_high'])}]</td>{sig}</tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _meta_html(run: Run) -> str:
    m = run.manifest
    items = [
        ("Run folder", str(run.path)),
        ("Scenario", run.scenario_name),
        ("Scenario hash", m.get("scenario_hash")),
        ("Package version", m.get("package_version") or m.get("version")),
        ("Replications", run.replications),
        ("Seeds", m.get("seeds")),
        ("Status", m.get("status")),
    ]
    rows = "".join(
        f"<dt>{k}</dt><dd>{html.escape(str(v))}</dd>" for k, v in items if v not in (None, "")
    )
    return f'<dl class="meta">{rows}</dl>'


def _run_section(index: int, run: Run, fmt: str, kinds: Sequence[str]) -> tuple[str, int]:
    built = build_figures([run], kinds)
    figures = "".join(figure_html(b, fmt) for b in built)
    scenario = html.escape(run.scenario_text or "(scenario.yaml absent)")
    section = (
        f'<section id="run-{index}"><h2>Run: {html.escape(run.label)}</h2>{_meta_html(run)}'
        f"<details><summary>Resolved scenario (YAML)</summary><pre>{scenario}</pre></details>"
        f"<h3>Headline metrics</h3>{headline_table(run)}"
        f"<h3>Figures</h3>{figures}{_notes_html(built, run.notes)}</section>"
    )
    return section, sum(b.figure is not None for b in built)


def _comparison_section(runs: Sequence[Run], fmt: str, kinds: Sequence[str]) -> tuple[str, int]:
    try:
        table_html = comparison_table_html(compare_table(runs))
        intro = (
            f"Each run against the reference run <b>{html.escape(runs[0].label)}</b>: difference "
            "of means over replications with a 95% Welch t interval. Where the interval excludes "
            "zero the difference is unlikely to be replication noise."
        )
    except RunFolderError as exc:
        table_html, intro = "", f"No comparison table: {html.escape(str(exc))}"
    built = build_figures(runs, kinds)
    figures = "".join(figure_html(b, fmt) for b in built)
    section = (
        f'<section id="comparison"><h2>Comparison</h2><p class="lede">{intro}</p>{table_html}'
        f'<h3>Figures, runs overlaid</h3><p class="lede">Colour: agent class; line style and '
        f"marker: run.</p>{figures}{_notes_html(built)}</section>"
    )
    return section, sum(b.figure is not None for b in built)


def render_report(runs: Sequence[Run], fmt: str = "png", kinds: Sequence[str] = ("all",)) -> str:
    """The whole report page as one HTML string (deterministic for the same runs)."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"report figure format must be 'png' or 'svg', not {fmt!r}")
    sections, count = [], 0
    for i, run in enumerate(runs, start=1):
        section, n = _run_section(i, run, fmt, kinds)
        sections.append(section)
        count += n
    nav = [f'<a href="#run-{i}">{html.escape(r.label)}</a>' for i, r in enumerate(runs, 1)]
    if len(runs) > 1:
        section, n = _comparison_section(runs, fmt, kinds)
        sections.append(section)
        count += n
        nav.append('<a href="#comparison">Comparison</a>')
    title = "GPU compute market simulation: " + ", ".join(r.label for r in runs)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f'<body data-figures-expected="{count}"><main><h1>{html.escape(title)}</h1>'
        f'<p class="lede">Who gets GPU compute, at what price, how fast and in what block sizes. '
        f"Figures show means over replications with their spread. Written by "
        f"compute-market-sim {__version__}.</p><nav>{''.join(nav)}</nav>"
        f"{''.join(sections)}</main><script>{_SCRIPT}</script></body></html>\n"
    )


def write_report(
    run_dirs: Sequence[Path | str],
    out: Path | str = "report.html",
    labels: Sequence[str] | None = None,
    fmt: str = "png",
    kinds: Sequence[str] = ("all",),
) -> Path:
    """Write the report of ``run_dirs`` to ``out`` and return its path."""
    runs = load_runs([Path(p) for p in run_dirs], list(labels) if labels else None)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(runs, fmt, kinds))
    return out
