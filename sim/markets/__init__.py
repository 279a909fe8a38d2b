"""Market clearing mechanisms as pure functions: orders in, trades and prices out.

Nothing here imports simpy; the simulator calls these functions from its processes. Mechanisms
that clear a book are listed by scenario name in `sim.markets.registry.MECHANISMS`.
"""
