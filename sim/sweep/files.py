"""Atomic file writes: a reader (or a resumed sweep) never sees half a file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write`` on a temporary file beside ``path``, then move it into place.

    The temporary name starts with a dot and holds the process id, so concurrent writers never
    share one and readers that list a folder skip it.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_parquet(path: Path, table: pa.Table, small: bool = False) -> None:
    """Write ``table``; ``small`` skips compression and statistics (one-row files)."""

    def write(p: Path) -> None:
        with open(p, "wb") as fh:
            if small:
                pq.write_table(table, fh, compression="none", write_statistics=False)
            else:
                pq.write_table(table, fh)

    atomic_write(path, write)
