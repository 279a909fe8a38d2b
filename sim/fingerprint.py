"""A fingerprint of the model's code, recorded with every run and sweep, so that results made by
different versions of the model are never mixed (a sweep refuses to resume across a change)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
NOT_MODEL = ("viz", "sweep")  # figures and the sweep machinery do not change results


@lru_cache(maxsize=1)
def model_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in NOT_MODEL:
            continue
        digest.update(str(rel).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
