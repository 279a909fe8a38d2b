"""The forward market: weekly auctions of standardized contracts on future delivery windows.

A contract is ``lot_gpus`` GPUs for one delivery window (``window_days``); each session trades the
next ``tenors`` windows, each in its own uniform-price auction of whole lots
(``sim.markets.forward.clear_forward_session``). Providers offer, per site, the capacity free over
the window at their reserve; waiting runs bid the lots their block needs, in the first window they
can still start in, at their value (capped by what their cash pays for).

- ``physical`` settlement: a run whose bid is filled in full gets its block reserved at one site
  whose reserve the price meets (N GPUs from the window's start for its whole length, at the
  window's price), paid at the trade (prepaid, not cancellable, like today's capacity blocks); it
  starts at the window's start. The auction discovers the price; the reservations are the trades.
- ``cash`` settlement: every fill is a position against the clearing house, long for buyers and
  short for sellers, settled against the spot index (the mean spot price over the window). Holders
  post ``initial_margin`` of the notional; positions are marked to each new auction price and
  finally to the index; a holder whose collateral cannot cover a loss defaults, the clearing house
  takes its position over and bears the shortfall. Market makers quote both sides
  (``sim.markets.market_maker``) around the recent spot price and carry inventory and price risk.

The forward curve (price by tenor) is recorded at every session.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from sim.channels.blocks import BlockRequests, allocate_blocks
from sim.demand import ABANDONED, FORWARD, PENDING, RESERVED
from sim.markets.forward import ForwardContract, MarginAccounts, mark_to_market, trade_margin
from sim.markets.market_maker import QuotePolicy, market_maker_quotes
from sim.markets.orders import OrderBook
from sim.markets.registry import MECHANISMS
from sim.state import State
from sim.summary import daily_log_change_sd


class ForwardBuyer(Protocol):
    """A participant that buys forward on its own account (the public programme)."""

    def forward_bids(self, t: int, starts: list[int]) -> tuple[np.ndarray, np.ndarray]: ...
    def filled(
        self, t: int, start: int, lots: float, price: float, reserve: np.ndarray
    ) -> None: ...
    def lots_kept(self, start: int) -> float: ...


class ForwardBook:
    """Open cash-settled positions of one delivery window, over all participants."""

    def __init__(self, start: int, participants: int):
        self.start = start
        self.accounts = MarginAccounts(np.zeros(participants), np.zeros(participants), 0.0)
        self.house_position = 0.0  # lots taken over from defaulters
        self.house_loss = 0.0


class Forward:
    def __init__(self, state: State, buyer: ForwardBuyer):
        self.s = state
        self.buyer = buyer  # the programme's orders go through it
        sc = state.scenario
        spec = sc.markets.forward
        self.window = state.cal.periods(spec.window_days)
        self.lot_hours = spec.lot_gpus * self.window * state.h
        self._books: dict[int, ForwardBook] = {}
        self._participants = state.accounts.layout.participants
        self._house = state.accounts.layout.single("clearing_house")
        self.house_loss = 0.0
        self._contract = ForwardContract("H100", "all", 0, self.window, spec.lot_gpus, state.h)
        self._quoted_mid = np.zeros(0)

    # ---- one session -------------------------------------------------------------------------

    def session(self, t: int) -> None:
        s = self.s
        spec = s.scenario.markets.forward
        self.settle_deliveries(t)
        self._release_failed_reservations(t)
        starts = self._products(t)
        if not starts:
            return
        self._quoted_mid = np.full(len(starts), np.nan)
        orders = self._orders(t, starts)
        book = OrderBook(**orders["book"], n_products=len(starts))
        res = MECHANISMS[spec.mechanism](book)
        sides = self._volume_by_side(orders, res, len(starts))
        for k, start in enumerate(starts):
            # a window nobody traded is priced at the market makers' mid quote, if they quote
            price = res.price[k] if np.isfinite(res.price[k]) else self._quoted_mid[k]
            row = (t, start - t, start, float(price), float(res.volume[k]), *sides[:, k])
            s.signals.curve.append(row)
        # filled run bids get their blocks kept for them in both modes; with cash settlement the
        # run pays at delivery, at the spot price, and its position settles against the index
        self._deliver_blocks(
            t, starts, res.price, orders, res.buy_filled, prepaid=spec.settlement == "physical"
        )
        first, products = orders["programme"]
        reserve = self.reserve(t)
        for j, k in enumerate(products):
            lots = float(res.buy_filled[first + j])
            self.buyer.filled(t, starts[k], lots, float(res.price[k]), reserve)
        if spec.settlement == "cash":
            self._open_positions(t, starts, res, orders)

    def _volume_by_side(self, orders, res, n_products: int) -> np.ndarray:
        """Lots traded per window: bought by runs, by the public programme and by market
        makers; sold by providers, by buyers (resale and the secondary market) and by market
        makers."""
        layout = self.s.accounts.layout
        n_b, first_maker = layout.buyers, layout.first_maker
        book = orders["book"]

        def by(product, filled, keep):
            return np.bincount(product[keep], filled[keep], n_products)

        bw, sw = orders["buy_who"], orders["sell_who"]
        bp, sp = book["buy_product"], book["sell_product"]
        first, prog = orders["programme"]  # run orders come first, then the programme's
        order = np.arange(bw.size)
        return np.vstack(
            [
                by(bp, res.buy_filled, order < first),
                by(bp, res.buy_filled, (order >= first) & (order < first + prog.size)),
                by(bp, res.buy_filled, bw >= first_maker),
                by(sp, res.sell_filled, (sw >= n_b) & (sw < first_maker)),
                by(sp, res.sell_filled, sw < n_b),
                by(sp, res.sell_filled, sw >= first_maker),
            ]
        )

    def _products(self, t: int) -> list[int]:
        w = self.window
        first = (t // w + 1) * w
        tenors = self.s.scenario.markets.forward.tenors
        return [s for s in range(first, first + w * tenors, w) if s < self.s.cal.horizon]

    def _orders(self, t: int, starts: list[int]) -> dict[str, Any]:
        s = self.s
        spec, sites = s.scenario.markets.forward, s.sites
        lot = spec.lot_gpus
        reserve = self.reserve(t)
        n_b = len(s.buyers)
        sell_qty, sell_price, sell_prod, sell_who = [], [], [], []
        for k, start in enumerate(starts):
            free = np.maximum(s.ledger.free(start, self.window).min(axis=1), 0.0)
            lots = np.floor(free / lot)
            sell_qty.append(lots)
            sell_price.append(reserve[sites.site_provider])
            sell_prod.append(np.full(lots.size, k))
            sell_who.append(n_b + sites.site_provider)
        runs, product, lots, limit, cover = self._run_bids(t, starts)
        buy = {"qty": [lots], "price": [limit], "prod": [product], "who": [s.runs.agent[runs]]}
        prog_lots, prog_limit = self.buyer.forward_bids(t, starts)
        prog = np.flatnonzero(prog_lots > 0)
        buy["qty"].append(prog_lots[prog])
        buy["price"].append(prog_limit[prog])
        buy["prod"].append(prog)
        programme = s.programme if s.programme is not None else 0
        buy["who"].append(np.full(prog.size, programme if prog.size else 0))
        if spec.settlement == "cash":
            _, floor = self.spot_scores(t, starts)
            for k, start in enumerate(starts):
                qty, who = self._holder_offers(t, start)
                sell_qty.append(qty)
                sell_price.append(np.full(qty.size, floor[k]))
                sell_prod.append(np.full(qty.size, k))
                sell_who.append(who)
        if s.scenario.market_makers.count and spec.settlement == "cash":
            self._maker_orders(t, starts, buy, sell_qty, sell_price, sell_prod, sell_who)
        cat = np.concatenate
        buy_qty, sell_qty_all = cat(buy["qty"]), cat(sell_qty)
        if spec.settlement == "cash":
            buy_qty, sell_qty_all = self._within_cash(
                buy_qty,
                cat(buy["price"]),
                cat(buy["prod"]).astype(np.int64),
                cat(buy["who"]).astype(np.int64),
                sell_qty_all,
                cat(sell_prod).astype(np.int64),
                cat(sell_who).astype(np.int64),
                len(starts),
            )
        return {
            "book": {
                "buy_qty": buy_qty,
                "buy_limit": cat(buy["price"]),
                "buy_product": cat(buy["prod"]).astype(np.int64),
                "sell_qty": sell_qty_all,
                "sell_reserve": cat(sell_price),
                "sell_product": cat(sell_prod).astype(np.int64),
            },
            "buy_who": cat(buy["who"]).astype(np.int64),
            "sell_who": cat(sell_who).astype(np.int64),
            "runs": runs,  # the run behind each of the first buy orders
            "cover": cover,  # periods of its run each of those orders covers
            "programme": (runs.size, prog),  # offset of its orders, and their products
        }

    def _within_cash(
        self, buy_qty, buy_limit, buy_prod, buy_who, sell_qty, sell_prod, sell_who, products
    ) -> tuple[np.ndarray, np.ndarray]:
        """Whole lots each buyer can margin from its cash: the initial margin of all its orders
        of the session, at the highest price each could clear at (a bid's limit; for an offer,
        the highest bid on its window), may not exceed its cash, or its orders shrink in
        proportion (to whole lots). Margin is posted from cash at the trade, so without this a
        buyer trading several windows at once could post more than it has."""
        rate = self.s.scenario.markets.forward.initial_margin
        top = np.zeros(products)
        np.maximum.at(top, buy_prod, np.where(np.isfinite(buy_limit), buy_limit, 0.0))
        need = np.zeros(self._participants)
        np.add.at(need, buy_who, rate * buy_qty * np.maximum(buy_limit, 0.0) * self.lot_hours)
        np.add.at(need, sell_who, rate * sell_qty * top[sell_prod] * self.lot_hours)
        cash = np.maximum(self.s.accounts.balance[: self._participants], 0.0)
        share = np.minimum(np.divide(cash, need, out=np.ones_like(need), where=need > 0), 1.0)
        # buyers' cash is their budget; providers' balance is their accumulated profit (their
        # investors carry losses) and market makers size their quotes by their capital
        share[len(self.s.buyers) :] = 1.0
        return np.floor(buy_qty * share[buy_who]), np.floor(sell_qty * share[sell_who])

    def reserve(self, t: int) -> np.ndarray:
        """Reserve price per provider for forward sales ($/GPU-h)."""
        sites, rule = self.s.sites, self.s.scenario.markets.forward.reserve
        if rule == "owning_cost":
            return sites.energy_cost + sites.fixed_cost
        if rule == "marginal_cost":
            return sites.energy_cost.copy()
        fair, _ = self._fair_value(t)
        return np.maximum(sites.energy_cost, fair)

    def _run_bids(self, t: int, starts: list[int]):
        """Waiting runs bid for a strip: the lots their block needs in every window their run
        spans, from the first window they can still start in (a run longer than the traded
        windows covers its remaining periods in the last one). Returns, per order: the run, the
        window, the lots, the limit price and the periods of the run the order covers."""
        r, spec = self.s.runs, self.s.scenario.markets.forward
        empty = np.zeros(0, dtype=np.int64)
        if self.s.queue.pending.size == 0:
            return empty, empty, np.zeros(0), np.zeros(0), empty
        rows = self.s.queue.first_per_owner(self.s.queue.pending)
        # every run still willing to start when the first window opens bids from that window
        rows = rows[r.latest_start[rows] >= starts[0]]
        if rows.size == 0:
            return empty, empty, np.zeros(0), np.zeros(0), empty
        w = self.window
        spans = np.clip(-(-r.periods[rows] // w), 1, len(starts))
        run = np.repeat(rows, spans)
        first = np.repeat(np.cumsum(spans) - spans, spans)
        product = np.arange(run.size) - first
        last = product == np.repeat(spans, spans) - 1
        cover = np.where(last, r.periods[run] - w * product, w).astype(np.int64)
        lots = np.ceil(r.gpus[run] / spec.lot_gpus)
        hours = r.gpus[run] * r.periods[run] * self.s.h
        budget = self.s.run_budget(r.agent[run])
        limit = np.minimum(r.value[run], budget / np.maximum(hours, 1e-9))
        cap, _ = self.spot_scores(t, starts)
        limit = np.minimum(limit, cap[product])
        # a run that cannot pay a positive price in one of its windows does not bid at all
        keep = np.repeat(np.minimum.reduceat(limit, np.cumsum(spans) - spans) > 0, spans)
        return run[keep], product[keep], lots[keep], limit[keep], cover[keep]

    def spot_scores(self, t: int, starts: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Mean-variance scores of waiting for the spot market, per delivery window: the most a
        buyer pays forward (the recent spot price plus ``risk_aversion`` s.d. of the spot price
        over the time until delivery) and the least a buyer sells forward for (the same less,
        never below zero). Without a spot market there is no alternative: the cap is infinite
        and the floor zero."""
        if not self.s.scenario.markets.spot.enabled:
            return np.full(len(starts), np.inf), np.zeros(len(starts))
        fair, vol = self._fair_value(t)
        tau = np.maximum(np.asarray(starts) - t, 0) / self.s.cal.periods_per_day
        premium = self.s.scenario.buyers.choice.risk_aversion * vol * np.sqrt(tau)
        return fair + premium, np.maximum(fair - premium, 0.0)

    def _holder_offers(self, t: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        """Whole lots buyers offer in the window starting at ``start`` (cash settlement).

        - Secondary market: a long position that no kept block stands behind any more (the run
          was not placed, its owner failed, or only part of its bid was filled) is sold back.
        - Resale into forwards (``markets.contracts.resale``): a contract holder sells forward
          the pool GPUs it does not use now (neither by runs nor by steady load), if its
          contracts cover the whole window, less what it has already sold for that window; at
          delivery it resells them on the spot market, so the short position locks in the
          forward price.
        """
        b, lot = self.s.buyers, self.s.scenario.markets.forward.lot_gpus
        n_b = len(b)
        offer = np.zeros(n_b)
        fb = self._books.get(start)
        held = fb.accounts.position[:n_b] if fb is not None else np.zeros(n_b)
        long = np.maximum(held, 0.0)
        if long.any():
            r = self.s.runs
            res = self.s.queue.reserved
            kept = res[(r.start[res] <= start) & (r.start[res] + r.periods[res] > start)]
            kept = kept[b.alive[r.agent[kept]]]
            backed = np.bincount(r.agent[kept], np.ceil(r.gpus[kept] / lot), n_b)
            if self.s.programme is not None:
                backed[self.s.programme] += self.buyer.lots_kept(start)
            offer += np.maximum(long - backed, 0.0)
        if self.s.scenario.markets.contracts.resale and self.s.pools.holders.size:
            end = start + self.window
            bk = self.s.book
            live = bk.live()
            live = live[(bk.start[live] <= start) & (bk.end[live] >= end)]
            covered = np.bincount(bk.holder[live], bk.gpus[live], n_b)
            prof = self.s.profiles[:, min(t, self.s.cal.horizon - 1)]
            want = np.where(b.alive, b.base_load * prof[b.kind], 0.0)
            spare = np.maximum(np.minimum(covered, b.pool_gpus) - b.pool_busy - want, 0.0)
            short = np.maximum(-held, 0.0)
            offer += np.where(b.alive, np.maximum(np.floor(spare / lot) - short, 0.0), 0.0)
        offer = np.floor(offer + 1e-9)
        who = np.flatnonzero(offer > 0)  # a failed buyer's long is sold off too
        return offer[who], who

    def _release_failed_reservations(self, t: int) -> None:
        """Blocks kept for runs whose owner has failed go back to the market at once, not at
        their window's start (the owner's position, if any, is sold back by the secondary
        market)."""
        r, b = self.s.runs, self.s.buyers
        if self.s.queue.reserved.size == 0:
            return
        gone = self.s.queue.reserved[~b.alive[r.agent[self.s.queue.reserved]]]
        if gone.size == 0:
            return
        self.s.queue.reserved = self.s.queue.reserved[b.alive[r.agent[self.s.queue.reserved]]]
        self._give_back(gone, t)

    def _give_back(self, rows: np.ndarray, t: int) -> None:
        """Release what is left from ``t`` of the blocks kept for ``rows``, which are abandoned."""
        r = self.s.runs
        start = np.maximum(r.start[rows], t)
        left = np.maximum(r.periods[rows] - (start - r.start[rows]), 0)
        self.s.ledger.release(r.site[rows], start, left, r.gpus[rows], contract=False)
        self._abandon(rows)

    def _abandon(self, rows: np.ndarray) -> None:
        """Runs whose kept block went back never start: no start, no site. They keep the forward
        channel and the price, and under physical settlement what they prepaid."""
        r = self.s.runs
        r.status[rows] = ABANDONED
        r.start[rows] = -1
        r.site[rows] = -1

    # ---- physical settlement -----------------------------------------------------------------

    def _deliver_blocks(self, t, starts, price, orders, filled, prepaid: bool) -> None:
        """A run whose strip is filled in full in every window has its block kept for it at
        one site whose reserve the lowest of those prices meets; it pays each window's price
        for the periods that window covers: at the trade (physical), or at delivery at the spot
        price (cash; see start_reserved). Runs are placed highest value first."""
        r, s, q = self.s.runs, self.s.sites, self.s.queue
        runs = orders["runs"]
        if runs.size == 0:
            return
        n = runs.size
        book = orders["book"]
        product = book["buy_product"][:n]
        short = filled[:n] < book["buy_qty"][:n] - 1e-9
        uniq, first, inv = np.unique(runs, return_index=True, return_inverse=True)
        won = np.bincount(inv, short, uniq.size) == 0
        if not won.any():
            return
        p = np.asarray(price, dtype=float)[product]
        p = np.where(np.isfinite(p), p, np.inf)  # a window nobody traded: no winner uses it
        cost = np.bincount(inv, r.gpus[runs] * orders["cover"] * self.s.h * p, uniq.size)
        low = np.full(uniq.size, np.inf)
        np.minimum.at(low, inv, p)
        k0 = product[first]  # runs' orders are stored first window first
        reserve = self.reserve(t)[s.site_provider]
        for k in np.unique(k0[won]):
            sel = np.flatnonzero(won & (k0 == k))
            sel = sel[np.argsort(-r.value[uniq[sel]], kind="stable")]
            rows = uniq[sel]
            open_sites = reserve[None, :] <= low[sel, None] + 1e-12
            req = BlockRequests(
                gpus=r.gpus[rows],
                periods=r.periods[rows],
                max_price=np.full(rows.size, np.inf),
                budget=np.full(rows.size, np.inf),
                eligible=open_sites,
            )
            start = starts[k]
            width = int(r.periods[rows].max())
            alloc = allocate_blocks(
                self.s.ledger.free(start, width), np.zeros(reserve.size), req, self.s.h
            )
            got = alloc.site >= 0
            if not got.any():
                continue
            rows, sites, paid = rows[got], alloc.site[got], cost[sel[got]]
            self.s.ledger.reserve(sites, start, r.periods[rows], r.gpus[rows], contract=False)
            if prepaid:
                seller = self.s.provider_account(self.s.sites.site_provider[sites])
                self.s.accounts.transfer("forward_physical", t, r.agent[rows], seller, paid)
                r.paid[rows] += paid
            r.status[rows] = RESERVED
            r.start[rows] = start
            r.site[rows] = sites
            r.price[rows] = paid / (r.gpus[rows] * r.periods[rows] * self.s.h)
            r.channel[rows] = FORWARD
            self.s.queue.reserved = np.concatenate([self.s.queue.reserved, rows])
        q.pending = q.pending[r.status[q.pending] == PENDING]

    def start_reserved(self, t: int) -> None:
        """Runs whose reserved window begins now start; a failed owner's block is released."""
        r, b = self.s.runs, self.s.buyers
        if self.s.queue.reserved.size == 0:
            return
        due = self.s.queue.reserved[r.start[self.s.queue.reserved] <= t]
        if due.size == 0:
            return
        self.s.queue.reserved = self.s.queue.reserved[r.start[self.s.queue.reserved] > t]
        alive = b.alive[r.agent[due]]
        gone = due[~alive]
        if gone.size:
            self._give_back(gone, t)  # the owner failed before its window
        go = due[alive]
        if go.size and self.s.scenario.markets.forward.settlement == "cash":
            go = self._pay_at_delivery(t, go)
        if go.size:
            r.status[go] = PENDING  # ``start`` moves them to running
            self.s.queue.start(go, t, FORWARD, r.price[go], self.s.listener, r.site[go])

    def _pay_at_delivery(self, t: int, rows: np.ndarray) -> np.ndarray:
        """Cash settlement: the kept block is bought at today's spot price (the position pays
        the difference to the forward price at settlement). A run whose owner cannot pay gives
        the block back."""
        r, b = self.s.runs, self.s.buyers
        spot = self.s.signals.spot_price[t]
        unit = np.full(rows.size, spot) if np.isfinite(spot) else r.price[rows].copy()
        cost = r.gpus[rows] * r.periods[rows] * self.s.h * unit
        owner = r.agent[rows]
        ok = cost <= b.cash[owner] + 1e-9
        short = rows[~ok]
        if short.size:
            self.s.ledger.release(r.site[short], t, r.periods[short], r.gpus[short], contract=False)
            self._abandon(short)  # could not pay for its block
        rows = rows[ok]
        seller = self.s.provider_account(self.s.sites.site_provider[r.site[rows]])
        self.s.accounts.transfer("forward_delivery", t, r.agent[rows], seller, cost[ok])
        r.paid[rows] += cost[ok]
        r.price[rows] = unit[ok]
        return rows

    # ---- cash settlement -----------------------------------------------------------------------

    def _open_positions(self, t, starts, res, orders) -> None:
        spec = self.s.scenario.markets.forward
        for k, start in enumerate(starts):
            price = float(res.price[k])
            if not np.isfinite(price):
                continue
            fb = self._books.setdefault(start, ForwardBook(start, self._participants))
            if fb.accounts.mark == 0.0:
                fb.accounts = MarginAccounts(fb.accounts.position, fb.accounts.collateral, price)
            self._mark(fb, price)
            buy = orders["book"]["buy_product"] == k
            sell = orders["book"]["sell_product"] == k
            delta = np.zeros(self._participants)
            np.add.at(delta, orders["buy_who"][buy], res.buy_filled[buy])
            np.subtract.at(delta, orders["sell_who"][sell], res.sell_filled[sell])
            fb.accounts, margin = trade_margin(
                self._contract, fb.accounts, delta, price, spec.initial_margin
            )
            self._post(t, margin)

    def _mark(self, fb: ForwardBook, price: float) -> None:
        """Variation margin to ``price``; defaulters' positions pass to the clearing house,
        which bears their shortfall and the later gains or losses on what it took over."""
        call = mark_to_market(self._contract, fb.accounts, price)
        house_gain = fb.house_position * (price - fb.accounts.mark) * self.lot_hours
        fb.house_loss += call.clearing_house_loss - house_gain
        fb.house_position += call.absorbed_position
        fb.accounts = call.accounts
        if call.defaulted.any():
            lost = np.flatnonzero(call.defaulted)
            self.s.listener.forward_defaults(lost, call.shortfall[lost])

    def settle_deliveries(self, t: int) -> None:
        """Windows that have ended settle against the spot index; collateral goes back."""
        for start in [w for w in self._books if w + self.window <= t]:
            fb = self._books.pop(start)
            window = self.s.signals.spot_price[start : start + self.window]
            index = float(np.nanmean(window)) if np.isfinite(window).any() else fb.accounts.mark
            self._mark(fb, index)
            self._post(t, -fb.accounts.collateral)
            self.house_loss += fb.house_loss
        self._publish_open_collateral()

    def _post(self, t: int, amount: np.ndarray) -> None:
        """Participants post ``amount`` [participant] of collateral to the clearing house
        (negative: it pays collateral back, with the gains or less the losses on it)."""
        pay, back = np.flatnonzero(amount > 0), np.flatnonzero(amount < 0)
        house = np.array([self._house])
        self.s.accounts.entry(
            "margin",
            t,
            (np.concatenate([pay, house]), np.concatenate([amount[pay], [-amount[back].sum()]])),
            (np.concatenate([house, back]), np.concatenate([[amount[pay].sum()], -amount[back]])),
        )

    def _publish_open_collateral(self) -> None:
        """Market makers' collateral still posted for windows not yet settled."""
        first = self.s.accounts.layout.first_maker
        held = self.s.makers.open_collateral
        held[:] = 0.0
        for fb in self._books.values():
            held += fb.accounts.collateral[first:]

    def sold_now(self, t: int) -> np.ndarray | None:
        """GPUs each provider has sold forward (cash-settled, short) for the window holding
        ``t``: a provider short forward gains less from a high spot price, so it withholds less
        (the Allaz-Vila channel)."""
        start = (t // self.window) * self.window
        fb = self._books.get(start)
        if fb is None:
            return None
        first = len(self.s.buyers)
        short = -fb.accounts.position[first : first + self.s.sites.providers]
        return np.maximum(short, 0.0) * self.s.scenario.markets.forward.lot_gpus

    def _maker_orders(self, t, starts, buy, sell_qty, sell_price, sell_prod, sell_who) -> None:
        mm = self.s.scenario.market_makers
        policy = QuotePolicy(
            risk_aversion=mm.risk_aversion,
            arrival_decay=mm.arrival_decay,
            quote_size=mm.quote_lots,
            max_inventory=mm.max_inventory_lots,
            margin_rate=self.s.scenario.markets.forward.initial_margin,
        )
        fair, vol = self._fair_value(t)
        first = self.s.accounts.layout.first_maker
        who = first + np.arange(mm.count)
        capital = self.s.accounts.cash_of(first, mm.count)
        for k, start in enumerate(starts):
            fb = self._books.get(start)
            inventory = fb.accounts.position[who] if fb is not None else np.zeros(mm.count)
            tau = (start - t) / self.s.cal.periods_per_day / 365.0
            q = market_maker_quotes(capital, inventory, fair, vol, tau, policy, self.lot_hours)
            if np.isfinite(q.bid).any():
                self._quoted_mid[k] = float(np.nanmean((q.bid + q.ask) / 2))
            live = q.bid_size > 0
            buy["qty"].append(np.floor(q.bid_size[live]))
            buy["price"].append(q.bid[live])
            buy["prod"].append(np.full(int(live.sum()), k))
            buy["who"].append(who[live])
            live = q.ask_size > 0
            sell_qty.append(np.floor(q.ask_size[live]))
            sell_price.append(q.ask[live])
            sell_prod.append(np.full(int(live.sum()), k))
            sell_who.append(who[live])

    def _fair_value(self, t: int) -> tuple[float, float]:
        """Recent spot price and the s.d. of its daily log change (price risk per day)."""
        back = max(0, t - self.s.cal.periods(30))
        recent = self.s.signals.spot_price[back:t]
        latest = recent[-self.window :]
        if not np.isfinite(latest).any():  # no auction priced the latest window
            return float(self.s.sites.list_price.min()), 0.1
        fair = float(np.nanmean(latest))
        day = np.arange(back, t) / self.s.cal.periods_per_day
        vol = daily_log_change_sd(day, recent)
        return fair, (vol if np.isfinite(vol) and vol > 0 else 0.05) * fair
