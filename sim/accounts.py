"""Money, booked once, by double entry.

Every movement of money is a journal entry: some accounts pay (``debits``), others receive
(``credits``), both sides add up to the same amount, and the entry carries a reason and a period,
as in plain-text ledgers (beancount, hledger). Agents' cash is the balance of their accounts and is
read-only everywhere else: no other code writes a cash array. Sources and sinks outside the agents
(investors, grant agencies, the public budget, energy and hardware suppliers) are accounts too, so
the sum of all balances is zero at every moment: money is neither made nor lost, only moved.

Account numbers run over buyers, then providers, then market makers, then the single accounts of
``SINGLE``. Totals are kept per reason and account (paid and received) and per reason and period,
which is what ``ledger.parquet`` holds and ``sim check`` audits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REASONS = (
    "opening_balance",  # external -> buyers and market makers, at the start
    "on_demand_run",  # a training run's block bought at a list price
    "on_demand_load",  # steady load rented by the day at list prices
    "spot",  # steady load bought at the spot auction (from providers or resellers)
    "spot_run",  # a run's block bought at the spot price
    "contract",  # contract invoices
    "forward_physical",  # physically settled forward strips, paid at the trade
    "forward_delivery",  # a cash-settled run's kept block, paid at delivery at the spot price
    "margin",  # collateral posted to the clearing house and paid back (with gains or losses)
    "funding_round",  # investors -> startups
    "burn",  # startups' spending outside compute
    "grant",  # grant agencies -> academics
    "grant_lapsed",  # unspent grant money returned at renewal
    "public_budget",  # the public budget -> the programme
    "budget_lapsed",  # the programme's unspent budget
    "energy",  # providers -> energy suppliers
    "capital_and_operations",  # providers -> hardware, financing and operations
)
REASON = {name: k for k, name in enumerate(REASONS)}
COMPUTE_REASONS = (
    "on_demand_run",
    "on_demand_load",
    "spot",
    "spot_run",
    "contract",
    "forward_physical",
    "forward_delivery",
)
SINGLE = (
    "clearing_house",
    "investors",
    "grant_agencies",
    "public_budget",
    "operating_costs",
    "energy_suppliers",
    "capital_and_operations",
)


class UnbalancedEntry(RuntimeError):
    """A journal entry whose two sides do not add up to the same amount."""


@dataclass(frozen=True)
class AccountLayout:
    """Where each kind of account starts in the account numbering."""

    buyers: int
    providers: int
    market_makers: int

    @property
    def first_provider(self) -> int:
        return self.buyers

    @property
    def first_maker(self) -> int:
        return self.buyers + self.providers

    @property
    def participants(self) -> int:
        """Buyers, providers and market makers: the forward market's participants."""
        return self.buyers + self.providers + self.market_makers

    def single(self, name: str) -> int:
        return self.participants + SINGLE.index(name)

    @property
    def size(self) -> int:
        return self.participants + len(SINGLE)

    def names(self) -> list[str]:
        return (
            [f"buyer:{k}" for k in range(self.buyers)]
            + [f"provider:{k}" for k in range(self.providers)]
            + [f"market_maker:{k}" for k in range(self.market_makers)]
            + list(SINGLE)
        )


DUST = 1e-6  # dollars: what float rounding can leave of an amount computed as a difference


def _non_negative(reason: str, *amounts: np.ndarray) -> None:
    """Money moves one way: the payer pays a non-negative amount (the reverse flow is its own
    entry, with payer and payee swapped). Below rounding dust, an amount is a bug."""
    for a in amounts:
        a = np.asarray(a)
        if a.size and a.min() < -DUST:
            raise UnbalancedEntry(f"{reason}: a negative amount ({float(a.min())!r})")


@dataclass(frozen=True)
class Posting:
    """An entry checked to balance and to move no negative amount, which ``Accounts.post``
    books as it is, in any number of periods (a spot clearing repeated on the same book).
    Its arrays are never written after ``Accounts.prepare`` made them."""

    reason: int
    serial: int  # which posting this is, for the accounts that made it
    first: int  # the first account of the span ``net`` covers
    payers: np.ndarray  # accounts that pay, each once
    paid: np.ndarray  # [payer] $
    payees: np.ndarray  # accounts that receive (repeats allowed)
    received: np.ndarray  # [payee] $
    net: np.ndarray  # [account from first] received less paid
    total: float


def _checked(reason: str, paid: np.ndarray, received: np.ndarray) -> float:
    """The total of an entry whose two sides balance (to a part in 1e9, or a cent) and move no
    negative amount; raises otherwise."""
    total_out, total_in = float(paid.sum()), float(received.sum())
    if abs(total_out - total_in) > 1e-2 + 1e-9 * max(abs(total_out), abs(total_in)):
        raise UnbalancedEntry(f"{reason}: paid {total_out!r} but received {total_in!r}")
    _non_negative(reason, paid, received)
    return total_out


class Accounts:
    """Balances of every account, and the totals of what each paid and received, by reason."""

    def __init__(self, layout: AccountLayout, periods: int):
        self.layout = layout
        self._balance = np.zeros(layout.size)
        self._paid = np.zeros((len(REASONS), layout.size))
        self._received = np.zeros((len(REASONS), layout.size))
        # postings booked in balances, not yet in the totals: serial -> [reason, payers, paid,
        # payees, received, times posted]
        self._pending: dict[int, list] = {}
        self._pending_size = 0
        self._serial = 0
        self.flow = np.zeros((len(REASONS), max(periods, 1) + 1))  # $ moved, by period
        self._periods = periods
        view = self._balance.view()
        view.flags.writeable = False
        self.balance = view  # read-only to everyone but this class

    def cash_of(self, first: int, count: int) -> np.ndarray:
        """A read-only view of the balances of ``count`` accounts from ``first``."""
        return self.balance[first : first + count]

    def transfer(
        self,
        reason: str,
        period: int,
        payer: np.ndarray | int,
        payee: np.ndarray | int,
        amount: np.ndarray | float,
    ) -> None:
        """Each ``payer[k]`` pays ``amount[k]`` to ``payee[k]`` (arrays broadcast)."""
        _non_negative(reason, np.asarray(amount))
        payer_a, payee_a, amount_a = np.broadcast_arrays(
            np.asarray(payer, dtype=np.int64),
            np.asarray(payee, dtype=np.int64),
            np.maximum(amount, 0.0),  # rounding dust below zero moves nothing
        )
        # both sides are the same amounts, so the entry balances by construction
        amounts = amount_a.ravel()
        self._post(reason, period, payer_a.ravel(), payee_a.ravel(), amounts, amounts)

    def entry(
        self,
        reason: str,
        period: int,
        debits: tuple[np.ndarray, np.ndarray],
        credits: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """One journal entry: accounts ``debits[0]`` pay ``debits[1]``, accounts ``credits[0]``
        receive ``credits[1]``; the two sides must balance (to a part in 1e9, or a cent)."""
        out_who, out_amt = debits
        in_who, in_amt = credits
        total_out, total_in = float(np.sum(out_amt)), float(np.sum(in_amt))
        if abs(total_out - total_in) > 1e-2 + 1e-9 * max(abs(total_out), abs(total_in)):
            raise UnbalancedEntry(f"{reason}: paid {total_out!r} but received {total_in!r}")
        _non_negative(reason, out_amt, in_amt)
        self._post(reason, period, out_who, in_who, out_amt, in_amt)

    def _post(
        self,
        reason: str,
        period: int,
        out_who: np.ndarray,
        in_who: np.ndarray,
        out_amt: np.ndarray,
        in_amt: np.ndarray,
    ) -> None:
        """Book an entry already checked to balance and to move no negative amount."""
        k = REASON[reason]
        np.subtract.at(self._balance, out_who, out_amt)
        np.add.at(self._balance, in_who, in_amt)
        np.add.at(self._paid[k], out_who, out_amt)
        np.add.at(self._received[k], in_who, in_amt)
        self.flow[k, min(max(period, 0), self._periods)] += float(np.sum(out_amt))

    def pay_dense(
        self,
        reason: str,
        period: int,
        first: int,
        amounts: np.ndarray,
        payee: np.ndarray,
        received: np.ndarray,
    ) -> None:
        """``amounts`` [account from ``first``] paid (dense, zeros included) to ``payee`` (sparse):
        the same entry as ``entry`` without gathering the payers first."""
        total_out = _checked(reason, amounts, received)
        k, span = REASON[reason], slice(first, first + amounts.size)
        paid = np.maximum(amounts, 0.0)  # rounding dust moves nothing
        got = np.maximum(received, 0.0)
        self._balance[span] -= paid
        self._paid[k, span] += paid
        np.add.at(self._balance, payee, got)
        np.add.at(self._received[k], payee, got)
        self.flow[k, min(max(period, 0), self._periods)] += total_out

    def prepare(
        self,
        reason: str,
        first: int,
        amounts: np.ndarray,
        payee: np.ndarray,
        received: np.ndarray,
    ) -> Posting:
        """Check once an entry that may be booked in many periods (``post``): ``amounts``
        [account from ``first``] paid (dense, zeros included) to accounts ``payee`` (sparse,
        repeats allowed, none before ``first``)."""
        total_out = _checked(reason, amounts, received)
        payers = amounts.nonzero()[0]
        paid = np.maximum(amounts[payers], 0.0)  # rounding dust moves nothing
        got = np.maximum(received, 0.0)
        local = payee - first
        size = max(amounts.size, int(local.max()) + 1 if local.size else 0)
        net = np.bincount(local, got, size).astype(float, copy=False)  # repeats summed
        net[payers] -= paid
        self._serial += 1
        return Posting(
            REASON[reason], self._serial, first, payers + first, paid, payee, got, net, total_out
        )

    def post(self, p: Posting, period: int) -> None:
        """Book a checked posting in ``period``: balances now, the totals per reason when next
        read (a posting repeated n times adds n times its amounts)."""
        self._balance[p.first : p.first + p.net.size] += p.net
        self.flow[p.reason, min(max(period, 0), self._periods)] += p.total
        seen = self._pending.get(p.serial)
        if seen is None:
            self._pending[p.serial] = [p.reason, p.payers, p.paid, p.payees, p.received, 1]
            self._pending_size += p.paid.size + p.received.size
            if self._pending_size > 1_000_000:  # keep what waits for ``_settle`` bounded
                self._settle()
        else:
            seen[5] += 1

    def _settle(self) -> None:
        """Add the pending postings to the totals per reason (one bincount per side and
        reason)."""
        if not self._pending:
            return
        size = self._balance.size
        by_reason: dict[int, list] = {}
        for k, payers, paid, payees, got, times in self._pending.values():
            by_reason.setdefault(k, []).append((payers, paid, payees, got, times))
        for k, rows in by_reason.items():
            for side, at, amt in ((self._paid, 0, 1), (self._received, 2, 3)):
                idx = np.concatenate([r[at] for r in rows])
                lengths = np.fromiter((r[at].size for r in rows), np.int64, len(rows))
                times = np.repeat(np.fromiter((r[4] for r in rows), float, len(rows)), lengths)
                amounts = np.concatenate([r[amt] for r in rows]) * times
                side[k] += np.bincount(idx, amounts, size)
        self._pending.clear()
        self._pending_size = 0

    @property
    def paid(self) -> np.ndarray:
        """[reason, account] $ paid so far."""
        self._settle()
        return self._paid

    @property
    def received(self) -> np.ndarray:
        """[reason, account] $ received so far."""
        self._settle()
        return self._received

    def total(self) -> float:
        """Sum of all balances: zero, up to rounding, whatever has happened."""
        return float(self._balance.sum())

    def net(self, reason: str) -> np.ndarray:
        """Received less paid under ``reason``, per account."""
        k = REASON[reason]
        return self.received[k] - self.paid[k]

    def sum_paid(self, reasons: tuple[str, ...]) -> np.ndarray:
        return self.paid[[REASON[r] for r in reasons]].sum(axis=0)

    def sum_received(self, reasons: tuple[str, ...]) -> np.ndarray:
        return self.received[[REASON[r] for r in reasons]].sum(axis=0)
