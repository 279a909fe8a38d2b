from __future__ import annotations

from pathlib import Path

import pytest

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
