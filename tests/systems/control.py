"""Small pulse-optimisation problems for the `dynamics.control` tests.

`QubitGate` is the C1 problem of `benchmarks/control.py` (qubit NOT: `H0 = δ σz/2`,
`H_x = σx/2`, `H_y = σy/2`, `T = 2π`) with fewer slices so that tests stay fast. The
fidelity is the gate fidelity `F = |Tr(X† U)|² / 4`, written out here so that the
driver tests do not depend on `dynamics.control.fidelities`. A NOT gate needs a
pulse area of π: with `|u| ≤ 1` it is reachable for `T > π` (at `T = π` only by the
constant pulse `u_x = 1` on the bound), and a constant `u_x = 1/2` over `T = 2π` is
an exact π pulse when `δ = 0`.

`StandInPWC` is a minimal piecewise-constant parametrisation (`u = θ`, or
`u = b sin θ` with a bound `b`): any `nn.Module` can be optimised, so the driver is
tested independently of `dynamics.control.pulses`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

import dynamics as qd

C128 = torch.complex128
F64 = torch.float64


class StandInPWC(nn.Module):
    """Free amplitudes on `N` slices: `u = θ`, or `u = b sin θ` when `bound = b` is given."""

    def __init__(self, times: torch.Tensor, init: torch.Tensor, bound: float | None = None):
        super().__init__()
        self.times = torch.as_tensor(times, dtype=F64)
        self.bound = bound
        init = torch.as_tensor(init, dtype=F64)
        theta = init if bound is None else torch.asin(init / bound)
        self.theta = nn.Parameter(theta.clone())

    def forward(self) -> torch.Tensor:
        """Amplitudes `(*batch, ncontrols, N)`."""
        return self.theta if self.bound is None else self.bound * torch.sin(self.theta)


class QubitGate:
    """Qubit NOT by two controls, `H(t) = δ σz/2 + u_x σx/2 + u_y σy/2` on `[0, T]`.

    `detunings` (a sequence) makes `H0` a batch `(K, 2, 2)`: an ensemble for robust
    control, broadcast with the pulse's batch as `(*starts, K)` when the amplitudes
    are `(*starts, 1, 2, N)` (see `unitary`).
    """

    def __init__(
        self,
        nslices: int = 20,
        T: float = 2 * math.pi,
        detuning: float | Sequence[float] = 0.1,
    ):
        self.nslices, self.T = nslices, T
        self.times = torch.linspace(0.0, T, nslices + 1, dtype=F64)
        delta = torch.as_tensor(detuning, dtype=F64)
        self.H0 = delta[..., None, None] * qd.sigmaz() / 2  # (n, n) or (K, n, n)
        self.controls = [qd.sigmax() / 2, qd.sigmay() / 2]
        self.target = qd.sigmax()

    def initial(self, seed: int = 0, amplitude: float = 0.5, batch: tuple[int, ...] = ()):
        """`numpy.random.default_rng(seed).uniform(-a, a, size=(*batch, 2, N))` as a tensor."""
        rng = np.random.default_rng(seed)
        return torch.tensor(rng.uniform(-amplitude, amplitude, size=(*batch, 2, self.nslices)))

    def unitary(self, u: torch.Tensor) -> torch.Tensor:
        """`U(T)` for amplitudes `u` `(..., 2, N)`: shape `(..., n, n)` (with `H0`'s batch)."""
        H = qd.constant(self.H0)
        for k, Hk in enumerate(self.controls):
            H = H + qd.pwc(self.times, u[..., k, :], Hk)
        return qd.sepropagator(H, [0.0, self.T], method=qd.method.Expm()).final_propagator

    def fidelity(self, U: torch.Tensor) -> torch.Tensor:
        """`|Tr(X† U)|² / 4`, shape `U.shape[:-2]`."""
        overlap = (self.target.conj() * U).sum((-1, -2))
        return overlap.abs() ** 2 / 4

    def objective(self, pulse: nn.Module) -> torch.Tensor:
        """The fidelity of the gate made by `pulse()`: the closure `optimize` takes."""
        return self.fidelity(self.unitary(pulse()))
