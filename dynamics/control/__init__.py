"""Pulse optimisation: parametrisations, fidelities, penalties and the optimize driver.

Pulses are `torch.nn.Module`s whose `hamiltonian(H0, controls)` is a time-dependent
operator for the solve functions; fidelities and penalties are differentiable
functions of propagators, states and amplitudes; `optimize` runs any `torch.optim`
optimiser on them, with multi-start (a batch of pulses) and robust (a batch of
systems) problems expressed as batch dimensions.

Examples:
    >>> import torch
    >>> import dynamics as qd
    >>> from dynamics import control as qdc
    >>> times = torch.linspace(0.0, torch.pi, 11, dtype=torch.float64)
    >>> pulse = qdc.PWC(times, 1, init=torch.full((1, 10), 0.9, dtype=torch.float64))
    >>> def fidelity(p):
    ...     U = qd.sepropagator(p.hamiltonian(None, [qd.sigmax() / 2]), times[[0, -1]],
    ...                         method=qd.method.Expm()).propagators[-1]
    ...     return qdc.gate_fidelity(U, qd.sigmax())
    >>> result = qdc.optimize(pulse, fidelity, target=0.9999, progress=False)
    >>> result.fidelity > 0.9999
    True
"""

from .fidelities import (
    average_gate_fidelity,
    average_process_fidelity,
    gate_fidelity,
    process_fidelity,
    state_fidelity,
)
from .optimize import History, OptimizeResult, optimize, robust
from .penalties import amplitude, energy, leakage, smoothness
from .pulses import DRAG, PWC, Filtered, Fourier, Gaussian, Pulse, Ramped, Spline, gaussian_kernel

__all__ = [
    "DRAG",
    "PWC",
    "Filtered",
    "Fourier",
    "Gaussian",
    "History",
    "OptimizeResult",
    "Pulse",
    "Ramped",
    "Spline",
    "amplitude",
    "average_gate_fidelity",
    "average_process_fidelity",
    "energy",
    "gate_fidelity",
    "gaussian_kernel",
    "leakage",
    "optimize",
    "process_fidelity",
    "robust",
    "smoothness",
    "state_fidelity",
]
