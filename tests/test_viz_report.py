"""``report``: one self-contained HTML page that a browser renders with all its figures."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sim.viz import load_runs, render_report, write_report
from sim.viz.synthetic import write_synthetic_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("report")
    return [
        write_synthetic_run(root / "today-1", replications=2, periods=8, seed=1),
        write_synthetic_run(
            root / "plan-1", replications=2, periods=8, seed=2, spot=True, forward=True
        ),
    ]


@pytest.fixture(scope="module")
def two_run_report(runs, tmp_path_factory) -> Path:
    # Three kinds keep the test quick; every kind is drawn in test_viz_plot.
    out = tmp_path_factory.mktemp("out") / "report.html"
    return write_report(runs, out, kinds=["price", "access", "forward"])


def _attr(page: str, name: str) -> int:
    match = re.search(rf'{name}="(\d+)"', page)
    assert match, f"{name} not found"
    return int(match.group(1))


def test_report_is_self_contained(two_run_report):
    page = two_run_report.read_text()
    # today: 2 figures (no forward market); plan: 3; comparison: 3 (forward for plan only)
    assert _attr(page, "data-figures-expected") == 8
    assert page.count('<figure class="plot"') == 8
    assert page.count("data:image/png;base64,") == 8
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page
    assert page.count("<details>") == 2 and "name: synthetic" in page
    assert 'id="comparison"' in page and "95% CI (Welch)" in page
    assert "served_share.academics" in page


def test_report_is_deterministic(runs):
    loaded = load_runs(runs[:1])
    assert render_report(loaded, kinds=["lorenz"]) == render_report(loaded, kinds=["lorenz"])


def _dump_dom(page: Path, profile: Path) -> str:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)
    return done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(two_run_report, tmp_path):
    dom = _dump_dom(two_run_report, tmp_path / "profile")
    assert _attr(dom, "data-figures-loaded") == _attr(dom, "data-figures-expected") == 8


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_inline_svg_report_renders_in_headless_chromium(runs, tmp_path):
    page = write_report(runs[1:], tmp_path / "svg.html", fmt="svg", kinds=["forward", "lorenz"])
    text = page.read_text()
    assert "<img" not in text and text.count("<svg") == 2
    dom = _dump_dom(page, tmp_path / "profile")
    assert _attr(dom, "data-figures-loaded") == _attr(dom, "data-figures-expected") == 2
