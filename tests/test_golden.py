"""The world reproduces the fixed-seed reference in tests/expected/golden.json: every summary
value of every replication (to 1e-9 relative, which allows only a different order of floating
additions) and the row count of every table. See tests/make_golden.py."""

from __future__ import annotations

import json
import math

import pytest
from make_golden import CASES, GOLDEN, golden_case

EXPECTED = json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixed_seed_run_matches_the_golden_figures(name):
    want = EXPECTED[name]
    got = golden_case(name, want["replications"])
    # tables added since the golden figures were stored are new, not different
    assert {k: got["rows"][k] for k in want["rows"]} == want["rows"]
    for rep, metrics in want["summary"].items():
        have = got["summary"][rep]
        assert sorted(have) == sorted(metrics), f"{name} replication {rep}: metric names differ"
        for key, value in metrics.items():
            if value is None:
                assert have[key] is None, f"{name}[{rep}].{key}: {have[key]} instead of NaN"
            else:
                assert have[key] is not None and math.isclose(
                    have[key], value, rel_tol=1e-9, abs_tol=1e-9
                ), f"{name}[{rep}].{key}: {have[key]} instead of {value}"
