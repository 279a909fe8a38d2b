"""``sim check RUN_DIR``: an independent audit of a run folder.

Every rule is recomputed from the folder's own tables (pandas, pyarrow and numpy only); nothing
here imports the world, the recorder, the summary or the runner that wrote them. Money checks
(``money.py``) hold every money column against the double-entry ledger; GPU checks
(``volumes.py``) hold capacity and traded volumes against each other; ``headline.py``
recomputes summary.json. Rules and tolerances are listed in docs/check.md.

``check_run(path)`` returns the violations (empty for a clean run) and raises
``RunFolderError`` when the folder is not a complete run folder or a table is missing or
unreadable.
"""

from __future__ import annotations

from pathlib import Path

from sim.check.base import Findings, Run, RunFolderError, Violation, read_run
from sim.check.headline import check_summary
from sim.check.money import check_money
from sim.check.stylized import check_stylized
from sim.check.volumes import check_volumes

__all__ = ["RunFolderError", "Violation", "audit", "check_run", "main", "read_run"]


def audit(run: Run) -> Findings:
    """Every check that applies to ``run``."""
    f = Findings()
    if run.stylized:
        check_stylized(run, f)
        return f
    check_money(run, f)
    check_volumes(run, f)
    check_summary(run, f)
    return f


def check_run(path: Path | str) -> list[Violation]:
    """Every violation in the run folder at ``path`` (empty when the run is clean)."""
    return audit(read_run(Path(path))).items


def main(path: Path, echo=print, echo_err=None) -> int:
    """The command: print each violation and a count; 0 clean, 1 violations, 2 not a run
    folder (or a table missing or unreadable)."""
    err = echo_err or echo
    try:
        run = read_run(Path(path))
    except RunFolderError as exc:
        for line in str(exc).splitlines():
            err(line)
        return 2
    found = audit(run)
    for v in found.items:
        echo(str(v))
    what = "stylized market" if run.stylized else f"{len(run.replications)} replication(s)"
    if found.items:
        checks = sorted({v.check for v in found.items})
        echo(f"{path}: {len(found.items)} violation(s) in {', '.join(checks)} ({what})")
        return 1
    echo(f"{path}: ok ({found.compared} comparisons, {what})")
    return 0
