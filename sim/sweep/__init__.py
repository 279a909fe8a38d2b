"""Parameter sweeps, sensitivity analysis and scenario discovery.

The engine runs a *model function* ``f(params, seed, replication) -> dict[str, float]`` over an
experimental design on any ``concurrent.futures.Executor``; the simulator is one such function
(``sim.sweep.model.SimulatorModel``), the Ishigami function (``sim.sweep.analytic``) another.
Modules are imported where used, so ``import sim.sweep`` stays light.
"""
