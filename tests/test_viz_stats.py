"""The statistics behind the figures, on hand-computed cases."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from sim.viz.stats import (
    band,
    block_bucket,
    ecdf_with_never,
    gini,
    lorenz,
    spread,
    welch_delta,
)


def test_welch_delta_matches_hand_computation():
    # reference: mean 2, var 1, n 3; run: mean 5, var 20/3, n 4
    d = welch_delta(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0, 8.0]))
    se2 = 1 / 3 + (20 / 3) / 4  # = 2
    df = se2**2 / ((1 / 3) ** 2 / 2 + (5 / 3) ** 2 / 3)  # = 216 / 53
    assert d.delta == pytest.approx(3.0)
    assert d.df == pytest.approx(216 / 53)
    assert df == pytest.approx(216 / 53)
    half = 2.7563 * math.sqrt(2.0)  # 97.5% t quantile at 216/53 degrees of freedom
    assert d.ci_low == pytest.approx(3.0 - half, abs=1e-3)
    assert d.ci_high == pytest.approx(3.0 + half, abs=1e-3)
    ref = sps.ttest_ind([2, 4, 6, 8], [1, 2, 3], equal_var=False).confidence_interval(0.95)
    assert (d.ci_low, d.ci_high) == pytest.approx((ref.low, ref.high))
    assert (d.n_reference, d.n_run) == (3, 4)


def test_welch_delta_edge_cases():
    exact = welch_delta(np.array([2.0, 2.0]), np.array([3.0, 3.0, 3.0]))
    assert (exact.delta, exact.ci_low, exact.ci_high) == (1.0, 1.0, 1.0)
    single = welch_delta(np.array([1.0]), np.array([2.0, 3.0]))
    assert single.delta == pytest.approx(1.5)
    assert math.isnan(single.ci_low) and math.isnan(single.ci_high)
    with_nan = welch_delta(np.array([1.0, 2.0, 3.0, np.nan]), np.array([2.0, 4.0, 6.0, 8.0]))
    assert with_nan.n_reference == 3 and with_nan.delta == pytest.approx(3.0)


def test_gini_and_lorenz():
    assert gini(np.array([5.0, 5.0, 5.0])) == pytest.approx(0.0)
    assert gini(np.array([0.0, 0.0, 0.0, 1.0])) == pytest.approx(0.75)
    assert gini(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(0.25)
    x, y = lorenz(np.array([3.0, 1.0]))
    assert x.tolist() == [0.0, 0.5, 1.0]
    assert y.tolist() == [0.0, 0.25, 1.0]
    x, y = lorenz(np.zeros(3))
    assert np.allclose(x, y)


def test_ecdf_counts_never_started_in_the_denominator():
    x, y = ecdf_with_never(np.array([1.0, np.nan, 3.0, 0.0]))
    assert x.tolist() == [0.0, 0.0, 1.0, 3.0]
    assert y.tolist() == [0.0, 0.25, 0.5, 0.75]


def test_block_buckets():
    gpus = pd.Series([1, 7, 8, 63, 64, 255, 256, 1023, 1024, 5000])
    labels = [str(b) for b in block_bucket(gpus)]
    assert labels == [
        "1-7",
        "1-7",
        "8-63",
        "8-63",
        "64-255",
        "64-255",
        "256-1023",
        "256-1023",
        "1024+",
        "1024+",
    ]


def test_band_over_replications_skips_nan():
    frame = pd.DataFrame(
        {
            "replication": [0, 1, 2, 0, 1, 2],
            "day": [0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            "value": [1.0, 2.0, 3.0, np.nan, 4.0, np.nan],
        }
    )
    b = band(frame)
    assert b["day"].tolist() == [0.0, 1.0]
    assert b["mean"].tolist() == [2.0, 4.0]
    assert b["lo"].iloc[0] == pytest.approx(1.2)
    assert b["hi"].iloc[0] == pytest.approx(2.8)
    assert b["n"].tolist() == [3, 1]
    assert band(frame.assign(value=np.nan)).empty


def test_spread():
    mean, lo, hi = spread(np.array([0.0, 10.0, np.nan]))
    assert (mean, lo, hi) == pytest.approx((5.0, 1.0, 9.0))
    assert all(math.isnan(v) for v in spread(np.array([])))
