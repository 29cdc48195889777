"""Qubit systems with closed-form solutions (formulas in `tests/systems/README.md`)."""

from __future__ import annotations

import math

import torch

import dynamics as qd

from .base import C128, System, pauli, tensor

SX, SY, SZ = pauli()
SM = torch.tensor([[0, 0], [1, 0]], dtype=C128)  # σ− = |1⟩⟨0|: lowers σz from +1 to −1
EYE = torch.eye(2, dtype=C128)
HADAMARD = torch.tensor([[1, 1], [1, -1]], dtype=C128) / math.sqrt(2)  # columns |+⟩, |−⟩


def tilted_ket(theta: float = math.pi / 3, phi: float = 0.4) -> torch.Tensor:
    """`cos(θ/2)|0⟩ + e^{iφ} sin(θ/2)|1⟩`, shape `(2, 1)`."""
    return torch.tensor(
        [[math.cos(theta / 2)], [math.sin(theta / 2) * complex(math.cos(phi), math.sin(phi))]],
        dtype=C128,
    )


class Rabi(System):
    r"""Rabi oscillation: $H = \frac{\Delta}{2}\sigma_z + \frac{\Omega}{2}\sigma_x$, $\psi_0 = |0\rangle$.

    $P_e(t) = 1 - \frac{\Omega^2}{\Omega_R^2}\sin^2\frac{\Omega_R t}{2}$ with
    $\Omega_R = \sqrt{\Omega^2 + \Delta^2}$. Parameters `omega` ($\Omega$), `delta` ($\Delta$).
    """

    n = 2
    closed = True
    piecewise_constant = True

    def __init__(self, omega: float = 1.3, delta: float = 0.6, tmax: float = 5.0, nt: int = 11):
        self.name = f"Rabi(omega={omega},delta={delta})"
        self.params = {"omega": tensor(omega), "delta": tensor(delta)}
        self.tsave = torch.linspace(0.0, tmax, nt, dtype=torch.float64)

    def H(self, p=None):
        p = self.params if p is None else p
        return p["delta"] / 2 * SZ + p["omega"] / 2 * SX

    def psi0(self, p=None):
        return EYE[:, :1].clone()

    @property
    def exp_ops(self):
        return [SZ, SX, SY]

    def _unitary(self, t, p):
        omega, delta = p["omega"], p["delta"]
        wr = torch.sqrt(omega**2 + delta**2)
        c = torch.cos(wr * t / 2)[:, None, None]
        s = torch.sin(wr * t / 2)[:, None, None]
        return c * EYE - 1j * s * (delta * SZ + omega * SX) / wr

    def _ket_from(self, psi, t, p=None):
        return self._unitary(t, self.params if p is None else p) @ psi

    def _ket(self, t, p):
        return self._ket_from(self.psi0(), t, p)

    def _rho(self, t, p):
        psi = self._ket(t, p)
        return psi @ psi.mH

    def evolve(self, rho, t):
        U = self._unitary(t, self.params)
        return U @ rho @ U.mH

    # explicit formulas (tests check them against `grads`, i.e. autograd of the closed form)
    def p_excited(self, t):
        """$P_e(t) = |\\langle 0|\\psi(t)\\rangle|^2$."""
        omega, delta = self.params["omega"], self.params["delta"]
        wr2 = omega**2 + delta**2
        return 1 - omega**2 / wr2 * torch.sin(torch.sqrt(wr2) * t / 2) ** 2

    def dp_domega(self, t):
        """$\\partial P_e / \\partial\\Omega$."""
        omega, delta = self.params["omega"], self.params["delta"]
        wr = torch.sqrt(omega**2 + delta**2)
        s, c = torch.sin(wr * t / 2), torch.cos(wr * t / 2)
        return -(2 * omega * delta**2 / wr**4 * s**2 + omega**3 / wr**3 * t * s * c)

    def dp_ddelta(self, t):
        """$\\partial P_e / \\partial\\Delta$."""
        omega, delta = self.params["omega"], self.params["delta"]
        wr = torch.sqrt(omega**2 + delta**2)
        s, c = torch.sin(wr * t / 2), torch.cos(wr * t / 2)
        return 2 * omega**2 * delta / wr**4 * s**2 - omega**2 * delta / wr**3 * t * s * c


class _XDrive(System):
    r"""$H = \frac{\varepsilon(t)}{2}\sigma_x$, optionally with $L = \sqrt{\gamma}\,\sigma_x$.

    With $\theta(t) = \int_0^t \varepsilon$, in the $\sigma_x$ eigenbasis $|\pm\rangle$ the
    populations are constant and $\rho_{+-}(t) = \rho_{+-}(0)\, e^{-i\theta(t) - 2\gamma t}$.
    Closed case: $U(t) = e^{-i\theta(t)\sigma_x/2}$.
    """

    n = 2

    def __init__(self, gamma: float | None):
        self.closed = gamma is None
        if gamma is not None:
            self.params["gamma"] = tensor(gamma)

    def _theta(self, t, p) -> torch.Tensor:
        raise NotImplementedError

    def jump_ops(self, p=None):
        p = self.params if p is None else p
        return [] if self.closed else [torch.sqrt(p["gamma"]) * SX]

    def psi0(self, p=None):
        return tilted_ket()

    @property
    def exp_ops(self):
        return [SZ, SX, SY]

    def _evolve(self, rho, t, p):
        theta = self._theta(t, p)
        decay = 0.0 if self.closed else 2 * p["gamma"] * t
        phase = torch.exp(-1j * theta - decay)  # (nt,)
        rx = HADAMARD.mH @ rho @ HADAMARD  # ρ in the |±⟩ basis
        one = torch.ones_like(phase)
        factors = torch.stack([torch.stack([one, phase]), torch.stack([phase.conj(), one])])
        return HADAMARD @ (rx * factors.movedim(-1, 0)) @ HADAMARD.mH

    def evolve(self, rho, t):
        return self._evolve(rho, t, self.params)

    def _rho(self, t, p):
        psi = self.psi0()
        return self._evolve(psi @ psi.mH, t, p)

    def _ket_from(self, psi, t, p=None):
        theta = self._theta(t, self.params if p is None else p)[:, None, None]
        return (torch.cos(theta / 2) * EYE - 1j * torch.sin(theta / 2) * SX) @ psi

    def _ket(self, t, p):
        return self._ket_from(self.psi0(), t, p)


class PWCDrive(_XDrive):
    r"""Qubit driven by a piecewise-constant pulse: $\varepsilon(t) = \Omega_k$ on $[t_k, t_{k+1})$.

    $\theta(t) = \sum_k \Omega_k\,\mathrm{clip}(t - t_k, 0, t_{k+1} - t_k)$ (zero drive
    after the last slice). Parameter `values` ($\Omega_k$, shape `(N,)`) and, when
    dissipative, `gamma`. The slice boundaries are deliberately off the save grid.
    """

    piecewise_constant = True

    def __init__(self, gamma: float | None = None, nt: int = 9):
        self.name = "PWCDrive" + ("" if gamma is None else f"(gamma={gamma})")
        self.times = torch.tensor([0.0, 0.37, 1.1, 1.55, 2.4, 3.03], dtype=torch.float64)
        self.params = {"values": tensor([1.3, -0.7, 2.1, 0.4, -1.6])}
        super().__init__(gamma)
        self.tsave = torch.linspace(0.0, 3.5, nt, dtype=torch.float64)

    def H(self, p=None):
        p = self.params if p is None else p
        return qd.pwc(self.times, p["values"], SX / 2)

    def _theta(self, t, p):
        dt = self.times.diff()
        overlap = (t[:, None] - self.times[:-1]).clamp(min=torch.zeros_like(dt), max=dt)
        return overlap @ p["values"]


class CosineDrive(_XDrive):
    r"""Qubit driven by a smooth modulated pulse: $\varepsilon(t) = A\cos(\nu t)$.

    $\theta(t) = A\sin(\nu t)/\nu$. `H = qd.modulated(lambda t: torch.cos(ν t), A σx/2)`:
    `amplitude` sits in the operator (the solve functions see it), `frequency` is captured
    in a closure (listed in `hidden_params`: a gradient needs it passed explicitly).
    """

    piecewise_constant = False
    hidden_params = ("frequency",)

    def __init__(self, amplitude: float = 2.2, frequency: float = 1.7, gamma: float | None = None):
        self.name = "CosineDrive" + ("" if gamma is None else f"(gamma={gamma})")
        self.params = {"amplitude": tensor(amplitude), "frequency": tensor(frequency)}
        super().__init__(gamma)
        self.tsave = torch.linspace(0.25, 4.0, 9, dtype=torch.float64)  # solved from t0 = 0

    def H(self, p=None):
        p = self.params if p is None else p
        nu = p["frequency"]
        return qd.modulated(lambda t: torch.cos(nu * t), p["amplitude"] * SX / 2)

    def _theta(self, t, p):
        return p["amplitude"] * torch.sin(p["frequency"] * t) / p["frequency"]


class QubitDecay(System):
    r"""Energy relaxation (T1) and pure dephasing (T2) of a qubit.

    $H = \frac{\Delta}{2}\sigma_z$, $L_1 = \sqrt{\gamma_1}\,\sigma_-$ (QuTiP's `sigmam()`
    $= |1\rangle\langle 0|$, which drives $\langle\sigma_z\rangle \to -1$),
    $L_\varphi = \sqrt{\gamma_\varphi/2}\,\sigma_z$:
    $\rho_{00}(t) = \rho_{00} e^{-\gamma_1 t}$,
    $\rho_{01}(t) = \rho_{01} e^{-(i\Delta + \gamma_1/2 + \gamma_\varphi) t}$.
    A rate given as `None` leaves its jump operator out.
    """

    n = 2
    closed = False
    piecewise_constant = True

    def __init__(
        self, gamma1: float | None = 0.7, gamma_phi: float | None = None, delta: float = 1.1
    ):
        rates = {"gamma1": gamma1, "gamma_phi": gamma_phi}
        self.name = "QubitDecay(" + ",".join(f"{k}={v}" for k, v in rates.items() if v) + ")"
        self.params = {k: tensor(v) for k, v in rates.items() if v is not None}
        self.params["delta"] = tensor(delta)
        self.tsave = torch.linspace(0.0, 4.0, 11, dtype=torch.float64)

    def H(self, p=None):
        p = self.params if p is None else p
        return p["delta"] / 2 * SZ

    def jump_ops(self, p=None):
        p = self.params if p is None else p
        ops = []
        if "gamma1" in p:
            ops.append(torch.sqrt(p["gamma1"]) * SM)
        if "gamma_phi" in p:
            ops.append(torch.sqrt(p["gamma_phi"] / 2) * SZ)
        return ops

    def psi0(self, p=None):
        return tilted_ket()

    @property
    def exp_ops(self):
        return [SZ, SM]  # ⟨σz⟩ = 2ρ00 − 1, ⟨σ−⟩ = ρ01

    def _evolve(self, rho, t, p):
        g1 = p.get("gamma1", torch.zeros(()))
        gphi = p.get("gamma_phi", torch.zeros(()))
        keep = torch.exp(-g1 * t)
        coh = torch.exp(-(1j * p["delta"] + g1 / 2 + gphi) * t)
        top = torch.stack([rho[0, 0] * keep, rho[0, 1] * coh], dim=-1)
        bottom = torch.stack([rho[1, 0] * coh.conj(), rho[1, 1] + rho[0, 0] * (1 - keep)], dim=-1)
        return torch.stack([top, bottom], dim=-2)  # (nt, 2, 2)

    def evolve(self, rho, t):
        return self._evolve(rho, t, self.params)

    def _rho(self, t, p):
        psi = self.psi0()
        return self._evolve(psi @ psi.mH, t, p)
