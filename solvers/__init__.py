"""solvers: differentiable integration of `dy/dt = f(t, y)` on torch tensors.

The engine knows nothing of quantum mechanics. One entry point, `integrate`, takes a
term (the right-hand side), a method (a frozen dataclass) and a gradient mode.
"""

from .errors import SolverError
from .gradients import ALL_GRADIENTS, AbstractGradient, Adjoint, Checkpointed, Direct
from .integrate import integrate
from .methods import (
    ALL_METHODS,
    RK4,
    AbstractAdaptiveRK,
    AbstractFixedRK,
    AbstractMethod,
    AbstractRungeKutta,
    AbstractStepMap,
    ButcherTableau,
    Dopri5,
    Dopri8,
    Euler,
    Expm,
    Tsit5,
)
from .solution import Solution
from .terms import AbstractTerm, LinearTerm, ODETerm

__all__ = [
    "ALL_GRADIENTS",
    "ALL_METHODS",
    "RK4",
    "AbstractAdaptiveRK",
    "AbstractFixedRK",
    "AbstractGradient",
    "AbstractMethod",
    "AbstractRungeKutta",
    "AbstractStepMap",
    "AbstractTerm",
    "Adjoint",
    "ButcherTableau",
    "Checkpointed",
    "Direct",
    "Dopri5",
    "Dopri8",
    "Euler",
    "Expm",
    "LinearTerm",
    "ODETerm",
    "Solution",
    "SolverError",
    "Tsit5",
    "integrate",
]
