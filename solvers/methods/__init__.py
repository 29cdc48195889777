"""Integration methods: explicit Runge–Kutta tableaux and step maps."""

from .base import AbstractMethod, AbstractStepMap
from .dopri5 import Dopri5
from .dopri8 import Dopri8
from .euler import Euler
from .explicit_rk import AbstractAdaptiveRK, AbstractFixedRK, AbstractRungeKutta
from .expm import Expm
from .rk4 import RK4
from .tableau import ButcherTableau
from .tsit5 import Tsit5

__all__ = [
    "RK4",
    "AbstractAdaptiveRK",
    "AbstractFixedRK",
    "AbstractMethod",
    "AbstractRungeKutta",
    "AbstractStepMap",
    "ButcherTableau",
    "Dopri5",
    "Dopri8",
    "Euler",
    "Expm",
    "Tsit5",
]

ALL_METHODS: tuple[type[AbstractMethod], ...] = (Euler, RK4, Dopri5, Tsit5, Dopri8, Expm)
"""Every generic method (the test matrix and the API reference read this registry).

Examples:
    >>> from solvers import ALL_METHODS
    >>> [m.__name__ for m in ALL_METHODS]
    ['Euler', 'RK4', 'Dopri5', 'Tsit5', 'Dopri8', 'Expm']
    >>> [m.__name__ for m in ALL_METHODS if m.term_kind == "linear"]  # need a LinearTerm
    ['Expm']
"""
