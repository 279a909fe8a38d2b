from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.ledger import CapacityLedger, OversoldError


@settings(max_examples=60, deadline=None)
@given(
    caps=st.lists(st.integers(0, 20), min_size=1, max_size=4),
    bookings=st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 15),
            st.integers(1, 8),
            st.integers(1, 12),
            st.booleans(),
        ),
        max_size=25,
    ),
)
def test_ledger_never_oversold(caps, bookings):
    led = CapacityLedger(np.array(caps, dtype=float), 16)
    for site, start, dur, gpus, contract in bookings:
        site = site % len(caps)
        before = (led.contracted.copy(), led.in_use.copy())
        try:
            led.reserve(site, start, dur, gpus, contract=contract)
        except OversoldError:
            # all-or-nothing: a refused booking changes nothing
            assert np.array_equal(before[0], led.contracted)
            assert np.array_equal(before[1], led.in_use)
        led.check()
    assert np.all(led.contracted + led.in_use <= led.capacity + 1e-9)


def test_release_returns_capacity():
    led = CapacityLedger(np.array([10.0]), 10)
    led.reserve(0, 0, 10, 8, contract=True)
    with pytest.raises(OversoldError):
        led.reserve(0, 5, 2, 5, contract=False)
    led.release(0, 5, 5, 8, contract=True)
    led.reserve(0, 5, 2, 5, contract=False)
    assert led.free(0, 10)[0].tolist() == [2, 2, 2, 2, 2, 5, 5, 10, 10, 10]


def test_cut_never_takes_committed_capacity():
    led = CapacityLedger(np.array([10.0, 10.0]), 6)
    led.reserve(0, 0, 6, 9, contract=True)
    led.cut_uncommitted(np.array([0, 1]), 0, 6, 0.5)
    led.check()
    assert led.capacity[0, 0] == 9 and led.capacity[1, 0] == 5


def test_per_site_booking_of_one_period_equals_the_general_one():
    rng = np.random.default_rng(4)
    for width in (1, 3):
        a = CapacityLedger(rng.integers(5, 20, 4).astype(float), 8)
        b = CapacityLedger(a.capacity[:, 0], 8)
        for led in (a, b):
            sites, starts, durations = np.array([0, 2]), np.array([0, 3]), np.array([5, 4])
            led.reserve(sites, starts, durations, [1.3, 2.7], contract=False)
        gpus = rng.uniform(0, 3, 4)
        a.reserve_per_site(3, width, gpus, contract=False)
        b.reserve(np.arange(4), 3, width, gpus, contract=False)
        np.testing.assert_array_equal(a.in_use, b.in_use)
        np.testing.assert_array_equal(a.free(0, 8), b.free(0, 8))
        np.testing.assert_array_equal(a.free_in(4, np.array([3, 1])), b.free(4, 1)[[3, 1], 0])
        with pytest.raises(OversoldError):
            a.reserve_per_site(3, width, gpus + 20, contract=True)
        np.testing.assert_array_equal(a.contracted, b.contracted)
