"""Market clearing mechanisms as pure functions: orders in, trades and prices out.

Nothing here imports simpy; the simulator calls these functions from its processes. Mechanisms
a scenario can choose are listed by name in `sim.markets.registry.MECHANISMS`; exact references
and mechanisms kept only for validation are in `sim.reference`, which nothing here imports.
"""
