"""Integration methods (`qd.method`): generic ones from the engine and the Lindblad-specific Rouchon maps."""

from solvers.methods import RK4, Dopri5, Dopri8, Euler, Expm, Tsit5

from .rouchon import Rouchon1, Rouchon2

__all__ = ["RK4", "Dopri5", "Dopri8", "Euler", "Expm", "Rouchon1", "Rouchon2", "Tsit5"]

ALL_METHODS = (Euler, RK4, Dopri5, Tsit5, Dopri8, Expm, Rouchon1, Rouchon2)
"""Every method the solve functions accept (the test matrix reads this registry)."""
