"""A qubit decaying through a time-dependent jump operator (formulas in `tests/systems/README.md`)."""

from __future__ import annotations

import torch

import dynamics as qd

from .base import System, tensor
from .qubits import SM, SZ, tilted_ket


class Cosine(torch.nn.Module):
    r"""$t \mapsto \cos(\nu t)$ as a `torch.nn.Module` with the parameter `frequency` ($\nu$).

    Given an `nn.Parameter`, the module registers it, and the solve functions find it
    themselves (no `params=` needed); a plain tensor stays an attribute they cannot see.
    """

    def __init__(self, frequency: torch.Tensor):
        super().__init__()
        self.frequency = frequency

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return torch.cos(self.frequency * t)


class ModulatedDecay(System):
    r"""Relaxation through a modulated jump operator $L(t) = \sqrt{\gamma}\cos(\nu t)\,\sigma_-$.

    $H = \frac{\Delta}{2}\sigma_z$, $\psi_0 = \cos(\pi/6)|0\rangle + e^{0.4i}\sin(\pi/6)|1\rangle$.
    With $\Gamma(t) = \int_0^t \cos^2(\nu s)\,ds = \frac t2 + \frac{\sin 2\nu t}{4\nu}$:
    $\rho_{00}(t) = \rho_{00} e^{-\gamma\Gamma(t)}$,
    $\rho_{01}(t) = \rho_{01} e^{-i\Delta t - \gamma\Gamma(t)/2}$.
    Parameters `gamma` (in the operator), `delta` and `frequency`; the jump operator is
    `qd.modulated(Cosine(frequency), √γ σ−)`, so `frequency` is an `nn.Module` parameter
    that the solve functions find automatically (it is not a hidden parameter).
    """

    closed = False
    piecewise_constant = False

    def __init__(self, gamma: float = 0.9, delta: float = 1.1, frequency: float = 1.3):
        self.name = f"ModulatedDecay(gamma={gamma},frequency={frequency})"
        self.n = 2
        nu = torch.nn.Parameter(tensor(frequency), requires_grad=False)
        self.params = {"gamma": tensor(gamma), "delta": tensor(delta), "frequency": nu}
        self.tsave = torch.linspace(0.0, 3.0, 7, dtype=torch.float64)

    def H(self, p=None):
        p = self.params if p is None else p
        return p["delta"] / 2 * SZ

    def jump_ops(self, p=None):
        p = self.params if p is None else p
        return [qd.modulated(Cosine(p["frequency"]), torch.sqrt(p["gamma"]) * SM)]

    def psi0(self, p=None):
        return tilted_ket()

    @property
    def exp_ops(self):
        return [SZ, SM]

    def _gamma_integral(self, t, p):
        nu = p["frequency"]
        return t / 2 + torch.sin(2 * nu * t) / (4 * nu)

    def _evolve(self, rho, t, p):
        rate = p["gamma"] * self._gamma_integral(t, p)
        keep = torch.exp(-rate)
        coh = torch.exp(-1j * p["delta"] * t - rate / 2)
        top = torch.stack([rho[0, 0] * keep, rho[0, 1] * coh], dim=-1)
        bottom = torch.stack([rho[1, 0] * coh.conj(), rho[1, 1] + rho[0, 0] * (1 - keep)], dim=-1)
        return torch.stack([top, bottom], dim=-2)  # (nt, 2, 2)

    def evolve(self, rho, t):
        return self._evolve(rho, t, self.params)

    def _rho(self, t, p):
        psi = self.psi0()
        return self._evolve(psi @ psi.mH, t, p)
