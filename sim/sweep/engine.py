"""The sweep engine: runs a model function over a design on any executor, file by file.

Layout of a sweep folder::

    sweep.json          the spec (scenario, parameters, method, seed...) and the design's hash
    design.parquet      point index and parameter values, one row per design point
    points/             one small Parquet file per finished (point, replication)
    failures.jsonl      one line per failed run: point, replication, parameters, error
    table.parquet       the tidy table, assembled at the end from points/

Every finished run is written at once, atomically (a temporary file, then ``os.replace``), so a
sweep that is killed loses at most the runs under way. Resuming (``resume=True`` on the same
folder) checks that the spec and the design are unchanged, skips every run whose file exists and
runs the rest; since each run's seed depends only on (root seed, point, replication), the table
is the same as an uninterrupted sweep's.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads

from sim.sweep.design import Design, build_design
from sim.sweep.executor import InProcessExecutor
from sim.sweep.files import write_json, write_parquet
from sim.sweep.spec import SweepSpec, spec_differences
from sim.sweep.worker import ModelFunction, Outcome, Task, describe_error, run_tasks

ProgressCallback = Callable[[int, int], None]

_POINT_FILE = re.compile(r"^p(\d+)-r(\d+)\.parquet$")


class SweepFolderError(Exception):
    """A sweep folder that cannot be used as asked (exists, differs, or is not a sweep)."""


# --- the folder ----------------------------------------------------------------------------------


@dataclass
class SweepFolder:
    """A sweep's folder on disk, with the spec and design it was made for."""

    root: Path
    spec: SweepSpec
    design: Design
    # Runs written by this process, kept so the table need not read their files back.
    _written: dict[tuple[int, int], dict[str, float]] = field(default_factory=dict, repr=False)

    @property
    def points_dir(self) -> Path:
        return self.root / "points"

    @property
    def table_path(self) -> Path:
        return self.root / "table.parquet"

    @property
    def failures_path(self) -> Path:
        return self.root / "failures.jsonl"

    @classmethod
    def open(cls, spec: SweepSpec, root: Path | str, resume: bool = False) -> SweepFolder:
        """Create the folder for ``spec``, or (``resume``) reopen it after checking it matches."""
        root = Path(root)
        design = build_design(spec)
        spec_file = root / "sweep.json"
        if root.exists() and any(root.iterdir()):
            if not resume:
                raise SweepFolderError(
                    f"{root}: already exists; pass --resume to continue that sweep "
                    "or --out for a new one"
                )
            if spec_file.exists():
                _check_same(spec_file, spec, design)
                return cls(root, spec, design)
            if not _started_but_empty(root):
                raise SweepFolderError(
                    f"{root}: not a sweep folder (no sweep.json); cannot resume it"
                )
            # Killed while the folder was being set up: nothing ran yet, so start afresh.
        root.mkdir(parents=True, exist_ok=True)
        folder = cls(root, spec, design)
        folder.points_dir.mkdir(exist_ok=True)
        write_parquet(
            root / "design.parquet", pa.Table.from_pandas(design.values, preserve_index=False)
        )
        info = {
            **spec.to_json(),
            "sweep_id": spec.sweep_id,
            "spec_hash": spec.digest(),
            "design_hash": design.digest(),
            "n_points": design.size,
            "n_runs": design.size * spec.replications,
        }
        write_json(spec_file, info)
        return folder

    @classmethod
    def load(cls, root: Path | str) -> SweepFolder:
        """Reopen a finished (or partial) sweep for analysis."""
        root = Path(root)
        spec_file = root / "sweep.json"
        if not spec_file.exists():
            raise SweepFolderError(f"{root}: not a sweep folder (no sweep.json)")
        spec = SweepSpec.from_json(json.loads(spec_file.read_text()))
        return cls(root, spec, build_design(spec))

    def done(self) -> set[tuple[int, int]]:
        """(point, replication) pairs whose results are on disk."""
        out = set()
        if self.points_dir.exists():
            for name in os.listdir(self.points_dir):
                m = _POINT_FILE.match(name)
                if m:
                    out.add((int(m.group(1)), int(m.group(2))))
        return out

    def point_path(self, point: int, replication: int) -> Path:
        return self.points_dir / f"p{point:07d}-r{replication:04d}.parquet"

    def write_point(self, point: int, replication: int, metrics: dict[str, float]) -> None:
        names = sorted(metrics)
        schema = _point_schema(tuple(names))
        values: list[list[int] | list[float]] = [[point], [replication]]
        values += ([metrics[n]] for n in names)
        table = pa.Table.from_arrays(
            [pa.array(v, f.type) for v, f in zip(values, schema, strict=True)], schema=schema
        )
        write_parquet(self.point_path(point, replication), table, small=True)
        self._written[(point, replication)] = dict(metrics)

    def record_failure(
        self, point: int, replication: int, params: dict[str, Any], error: dict[str, str]
    ) -> dict:
        entry = {"point": point, "replication": replication, "params": params, **error}
        with self.failures_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True, default=float) + "\n")
        return entry

    def assemble_table(self) -> pd.DataFrame:
        """The tidy table from every point file, written atomically to ``table.parquet``."""
        table = self.read_points()
        write_parquet(self.table_path, pa.Table.from_pandas(table, preserve_index=False))
        return table

    def read_points(self) -> pd.DataFrame:
        """One row per finished run: point, replication, parameters, metrics (sorted by name)."""
        runs = [run for run in sorted(self.done()) if self._in_design(*run)]
        on_disk = [str(self.point_path(*run)) for run in runs if run not in self._written]
        written = [
            {"point": p, "replication": r, **self._written[p, r]}
            for p, r in runs
            if (p, r) in self._written
        ]
        parts = [pd.DataFrame.from_records(written)] if written else []
        if on_disk:
            parts.append(_read_point_files(on_disk))
        params = self.spec.names
        if not parts:
            results = pd.DataFrame(
                {"point": pd.Series(dtype="int64"), "replication": pd.Series(dtype="int64")}
            )
        else:
            results = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
            results = results.astype({"point": "int64", "replication": "int64"})
        metrics = sorted(c for c in results.columns if c not in ("point", "replication"))
        clash = sorted(set(metrics) & set(params))
        if clash:
            raise ValueError(f"metric names clash with parameter paths: {', '.join(clash)}")
        table = results.merge(self.design.values, on="point", how="left")
        table = table[["point", "replication", *params, *metrics]].astype(
            {m: "float64" for m in metrics}
        )
        return table.sort_values(["point", "replication"], kind="stable").reset_index(drop=True)

    def _in_design(self, point: int, replication: int) -> bool:
        return point < self.design.size and replication < self.spec.replications


def _read_point_files(files: list[str]) -> pd.DataFrame:
    """Point files into one frame; a metric missing from some files reads as NaN there."""
    dataset = pads.dataset(files, format="parquet")
    schema = pa.unify_schemas([frag.physical_schema for frag in dataset.get_fragments()])
    return pads.dataset(files, format="parquet", schema=schema).to_table().to_pandas()


def _started_but_empty(root: Path) -> bool:
    """A folder holding only what ``SweepFolder.open`` writes before ``sweep.json``."""
    names = {p.name for p in root.iterdir() if not p.name.startswith(".")}
    points = root / "points"
    return names <= {"points", "design.parquet"} and (
        not points.exists() or not any(points.iterdir())
    )


@functools.lru_cache(maxsize=64)
def _point_schema(metrics: tuple[str, ...]) -> pa.Schema:
    fields = [pa.field("point", pa.int64()), pa.field("replication", pa.int64())]
    return pa.schema(fields + [pa.field(name, pa.float64()) for name in metrics])


def _check_same(spec_file: Path, spec: SweepSpec, design: Design) -> None:
    info = json.loads(spec_file.read_text())
    old = SweepSpec.from_json(info)
    diff = spec_differences(old, spec)
    if diff:
        raise SweepFolderError(
            f"{spec_file.parent}: cannot resume: the sweep there differs in {', '.join(diff)}; "
            "use --out for a new sweep"
        )
    if info.get("design_hash") != design.digest():
        raise SweepFolderError(
            f"{spec_file.parent}: cannot resume: the same spec now gives a different design "
            "(sampler library changed?); use --out for a new sweep"
        )


# --- running a sweep -----------------------------------------------------------------------------


@dataclass
class SweepResult:
    """What a run of the engine did: the table and the runs it skipped, ran and lost."""

    folder: SweepFolder
    table: pd.DataFrame
    total: int
    skipped: int
    ran: int
    failures: list[dict] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failures and len(self.table) == self.total


def pending_tasks(folder: SweepFolder) -> list[Task]:
    done = folder.done()
    tasks = []
    for point in range(folder.design.size):
        params = folder.design.point_params(point)
        for replication in range(folder.spec.replications):
            if (point, replication) not in done:
                tasks.append((point, replication, params))
    return tasks


def _batches(tasks: list[Task], size: int) -> Iterator[list[Task]]:
    for start in range(0, len(tasks), size):
        yield tasks[start : start + size]


def run_sweep(
    folder: SweepFolder,
    model: ModelFunction,
    executor: Executor | None = None,
    batch_size: int = 1,
    max_in_flight: int | None = None,
    progress: ProgressCallback | None = None,
) -> SweepResult:
    """Run every pending (point, replication) of ``folder`` and assemble the table.

    ``batch_size`` runs that many tasks per submission (worth it for cheap model functions);
    ``max_in_flight`` bounds submitted-but-unfinished batches (default: all at once, but one at a
    time in-process so that each result is on disk before the next run starts).
    """
    executor = executor or InProcessExecutor()
    if max_in_flight is None:
        max_in_flight = 1 if isinstance(executor, InProcessExecutor) else 1 << 30
    spec = folder.spec
    total = folder.design.size * spec.replications
    tasks = pending_tasks(folder)
    skipped = total - len(tasks)
    failures: list[dict] = []
    finished = skipped
    if progress:
        progress(finished, total)

    batches = _batches(tasks, max(1, batch_size))
    in_flight: dict[Future, list[Task]] = {}

    def fill() -> None:
        while len(in_flight) < max_in_flight:
            batch = next(batches, None)
            if batch is None:
                return
            fut = executor.submit(
                run_tasks, model, spec.root_seed, spec.common_random_numbers, batch
            )
            in_flight[fut] = batch

    try:
        fill()
        while in_flight:
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for fut in done:
                batch = in_flight.pop(fut)
                for point, replication, metrics, error in _outcomes(fut, batch):
                    if metrics is not None:
                        folder.write_point(point, replication, metrics)
                    else:
                        params = folder.design.point_params(point)
                        failures.append(
                            folder.record_failure(point, replication, params, error or {})
                        )
                    finished += 1
                    if progress:
                        progress(finished, total)
            fill()
    except BaseException:
        for fut in in_flight:
            fut.cancel()
        raise
    table = folder.assemble_table()
    return SweepResult(folder, table, total, skipped, len(tasks), failures)


def _outcomes(fut: Future, batch: list[Task]) -> list[Outcome]:
    """The batch's outcomes; an error of the executor itself fails every task of the batch."""
    try:
        return fut.result()
    except BrokenExecutor:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a model that cannot be pickled, a lost worker
        error = describe_error(exc)
        return [(point, replication, None, error) for point, replication, _ in batch]


def sweep(
    spec: SweepSpec,
    model: ModelFunction,
    out_dir: Path | str,
    executor: Executor | None = None,
    resume: bool = False,
    **kwargs: Any,
) -> SweepResult:
    """Open (or resume) the folder for ``spec`` and run it: the engine's one-call entry point."""
    folder = SweepFolder.open(spec, out_dir, resume=resume)
    return run_sweep(folder, model, executor, **kwargs)
