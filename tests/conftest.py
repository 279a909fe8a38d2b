from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Tests are deterministic: hypothesis draws the same examples on every run (derandomized), so a
# commit that passes keeps passing. ``HYPOTHESIS_PROFILE=explore`` draws new ones, to look for
# cases the fixed draw misses.
settings.register_profile("fixed", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    return SCENARIOS / "tiny.yaml"


@pytest.fixture(scope="session")
def tiny(tiny_path):
    from sim.loader import load_scenario

    return load_scenario(tiny_path)


@pytest.fixture(scope="session")
def tiny_result(tiny):
    from sim.runner import run_replication

    return run_replication(tiny, replication=0)
