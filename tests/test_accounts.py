"""Double-entry accounts: whatever sequence of payments happens, every entry balances, each
account's balance is what it received less what it paid, and the sum of all balances stays zero.
The same holds for whole simulated worlds, and their capacity ledgers are never oversold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.accounts import REASONS, AccountLayout, Accounts, UnbalancedEntry
from sim.ledger import CapacityLedger, OversoldError
from sim.loader import apply_overrides, load_raw, validate
from sim.runner import simulate
from sim.seeding import replication_seed

LAYOUT = AccountLayout(buyers=4, providers=2, market_makers=1)
money = st.floats(0, 1e9, allow_nan=False, allow_infinity=False)
account = st.integers(0, LAYOUT.size - 1)
reason = st.sampled_from(REASONS)

transfer = st.tuples(
    st.just("transfer"), reason, st.lists(st.tuples(account, account, money), max_size=6)
)
entry = st.tuples(
    st.just("entry"),
    reason,
    st.lists(st.tuples(account, money), min_size=1, max_size=5),
    st.lists(account, min_size=1, max_size=5),
)
dense = st.tuples(
    st.just("dense"), reason, st.lists(money, min_size=LAYOUT.buyers, max_size=LAYOUT.buyers)
)


def _apply(acc: Accounts, op: tuple, t: int) -> None:
    kind, why = op[0], op[1]
    if kind == "transfer":
        rows = op[2]
        payer = np.array([r[0] for r in rows], dtype=np.int64)
        payee = np.array([r[1] for r in rows], dtype=np.int64)
        acc.transfer(why, t, payer, payee, np.array([r[2] for r in rows]))
    elif kind == "entry":
        debits, payees = op[2], op[3]
        out = np.array([d[1] for d in debits])
        # the credits share out exactly what the debits total
        share = np.full(len(payees), out.sum() / len(payees))
        acc.entry(
            why,
            t,
            (np.array([d[0] for d in debits]), out),
            (np.array(payees), share),
        )
    else:
        amounts = np.array(op[2])
        payee = np.array([LAYOUT.first_provider, LAYOUT.first_provider + 1])
        acc.pay_dense(why, t, 0, amounts, payee, np.array([amounts.sum() / 2] * 2))


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.one_of(transfer, entry, dense), max_size=30))
def test_accounts_balance_after_any_sequence_of_payments(ops):
    acc = Accounts(LAYOUT, periods=10)
    for t, op in enumerate(ops):
        _apply(acc, op, t % 10)
        scale = 1.0 + np.abs(acc.balance).sum()
        assert abs(acc.total()) <= 1e-12 * scale + 0.01  # to the cent
        assert np.allclose(acc.paid.sum(axis=1), acc.received.sum(axis=1), rtol=1e-9, atol=0.01)
        net = acc.received.sum(axis=0) - acc.paid.sum(axis=0)
        assert np.allclose(net, acc.balance, rtol=1e-9, atol=0.01)
    assert np.allclose(acc.flow.sum(axis=1), acc.paid.sum(axis=1), rtol=1e-9, atol=0.01)


def test_an_unbalanced_entry_is_refused_and_changes_nothing():
    acc = Accounts(LAYOUT, periods=3)
    acc.transfer("grant", 0, LAYOUT.single("grant_agencies"), 0, 100.0)
    before = acc.balance.copy()
    with pytest.raises(UnbalancedEntry, match="grant"):
        acc.entry("grant", 1, (np.array([0]), np.array([50.0])), (np.array([1]), np.array([49.0])))
    assert np.array_equal(acc.balance, before)


def test_cash_is_read_only_outside_the_accounts():
    acc = Accounts(LAYOUT, periods=3)
    cash = acc.cash_of(0, LAYOUT.buyers)
    with pytest.raises(ValueError, match="read-only"):
        cash[0] = 1.0
    acc.transfer("funding_round", 0, LAYOUT.single("investors"), 2, 5.0)
    assert cash[2] == 5.0  # a view: it follows the balance


ledger_op = st.one_of(
    st.tuples(
        st.just("reserve"),
        st.integers(0, 3),
        st.integers(0, 15),
        st.integers(1, 8),
        st.integers(1, 12),
        st.booleans(),
    ),
    st.tuples(st.just("release"), st.integers(0, 3), st.integers(0, 15), st.integers(1, 8)),
    st.tuples(st.just("add"), st.integers(0, 3), st.integers(0, 15), st.integers(1, 10)),
    st.tuples(st.just("cut"), st.integers(0, 15), st.integers(1, 8), st.floats(0, 1)),
    st.tuples(st.just("per_site"), st.integers(0, 15), st.integers(1, 4), st.integers(0, 6)),
)


@settings(max_examples=200, deadline=None)
@given(
    caps=st.lists(st.integers(0, 20), min_size=1, max_size=4), ops=st.lists(ledger_op, max_size=30)
)
def test_no_site_period_is_oversold_after_any_sequence_of_ledger_operations(caps, ops):
    n = len(caps)
    led = CapacityLedger(np.array(caps, dtype=float), 16)
    booked: list[tuple[int, int, int, float, bool]] = []
    for op in ops:
        kind = op[0]
        try:
            if kind == "reserve":
                _, site, start, dur, gpus, contract = op
                led.reserve(site % n, start, dur, gpus, contract=contract)
                booked.append((site % n, start, dur, float(gpus), contract))
            elif kind == "release" and booked:
                site, start, dur, gpus, contract = booked.pop(op[1] % len(booked))
                led.release(site, start, dur, gpus, contract=contract)
            elif kind == "add":
                led.add_capacity(op[1] % n, op[2], float(op[3]))
            elif kind == "cut":
                led.cut_uncommitted(np.arange(n), op[1], op[1] + op[2], op[3])
            elif kind == "per_site":
                led.reserve_per_site(op[1], op[2], np.full(n, float(op[3])), contract=False)
        except OversoldError:
            pass
        led.check()
        free = led.capacity - led.contracted - led.in_use
        assert np.allclose(led.free(0, 16), free)
        assert np.all(led.contracted >= -1e-9) and np.all(led.in_use >= -1e-9)


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    spot=st.booleans(),
    forward=st.sampled_from([None, "cash", "physical"]),
    programme=st.sampled_from([None, "spread", "concentrated"]),
    startups=st.integers(1, 30),
)
def test_any_small_world_balances_its_accounts_and_never_oversells(
    tiny_path, seed, spot, forward, programme, startups
):
    over: dict[str, object] = {
        "seed": seed,
        "time.horizon_years": 0.5,
        "buyers.startups.count": startups,
        "markets.spot.enabled": spot or forward is not None,
        "markets.contracts.resale": spot or forward is not None,
    }
    if forward is not None:
        over |= {"markets.forward.enabled": True, "markets.forward.settlement": forward}
        if forward == "cash":
            over["market_makers.count"] = 1
    if programme is not None:
        over |= {"public_programme.enabled": True, "public_programme.allocation": programme}
    sc = validate(apply_overrides(load_raw(tiny_path), over), "generated")
    world, rec = simulate(sc, replication_seed(seed, 0))
    st_ = world.state
    assert abs(st_.accounts.total()) <= 0.01
    st_.ledger.check()
    agents = rec.tables(0)["agents"]
    assert (agents.final_cash >= -1e-6).all()
