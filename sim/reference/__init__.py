"""Mechanisms no scenario reaches: exact references and validation.

Only tests and benchmarks import this package; nothing else in `sim` may (a test scans the
imports). It holds the HiGHS references that the scenario mechanisms in `sim.markets` are
checked against (`divisible_lp`; `block_milp`, the block auction's welfare problem written out
independently), the continuous double auction with the zero-intelligence traders of Gode and
Sunder (`continuous_double_auction`, `zero_intelligence`), per-contract forward settlement
(`settlement`) and random instances (`instances`). `registry.REFERENCES` lists the clearing
mechanisms by name.
"""
