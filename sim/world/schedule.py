"""simpy processes that call the world's verbs on a calendar."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence

import simpy

Process = Generator[simpy.Event, None, None]
Action = Callable[[int], None]


def every(
    env: simpy.Environment,
    interval: int,
    action: Action,
    first: int = 0,
    last: int | None = None,
) -> Process:
    """``action(t)`` every ``interval`` periods, from ``first`` intervals on, up to ``last``."""
    if first:
        yield env.timeout(first * interval)
    while True:
        action(int(env.now))
        if last is not None and env.now >= last:
            return
        yield env.timeout(interval)


def in_turn(env: simpy.Environment, first: Sequence[Action], then: Sequence[Action]) -> Process:
    """Every period, ``then`` in order, from period 1 on (``first`` at period 0): the order in
    which separate processes started one after the other would run them."""
    for action in first:
        action(0)
    while True:
        yield env.timeout(1)
        t = int(env.now)
        for action in then:
            action(t)
