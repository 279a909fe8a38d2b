"""The forward market inside the world: physical reservations, cash settlement with margin and
market makers; conservation of money and GPU-hours; the same access under both settlements."""

from __future__ import annotations

import numpy as np
import pytest

from sim.loader import apply_overrides, load_raw, validate
from sim.runner import run_replication, simulate
from sim.seeding import replication_seed
from sim.world import World


def _tiny(tiny_path, **over):
    base = {
        "markets.spot.enabled": True,
        "markets.contracts.resale": True,
        "markets.forward.enabled": True,
    }
    base.update({k.replace("__", "."): v for k, v in over.items()})
    return validate(apply_overrides(load_raw(tiny_path), base), "tiny-forward")


def _run(sc):
    world, rec = simulate(sc, replication_seed(sc.seed, 0))
    return world, rec.tables(0)


def _buyers_balance(a):
    return (
        a.initial_cash + a.inflow + a.resale_income + a.forward_flow - a.outflow - a.spend
    ) - a.final_cash


def test_physical_forwards_reserve_blocks_that_start_at_delivery(tiny_path):
    world, tables = _run(_tiny(tiny_path, markets__forward__settlement="physical"))
    assert np.allclose(_buyers_balance(tables["agents"]), 0.0, atol=1e-3)
    jobs = tables["jobs"]
    fwd = jobs[jobs.channel == "forward"]
    assert len(fwd) > 0, "some waiting runs reserve a block forward"
    w = world.forward.window / world.state.cal.periods_per_day
    # each reserved block starts exactly at the start of a delivery window
    assert np.allclose(np.mod(fwd.start_day, w), 0.0)
    assert (fwd.wait_days >= 0).all()
    curves = tables["forward_curves"]
    assert set(curves.columns) >= {"session_day", "tenor_days", "delivery_day", "price"}
    assert (curves.tenor_days > 0).all()


def test_cash_forwards_with_market_makers_conserve_money(tiny_path):
    sc = _tiny(tiny_path, markets__forward__settlement="cash", market_makers__count=2)
    world, tables = _run(sc)
    assert np.allclose(_buyers_balance(tables["agents"]), 0.0, atol=1e-3)
    # a zero-sum game with a central counterparty: what participants took out of the margin
    # accounts, plus what is still in them, is what the clearing house paid in (its loss)
    books = world.forward._books.values()
    open_collateral = sum(fb.accounts.collateral.sum() for fb in books)
    house = world.forward.house_loss + sum(fb.house_loss for fb in books)
    margin = world.state.accounts.net("margin")
    layout = world.state.accounts.layout
    assert margin[: layout.participants].sum() + open_collateral == pytest.approx(house, abs=1e-3)
    # the clearing house's account holds the open collateral, less what it lost
    house_balance = world.state.accounts.balance[layout.single("clearing_house")]
    assert house_balance == pytest.approx(open_collateral - house, abs=1e-3)
    makers = tables["market_makers"]
    assert len(makers) == 2
    defaults = tables["margin_defaults"]
    assert set(defaults.columns) >= {"participant", "kind", "shortfall"}
    assert (defaults.shortfall >= 0).all()
    assert tables["forward_curves"]["volume_lots"].sum() > 0
    # positions are balanced in every open window (longs = shorts, clearing house included)
    for fb in world.forward._books.values():
        assert fb.accounts.position.sum() + fb.house_position == pytest.approx(0.0, abs=1e-9)


def test_market_makers_need_cash_forwards(tiny_path):
    from sim.loader import ScenarioError

    raw = apply_overrides(load_raw(tiny_path), {"market_makers.count": 1})
    with pytest.raises(ScenarioError, match="market_makers.count"):
        validate(raw, "x")


def test_settlement_modes_give_the_same_access_without_defaults(tiny_path):
    phys = run_replication(_tiny(tiny_path, markets__forward__settlement="physical"))
    cash = run_replication(_tiny(tiny_path, markets__forward__settlement="cash"))
    assert not cash.tables["agents"].defaulted_amount.any()
    assert (cash.tables["jobs"].channel == "forward").sum() > 0
    for cls in ("startups", "academics"):
        for metric in ("served_share", "large_run_completion"):
            name = f"{metric}.{cls}"
            assert cash.summary[name] == pytest.approx(phys.summary[name], abs=0.02), name


def test_channel_rule_waits_for_a_cheaper_spot_unless_risk_or_deadline_forbid(tiny_path):
    sc = _tiny(tiny_path, markets__forward__enabled=False)
    world = World(sc, replication_seed(sc.seed, 0))
    t = 40
    st = world.state
    st.signals.spot_price[:t] = np.where(np.arange(t) % 2 == 0, 1.0, 3.0)  # mean 2, s.d. 1
    st.sites.list_price[:] = 4.0
    rows = np.arange(4)
    st.runs.latest_start[rows] = [t + 10, t + 10, t, t + 10]
    sc.buyers.choice.risk_aversion = 0.0  # spot scores 2 < 4: wait for it if there is time
    takes = world.on_demand.takes_on_demand(t, rows)
    assert takes.tolist() == [False, False, True, False]  # only the run that cannot wait buys now
    sc.buyers.choice.risk_aversion = 3.0  # 2 + 3 x 1 > 4: the risk is not worth it
    assert world.on_demand.takes_on_demand(t, rows).all()


def test_forward_prices_converge_to_the_spot_index_as_delivery_nears(tiny_path):
    """The basis |forward price - settlement index| shrinks as the tenor shrinks: buyers pay
    forward at most their score for waiting for the spot market (recent spot plus risk times
    the s.d. of the spot over the time left), providers sell no lower than the recent spot."""
    sc = _tiny(
        tiny_path,
        markets__forward__settlement="cash",
        markets__forward__session_days=1,
        market_makers__count=2,
    )
    world, tables = _run(sc)
    c = tables["forward_curves"]
    c = c[np.isfinite(c.price) & np.isfinite(c.settlement_index)]
    level = c.settlement_index.mean()
    basis = (c.price - c.settlement_index).abs() / level
    buckets = [(0, 1.5), (1.5, 7.5), (7.5, 28.5), (28.5, 60)]
    by_tenor = [basis[(c.tenor_days > lo) & (c.tenor_days <= hi)].mean() for lo, hi in buckets]
    assert all(np.isfinite(by_tenor))
    assert np.all(np.diff(by_tenor) > 0), by_tenor
    # at the front, the basis is no larger than the error of the simplest forecast of the
    # index (this window's index = last window's): the forward prices what can be known
    w = world.forward.window
    spot = world.state.signals.spot_price
    index = np.array([spot[s : s + w].mean() for s in range(0, spot.size - w + 1, w)])
    naive = np.abs(np.diff(index)).mean() / level
    assert by_tenor[0] <= 1.2 * naive, (by_tenor, naive)
    assert by_tenor[0] < 0.75 * by_tenor[-1], by_tenor
    # no systematic premium at the front: the signed basis averages out
    front = c[c.tenor_days <= 1.5]
    assert abs((front.price - front.settlement_index).mean()) / level < 0.05


def test_runs_never_bid_forward_above_their_spot_alternative(tiny_path, monkeypatch):
    sc = _tiny(tiny_path, markets__forward__settlement="cash", market_makers__count=1)
    world = World(sc, replication_seed(sc.seed, 0))
    seen = []
    bids = world.forward._run_bids

    def spy(t, starts):
        rows, product, lots, limit, cover = bids(t, starts)
        cap = world.forward.spot_scores(t, starts)[0][product]
        seen.append(
            (limit.size, bool((limit <= cap + 1e-12).all()), float(cap.min(initial=np.inf)))
        )
        # each run's strip covers its whole length, window by window
        periods = world.state.runs.periods
        covered = np.bincount(rows, cover, periods.size)[rows]
        assert np.array_equal(covered, periods[rows])
        return rows, product, lots, limit, cover

    monkeypatch.setattr(world.forward, "_run_bids", spy)
    world.run()
    assert sum(n for n, _, _ in seen) > 0
    assert all(ok for _, ok, _ in seen)
    assert any(np.isfinite(cap) for _, _, cap in seen)


def test_secondary_market_sells_back_longs_no_kept_block_stands_behind(tiny_path):
    from sim.demand import RESERVED
    from sim.world.forward import ForwardBook

    sc = _tiny(tiny_path, markets__forward__settlement="cash", markets__contracts__resale=False)
    world = World(sc, replication_seed(sc.seed, 0))
    lot = sc.markets.forward.lot_gpus
    fw, st = world.forward, world.state
    start = fw.window * 3
    fb = ForwardBook(start, st.accounts.layout.participants)
    fb.accounts.position[[0, 1, 2]] = [3.0, 3.0, -2.0]  # two longs and a short
    fw._books[start] = fb
    r = st.runs
    run = int(np.flatnonzero(r.agent == 1)[0])  # buyer 1 keeps a 2-lot block for that window
    r.gpus[run], r.start[run], r.status[run] = 2 * lot, start, RESERVED
    st.queue.reserved = np.array([run])
    qty, who = fw._holder_offers(0, start)
    assert dict(zip(who.tolist(), qty.tolist(), strict=True)) == {0: 3.0, 1: 1.0}
    st.buyers.alive[1] = False  # a failed owner's block goes back; its long is sold
    fw._release_failed_reservations(0)
    assert st.queue.reserved.size == 0 and r.status[run] != RESERVED
    qty, who = fw._holder_offers(0, start)
    assert dict(zip(who.tolist(), qty.tolist(), strict=True)) == {0: 3.0, 1: 3.0}


def test_contract_holders_resell_spare_capacity_forward(tiny_path):
    sc = _tiny(tiny_path, markets__forward__settlement="cash", market_makers__count=2)
    _, tables = _run(sc)
    curves = tables["forward_curves"]
    assert curves.sold_by_buyers.sum() > 0
    sides = ["sold_by_providers", "sold_by_buyers", "sold_by_makers"]
    assert np.allclose(curves[sides].sum(axis=1), curves.volume_lots)
    bought = curves[["bought_by_runs", "bought_by_programme", "bought_by_makers"]].sum(axis=1)
    assert np.allclose(bought, curves.volume_lots)


@pytest.mark.parametrize("settlement", ["physical", "cash"])
def test_public_programme_buys_forward_strips_and_conserves_money(tiny_path, settlement):
    sc = _tiny(
        tiny_path,
        markets__forward__settlement=settlement,
        public_programme__enabled=True,
        public_programme__budget_per_year=2.0e6,
        public_programme__procurement="forwards",
    )
    world = World(sc, replication_seed(sc.seed, 0))
    granted = []
    allocate = world.programme._allocate

    def spy():
        allocate()
        granted.append(world.state.buyers.public_gpus.sum())

    world.programme._allocate = spy  # type: ignore[method-assign]
    _, rec = simulate(sc, replication_seed(sc.seed, 0), world)
    tables = rec.tables(0)
    assert np.allclose(_buyers_balance(tables["agents"]), 0.0, atol=1e-3)
    c = tables["contracts"]
    mine = c[c.holder_class == "public_programme"]
    assert len(mine) > 0, "the programme kept capacity bought forward"
    w = world.forward.window / world.state.cal.periods_per_day
    assert np.allclose(np.mod(mine.start_day, w), 0.0)
    assert np.allclose(mine.end_day - mine.start_day, w)
    # its capacity is handed out: academics hold standing grants from it
    assert max(granted) > 0
    agents = tables["agents"]
    prog = agents[agents.agent_class == "public_programme"].iloc[0]
    assert prog.defaulted_amount == 0
    assert prog.spend + (-prog.forward_flow if settlement == "cash" else 0) > 0


def test_programme_forward_procurement_needs_a_forward_market(tiny_path):
    from sim.loader import ScenarioError

    raw = apply_overrides(
        load_raw(tiny_path),
        {"public_programme.enabled": True, "public_programme.procurement": "forwards"},
    )
    with pytest.raises(ScenarioError, match="procurement"):
        validate(raw, "x")
