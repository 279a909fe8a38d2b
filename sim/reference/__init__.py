"""Mechanisms no scenario reaches: exact references, validation, and the heuristic block auction.

Only tests and benchmarks import this package; nothing else in `sim` may (a test scans the
imports). It holds the HiGHS references that the scenario mechanisms in `sim.markets` are
checked against (`divisible_lp`, `block_milp`), the spot auction with all-or-nothing block
bids (`block_auction` and its parts `block_book`, `block_search`, `site_market`,
`site_welfare`, `block_pricing`, `block_model`), the continuous double auction with the
zero-intelligence traders of Gode and Sunder (`continuous_double_auction`,
`zero_intelligence`), per-contract forward settlement (`settlement`) and random instances
(`instances`). `registry.REFERENCES` lists the clearing mechanisms by name.
"""
