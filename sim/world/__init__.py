"""The simulated world: typed state, components around it, sparse events scheduled by simpy."""

from sim.world.world import World

__all__ = ["World"]
