"""Rouchon methods: positivity- and trace-preserving Kraus maps for the Lindblad equation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from solvers import AbstractStepMap
from solvers.methods.base import check_positive

from .equations import LindbladTerm

__all__ = ["Rouchon1", "Rouchon2"]


def _normalise(M: torch.Tensor) -> torch.Tensor:
    """Return Kraus operators `M_k S^{-1/2}`-like, with `Σ M_k† M_k = I` exactly.

    Uses the Cholesky factor `S = C C†` (`M̃_k = M_k C^{-†}`), which stays
    differentiable when `S` has degenerate eigenvalues (it is close to the identity).
    """
    S = (M.mH @ M).sum(-3)
    C = torch.linalg.cholesky(S)
    X = torch.linalg.solve_triangular(C.unsqueeze(-3), M.mH, upper=False)
    return X.mH


@dataclass(frozen=True, kw_only=True)
class _AbstractRouchon(AbstractStepMap):
    """Shared code of the Rouchon methods: fixed `dt`, Kraus map, Lindblad terms."""

    term_kind: ClassVar[str] = "lindblad"
    dt: float
    max_steps: int = 1_000_000

    def __post_init__(self):
        check_positive(type(self).__name__, "dt", self.dt)
        check_positive(type(self).__name__, "max_steps", self.max_steps, integer=True)

    def check_term(self, term) -> None:
        """Require a Lindblad term."""
        if not isinstance(term, LindbladTerm):
            raise TypeError(
                f"{type(self).__name__} needs a LindbladTerm, got {type(term).__name__}."
            )

    def apply(self, prepared: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Apply the Kraus map `ρ → Σ_k M_k ρ M_k†`."""
        return (prepared @ y.unsqueeze(-3) @ prepared.mH).sum(-3)

    def _kraus(self, A: torch.Tensor, L: torch.Tensor | None, dt: float) -> list[torch.Tensor]:
        raise NotImplementedError

    def prepare(self, term: LindbladTerm, t: float, dt: float) -> torch.Tensor:
        """Return the normalised Kraus operators at the midpoint, shape `(..., nK, n, n)`."""
        tm = t + dt / 2
        A, L = term.A(tm), term.L(tm)
        ops = torch.broadcast_tensors(*self._kraus(A, L, dt))
        return _normalise(torch.stack(ops, dim=-3))


@dataclass(frozen=True, kw_only=True)
class Rouchon1(_AbstractRouchon):
    r"""First-order Rouchon method for the Lindblad equation (fixed step `dt`).

    One step is the Kraus map with $M_0 = I - iH_\mathrm{eff}\,dt$ and
    $M_k = \sqrt{dt}\, L_k$, normalised so that $\sum_k M_k^\dagger M_k = I$: the
    state stays a density matrix (positive, unit trace) for any `dt`. Order 1.
    Supports the Direct gradient.

    Reference: P. Rouchon and J. F. Ralph, "Efficient quantum filtering for quantum
    feedback control", Phys. Rev. A 91, 012118 (2015).

    Examples:
        >>> import dynamics as qd
        >>> qd.method.Rouchon1(dt=1e-3)
        Rouchon1(dt=0.001, max_steps=1000000)
    """

    order: ClassVar[int] = 1

    def _kraus(self, A, L, dt):
        eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        ops = [eye + A * dt]
        if L is not None:
            ops += [math.sqrt(dt) * Lk for Lk in L.unbind(-3)]
        return ops


@dataclass(frozen=True, kw_only=True)
class Rouchon2(_AbstractRouchon):
    r"""Second-order Rouchon method for the Lindblad equation (fixed step `dt`).

    The Kraus map $M_0 = I + A\,dt + A^2 dt^2/2$ (with $A = -iH_\mathrm{eff}$),
    $M_k = \sqrt{dt}\,(L_k + \tfrac{dt}{2}(A L_k + L_k A))$,
    $M_{kl} = \tfrac{dt}{\sqrt 2} L_k L_l$ matches $e^{\mathcal{L}dt}$ to second
    order; normalised so that $\sum M^\dagger M = I$, it preserves positivity and
    trace for any `dt`. Order 2. Supports the Direct gradient.

    Reference: P. Rouchon and J. F. Ralph, Phys. Rev. A 91, 012118 (2015).

    Examples:
        >>> import dynamics as qd
        >>> qd.method.Rouchon2(dt=1e-2).dt
        0.01
    """

    order: ClassVar[int] = 2

    def _kraus(self, A, L, dt):
        eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        A2 = A @ A
        ops = [eye + A * dt + A2 * (dt**2 / 2)]
        if L is not None:
            Ls = L.unbind(-3)
            ops += [math.sqrt(dt) * (Lk + (dt / 2) * (A @ Lk + Lk @ A)) for Lk in Ls]
            ops += [(dt / math.sqrt(2)) * (Lk @ Ll) for Lk in Ls for Ll in Ls]
        return ops
