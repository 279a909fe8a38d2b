"""The run folder: resolved scenario, manifest, tidy tables and summary, each written atomically
(temporary file, then rename), so a crash never leaves a half-written file behind."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd
import yaml

import sim
from sim.fingerprint import model_fingerprint
from sim.loader import scenario_hash
from sim.schema import Scenario


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(
        path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    )


def atomic_write_parquet(path: Path, df: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def new_run_dir(results: Path, name: str) -> Path:
    """``results/<name>-<UTC timestamp>``, with a suffix if that exists already (never reused)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = results / f"{name}-{stamp}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = results / f"{name}-{stamp}-{k}"
    return path


class RunFolder:
    """Writes one run's folder; usable as a context manager that records failures."""

    def __init__(self, path: Path, scenario: Scenario, source: str, argv: list[str] | None = None):
        self.path = path
        self.scenario = scenario
        self.started = time.time()
        self.manifest: dict[str, Any] = {
            "package": "compute-market-sim",
            "version": sim.__version__,
            "scenario": scenario.name,
            "scenario_file": source,
            "scenario_hash": scenario_hash(scenario),
            "model_code": model_fingerprint(),
            "root_seed": scenario.seed,
            "replications": scenario.replications,
            "status": "running",
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "command": argv if argv is not None else sys.argv,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "seeds": [],
            "timings": {},
        }

    def begin(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(self.scenario.model_dump(mode="json"), sort_keys=False)
        atomic_write_text(self.path / "scenario.yaml", text)
        atomic_write_json(self.path / "manifest.json", self.manifest)

    def finish(self, status: str, **extra: Any) -> None:
        self.manifest["status"] = status
        self.manifest["timings"]["total_seconds"] = round(time.time() - self.started, 3)
        self.manifest.update(extra)
        atomic_write_json(self.path / "manifest.json", self.manifest)

    def __enter__(self) -> RunFolder:
        self.begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Record a failure (the exception still propagates)."""
        if exc is None:
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        atomic_write_text(self.path / "error.txt", text)
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        self.finish(status, error=f"{type(exc).__name__}: {exc}")
