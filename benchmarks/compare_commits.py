"""Side-by-side scale-benchmark figures of two source trees, run alternately in one sitting.

    git worktree add /tmp/old <commit>
    python benchmarks/compare_commits.py /tmp/old . --rounds 3          # bench_scale.py --quick
    python benchmarks/compare_commits.py /tmp/old . --rounds 1 --all    # with the 100k-agent case

Each round runs each tree's own ``benchmarks/bench_scale.py`` in turn (old, new, old, new ...)
with that tree as working directory and ``PYTHONPATH``, so its cases import that tree's ``sim``
(checked before the first round). The table gives per case the median wall time of each tree,
the ratio new/old of the medians, and the min-max of each tree's rounds.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

Figures = dict[str, tuple[float, str]]  # case label -> (wall s, "agents/periods/runs")


def tree_env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def check_import(tree: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import sim; print(sim.__file__)"],
        cwd=tree,
        env=tree_env(tree),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not Path(out).resolve().is_relative_to(tree):
        sys.exit(f"{tree}: `import sim` gives {out}, not this tree's sim")


def parse(text: str) -> Figures:
    """Rows of bench_scale's table: the label fills the width of the 'case' column."""
    lines = text.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("case") and "wall s" in ln)
    width = lines[head].index("agents") + len("agents") - 8  # label column, then agents (>8)
    wall = re.findall(r"wall s|peak MB|\S+", lines[head][width:]).index("wall s")
    figures: Figures = {}
    for ln in lines[head + 1 :]:
        if not ln.strip():
            continue
        fields = ln[width:].split()
        figures[ln[:width].strip()] = (float(fields[wall]), "/".join(fields[:3]))
    return figures


def run(tree: Path, full: bool) -> Figures:
    cmd = [
        sys.executable,
        str(tree / "benchmarks" / "bench_scale.py"),
        *([] if full else ["--quick"]),
    ]
    out = subprocess.run(
        cmd, cwd=tree, env=tree_env(tree), check=True, capture_output=True, text=True
    )
    return parse(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("old", type=Path, help="source tree of the reference code")
    ap.add_argument("new", type=Path, help="source tree of the code under test")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--all", action="store_true", help="all cases (bench_scale without --quick)")
    args = ap.parse_args()
    trees = [args.old.resolve(), args.new.resolve()]
    for tree in trees:
        check_import(tree)
    walls: list[dict[str, list[float]]] = [{}, {}]
    shapes: list[dict[str, str]] = [{}, {}]
    for r in range(args.rounds):
        for i, tree in enumerate(trees):
            for label, (wall, shape) in run(tree, args.all).items():
                walls[i].setdefault(label, []).append(wall)
                shapes[i][label] = shape
                print(
                    f"round {r + 1} {'old' if i == 0 else 'new'} {label}: {wall:.2f} s",
                    file=sys.stderr,
                )
    w = max(len(c) for c in walls[0]) + 2
    print(f"old: {trees[0]}\nnew: {trees[1]}\nrounds: {args.rounds}, wall s (bench_scale total_s)")
    print(
        f"{'case':<{w}}{'old med':>8}{'new med':>8}{'new/old':>8}{'old min-max':>14}{'new min-max':>14}"
    )
    for label, old in walls[0].items():
        new = walls[1].get(label)
        if not new:
            print(f"{label:<{w}}  (not in new)")
            continue
        mo, mn = statistics.median(old), statistics.median(new)
        note = (
            ""
            if shapes[0][label] == shapes[1][label]
            else f"  agents/periods/runs differ: {shapes[0][label]} vs {shapes[1][label]}"
        )
        print(
            f"{label:<{w}}{mo:>8.2f}{mn:>8.2f}{mn / mo:>8.3f}"
            f"{f'{min(old):.2f}-{max(old):.2f}':>14}{f'{min(new):.2f}-{max(new):.2f}':>14}{note}"
        )


if __name__ == "__main__":
    main()
