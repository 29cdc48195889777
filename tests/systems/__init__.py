"""Shared test systems with closed-form states, expectation values and gradients.

Each system is a `System` (see `base.py`): operators and initial state built from
tensor parameters (`system.params`, settable `requires_grad_()`), `tsave`, a `run`
method calling the solve functions, and the exact `state`, `expects`, `grads`,
`propagator` and `superoperator`. The formulas are in `tests/systems/README.md`.
"""

from .base import System
from .methods import Case, make_case, method_order
from .oscillators import DampedOscillator, coherent_amplitudes
from .qubits import CosineDrive, PWCDrive, QubitDecay, Rabi

__all__ = [
    "Case",
    "CosineDrive",
    "DampedOscillator",
    "PWCDrive",
    "QubitDecay",
    "Rabi",
    "System",
    "all_systems",
    "coherent_amplitudes",
    "make_case",
    "method_order",
]


def all_systems() -> list[System]:
    """One fresh instance of every system variant (closed and dissipative)."""
    return [
        Rabi(),
        PWCDrive(),
        PWCDrive(gamma=0.15),
        CosineDrive(),
        CosineDrive(gamma=0.15),
        QubitDecay(gamma1=0.7),
        QubitDecay(gamma1=None, gamma_phi=0.5),
        QubitDecay(gamma1=0.7, gamma_phi=0.5),
        DampedOscillator(),
    ]
