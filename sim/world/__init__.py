"""The simulated world: state in arrays, sparse events scheduled by simpy (see core.py)."""

from sim.world.core import World

__all__ = ["World"]
