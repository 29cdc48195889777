r"""Figures of merit for pulse optimisation: state, gate and process fidelities.

Every function returns a real tensor with the broadcast batch shape of its inputs
(no reduction over batch dimensions), works under autograd and on any device, and
follows the complex dtype of its inputs.

A *subspace* selects the computational levels of a larger system. It is `None` (the
whole space, `d = n`), a sequence of `d` distinct level indices (e.g. `[0, 1]` of a
transmon), or an isometry `P` of shape `(n, d)` with orthonormal columns. The part of
an operator `U` acting inside the subspace is $M = P^\dagger U P$, `(..., d, d)`; for
indices this is the sub-matrix `U[idx][:, idx]`. Population that leaks out of the
subspace makes $M$ non-unitary, which lowers every fidelity below automatically.

Superoperators use column stacking, as `qd.mepropagator` and QuTiP
(`qutip.operator_to_vector`): $\mathrm{vec}(A\rho B) = (B^T \otimes A)\,\mathrm{vec}(\rho)$,
so a unitary $U$ has the superoperator $\mathcal{S}_U = \bar U \otimes U$.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._convert import QArrayLike, to_tensor
from .._shapes import broadcast_shapes
from ..equations import superop_kron
from ..linalg import fidelity
from ..operators import _is_int

__all__ = [
    "average_gate_fidelity",
    "average_process_fidelity",
    "gate_fidelity",
    "process_fidelity",
    "state_fidelity",
]

_PHASES = ("insensitive", "sensitive")


# ----------------------------------------------------------------------------- checks


def _convert(x: QArrayLike, name: str, ref: torch.Tensor | None = None) -> torch.Tensor:
    """Convert `x` to a complex tensor; a non-tensor goes to the device and dtype of `ref`."""
    if isinstance(x, torch.Tensor) or ref is None:
        x = to_tensor(x, name=name)
    else:
        x = to_tensor(x, name=name, dtype=ref.dtype, device=ref.device)
    if ref is not None and x.device != ref.device:
        raise ValueError(
            f"Argument `{name}` must be on the device of the other arguments ({ref.device}), "
            f"but is on {x.device}."
        )
    return x


def _square(x: QArrayLike, name: str, ref: torch.Tensor | None = None) -> torch.Tensor:
    x = _convert(x, name, ref)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"Argument `{name}` must have shape (..., n, n), but has shape {tuple(x.shape)}."
        )
    return x


def _state(x: QArrayLike, name: str, ref: torch.Tensor | None = None) -> torch.Tensor:
    x = _convert(x, name, ref)
    if x.ndim < 2 or x.shape[-1] not in (1, x.shape[-2]):
        raise ValueError(
            f"Argument `{name}` must be a ket (..., n, 1) or a density matrix (..., n, n), "
            f"but has shape {tuple(x.shape)}."
        )
    return x


def _broadcast(x: torch.Tensor, y: torch.Tensor, names: tuple[str, str]) -> None:
    try:
        broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"Arguments `{names[0]}` and `{names[1]}` must have broadcastable batch shapes, "
            f"but have shapes {tuple(x.shape)} and {tuple(y.shape)}."
        ) from None


def _promote(*xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    dtype = xs[0].dtype
    for x in xs[1:]:
        dtype = torch.promote_types(dtype, x.dtype)
    return tuple(x.to(dtype) for x in xs)


def _check_phase(phase: object) -> None:
    if phase not in _PHASES:
        raise ValueError(
            f"Argument `phase` must be 'insensitive' or 'sensitive', but is {phase!r}."
        )


# ----------------------------------------------------------------------------- subspace


@dataclass(frozen=True)
class _Subspace:
    """A parsed subspace of a dimension-`n` space: level indices, an isometry, or all of it."""

    n: int
    d: int
    index: torch.Tensor | None = None  # (d,) level indices
    isometry: torch.Tensor | None = None  # (n, d)

    def compress(self, A: torch.Tensor) -> torch.Tensor:
        """Return `P† A P` for `A` of shape `(..., n, n)`."""
        if self.index is not None:
            return A[..., self.index, :][..., self.index]
        if self.isometry is not None:
            P = self.isometry.to(A.dtype)
            return P.mH @ A @ P
        return A

    def columns(self, A: torch.Tensor) -> torch.Tensor:
        """Return `A P` for `A` of shape `(..., m, n)`."""
        if self.index is not None:
            return A[..., self.index]
        if self.isometry is not None:
            return A @ self.isometry.to(A.dtype)
        return A

    def superop(self, S: torch.Tensor) -> torch.Tensor:
        r"""Restrict `S` `(..., n², n²)` to `(..., d², d²)`: $(P^T\otimes P^\dagger)\,S\,(\bar P\otimes P)$."""
        if self.index is not None:
            i = self.index
            v = (i[:, None] * self.n + i[None, :]).reshape(-1)  # (col, row): vec index col n + row
            return S[..., v, :][..., v]
        if self.isometry is not None:
            P = self.isometry.to(S.dtype)
            return superop_kron(P.mT, P.mH) @ S @ superop_kron(P.conj(), P)
        return S


def _parse_subspace(subspace: object, n: int, ref: torch.Tensor) -> _Subspace:
    """Check `subspace` against the dimension `n` and return it on the device of `ref`."""
    if subspace is None:
        return _Subspace(n, n)
    if isinstance(subspace, (Sequence, range)) and all(_is_int(i) for i in subspace):
        index = [int(i) for i in subspace]
    elif isinstance(subspace, (torch.Tensor, np.ndarray)) and subspace.ndim == 1:
        if not _is_int_array(subspace):
            raise TypeError(
                "Argument `subspace` must be a sequence of level indices or an isometry of "
                f"shape (n, d), but is a 1-D array of dtype {subspace.dtype}."
            )
        index = [int(i) for i in subspace.tolist()]
    else:
        return _parse_isometry(subspace, n, ref)
    if len(index) == 0 or len(set(index)) != len(index) or not all(0 <= i < n for i in index):
        raise ValueError(
            f"Argument `subspace` must contain distinct level indices in [0, {n}), but is {index}."
        )
    return _Subspace(n, len(index), index=torch.tensor(index, device=ref.device))


def _is_int_array(x: torch.Tensor | np.ndarray) -> bool:
    if isinstance(x, np.ndarray):
        return bool(np.issubdtype(x.dtype, np.integer))
    return not (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool)


def _parse_isometry(subspace: object, n: int, ref: torch.Tensor) -> _Subspace:
    try:
        P = _convert(subspace, "subspace", ref)
    except TypeError:
        raise TypeError(
            "Argument `subspace` must be None, a sequence of level indices or an isometry of "
            f"shape (n, d), but is {subspace!r}."
        ) from None
    if P.ndim == 1:
        raise TypeError(
            "Argument `subspace` must be a sequence of integer level indices or an isometry "
            f"of shape ({n}, d), but is {subspace!r}."
        )
    if P.ndim != 2 or P.shape[0] != n or not 1 <= P.shape[1] <= n:
        raise ValueError(
            f"Argument `subspace` must be an isometry of shape ({n}, d) with d <= {n}, "
            f"but has shape {tuple(P.shape)}."
        )
    eye = torch.eye(P.shape[1], dtype=P.dtype, device=P.device)
    tol = math.sqrt(torch.finfo(P.real.dtype).eps)
    err = float(((P.mH @ P).detach() - eye).abs().amax())
    if not err <= tol:
        raise ValueError(
            f"Argument `subspace` must have orthonormal columns (max |P† P - I| <= {tol:.1e}), "
            f"but has max |P† P - I| = {err:.2e}."
        )
    return _Subspace(n, P.shape[1], isometry=P)


def _gate_args(U: QArrayLike, target: QArrayLike, subspace: object):
    """Convert and check `U`, `target` and `subspace`; return `(P† U P, target, d)`."""
    U = _square(U, "U")
    target = _square(target, "target", U)
    sub = _parse_subspace(subspace, U.shape[-1], U)
    _check_target(target, sub, "U", subspace is None)
    _broadcast(U, target, ("U", "target"))
    M, target = _promote(sub.compress(U), target)
    return M, target, sub.d


def _check_target(target: torch.Tensor, sub: _Subspace, name: str, whole: bool) -> None:
    if target.shape[-1] != sub.d:
        where = (
            f"the dimension n = {sub.n} of `{name}`"
            if whole
            else f"the dimension d = {sub.d} of `subspace`"
        )
        raise ValueError(
            f"Argument `target` must have shape (..., {sub.d}, {sub.d}) to match {where}, "
            f"but has shape {tuple(target.shape)}."
        )


def _overlap(target: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """Return `Tr(target† M)` `(...)` without forming the product."""
    return (target.conj() * M).sum((-2, -1))


# ----------------------------------------------------------------------------- states


def state_fidelity(state: QArrayLike, target: QArrayLike) -> torch.Tensor:
    r"""Fidelity of a state to a target state, in the squared convention.

    $F = |\langle t|\psi\rangle|^2$ for two kets, $\langle t|\rho|t\rangle$ or
    $\langle\psi|\sigma|\psi\rangle$ for a ket and a density matrix, and Uhlmann's
    $F = \big(\mathrm{Tr}\sqrt{\sqrt{\sigma}\,\rho\,\sqrt{\sigma}}\big)^2$ for two density
    matrices ($\sigma$ the target). This is the square of `qutip.fidelity`.

    For two density matrices the square root of the *target* is taken by an
    eigendecomposition and the state only enters the eigenvalues of
    $\sqrt{\sigma}\rho\sqrt{\sigma}$ (`eigvalsh`), so the gradient with respect to
    `state` is well defined even for degenerate spectra, and exact for a pure target.
    Zero eigenvalues (rank-deficient products) get a zero subgradient; a gradient with
    respect to a mixed `target` needs distinct eigenvalues.

    Args:
        state: Ket `(..., n, 1)` or density matrix `(..., n, n)`.
        target: Ket `(..., n, 1)` or density matrix `(..., n, n)`.

    Returns:
        Real tensor of shape `(...)`, the batch shapes of `state` and `target` broadcast.

    Raises:
        ValueError: If a shape is invalid, the dimensions differ or the batch shapes do
            not broadcast.

    Examples:
        >>> import dynamics as qd
        >>> from dynamics.control.fidelities import state_fidelity
        >>> plus = qd.unit(qd.fock(2, 0) + qd.fock(2, 1))
        >>> state_fidelity(qd.fock(2, [0, 1]), plus)
        tensor([0.5000, 0.5000], dtype=torch.float64)
    """
    state = _state(state, "state")
    target = _state(target, "target", state)
    if state.shape[-2] != target.shape[-2]:
        raise ValueError(
            f"Argument `target` must have the Hilbert dimension {state.shape[-2]} of `state`, "
            f"but has shape {tuple(target.shape)}."
        )
    _broadcast(state, target, ("state", "target"))
    return fidelity(target, state)


# ----------------------------------------------------------------------------- gates


def gate_fidelity(
    U: QArrayLike,
    target: QArrayLike,
    *,
    subspace: Sequence[int] | QArrayLike | None = None,
    phase: str = "insensitive",
) -> torch.Tensor:
    r"""Gate fidelity of a propagator to a target gate on a subspace.

    With $M = P^\dagger U P$ and the normalised overlap
    $g = \mathrm{Tr}(V^\dagger M)/d$ ($V$ the target, $d$ the subspace dimension):

    - `phase="insensitive"`: $F = |g|^2$, blind to a global phase (in $[0, 1]$);
    - `phase="sensitive"`: $F = \mathrm{Re}\,g$, which also fixes the global phase
      (in $[-1, 1]$, 1 only for $M = V$).

    Leakage out of the subspace shrinks $M$ and lowers $F$.

    Args:
        U: Propagator `(..., n, n)`.
        target: Target gate `(..., d, d)` (unitary).
        subspace: `None` (`d = n`), `d` distinct level indices, or an isometry `(n, d)`.
        phase: `'insensitive'` or `'sensitive'`.

    Returns:
        Real tensor of shape `(...)`, the batch shapes of `U` and `target` broadcast.

    Raises:
        ValueError: If a shape is invalid, `target` does not match the subspace, the
            subspace is invalid or `phase` is unknown.
        TypeError: If `subspace` has the wrong type.

    Examples:
        >>> import torch, dynamics as qd
        >>> from dynamics.control.fidelities import gate_fidelity
        >>> U = torch.block_diag(-1j * qd.sigmax(), torch.ones(1, 1))  # a transmon's X gate
        >>> gate_fidelity(U, qd.sigmax(), subspace=[0, 1])
        tensor(1., dtype=torch.float64)
        >>> gate_fidelity(U, qd.sigmax(), subspace=[0, 1], phase="sensitive").abs()
        tensor(0., dtype=torch.float64)
    """
    _check_phase(phase)
    M, target, d = _gate_args(U, target, subspace)
    g = _overlap(target, M) / d
    return g.real if phase == "sensitive" else g.real.square() + g.imag.square()


def average_gate_fidelity(
    U: QArrayLike, target: QArrayLike, *, subspace: Sequence[int] | QArrayLike | None = None
) -> torch.Tensor:
    r"""Average gate fidelity over the pure states of the subspace (Pedersen et al. 2007).

    $$
    \bar F = \int d\psi\, |\langle\psi|V^\dagger P^\dagger U P|\psi\rangle|^2
           = \frac{\mathrm{Tr}(M M^\dagger) + |\mathrm{Tr}\,M|^2}{d(d+1)},
    \qquad M = V^\dagger P^\dagger U P,
    $$

    exact for a non-unitary (leaky) $M$ (L. H. Pedersen, N. M. Møller and
    K. Mølmer, Phys. Lett. A 367, 47 (2007)). Without leakage it equals
    `qutip.average_gate_fidelity`.

    Args:
        U: Propagator `(..., n, n)`.
        target: Target gate `(..., d, d)` (unitary).
        subspace: `None` (`d = n`), `d` distinct level indices, or an isometry `(n, d)`.

    Returns:
        Real tensor of shape `(...)`, the batch shapes of `U` and `target` broadcast.

    Raises:
        ValueError: If a shape is invalid, `target` does not match the subspace or the
            subspace is invalid.
        TypeError: If `subspace` has the wrong type.

    Examples:
        >>> import dynamics as qd
        >>> from dynamics.control.fidelities import average_gate_fidelity
        >>> average_gate_fidelity(qd.eye(2), qd.sigmax())  # (2 + 0) / 6
        tensor(0.3333, dtype=torch.float64)
    """
    M, target, d = _gate_args(U, target, subspace)
    M = target.mH @ M
    tr = M.diagonal(dim1=-2, dim2=-1).sum(-1)
    norm2 = (M.real.square() + M.imag.square()).sum((-2, -1))
    return (norm2 + tr.real.square() + tr.imag.square()) / (d * (d + 1))


# ----------------------------------------------------------------------------- processes


def _process_args(S: QArrayLike, target: QArrayLike, subspace: object):
    """Convert and check `S`, `target` and `subspace`; return `(S_P, target, d)`."""
    S = _square(S, "S")
    n = math.isqrt(S.shape[-1])
    if n * n != S.shape[-1]:
        raise ValueError(
            f"Argument `S` must be a superoperator of shape (..., n², n²), but has shape "
            f"{tuple(S.shape)}."
        )
    target = _square(target, "target", S)
    sub = _parse_subspace(subspace, n, S)
    _check_target(target, sub, "S", subspace is None)
    _broadcast(S, target, ("S", "target"))
    S_P, target = _promote(sub.superop(S), target)
    return S_P, target, sub.d


def process_fidelity(
    S: QArrayLike, target: QArrayLike, *, subspace: Sequence[int] | QArrayLike | None = None
) -> torch.Tensor:
    r"""Process (entanglement) fidelity of a superoperator to a unitary target on a subspace.

    $$
    F_\mathrm{pro} = \frac{\mathrm{Tr}(\mathcal{S}_V^\dagger\,\mathcal{S}_P)}{d^2},
    \qquad \mathcal{S}_V = \bar V \otimes V,
    \qquad \mathcal{S}_P = (P^T \otimes P^\dagger)\,\mathcal{S}\,(\bar P \otimes P),
    $$

    with column stacking (the convention of `qd.mepropagator` and QuTiP's `to_super`).
    $\mathcal{S}_P$ is the map $\rho \mapsto P^\dagger\,\mathcal{S}(P\rho P^\dagger)\,P$ on
    the subspace. For the superoperator of a unitary $U$ this is the phase-insensitive
    `gate_fidelity(U, target)`; decoherence and leakage lower it. Without leakage it
    equals `qutip.process_fidelity(S, target)`.

    Args:
        S: Superoperator `(..., n², n²)`, e.g. `qd.mepropagator(...).final_propagator`.
        target: Target gate `(..., d, d)` (unitary).
        subspace: `None` (`d = n`), `d` distinct level indices, or an isometry `(n, d)`.

    Returns:
        Real tensor of shape `(...)`, the batch shapes of `S` and `target` broadcast.

    Raises:
        ValueError: If a shape is invalid, `target` does not match the subspace or the
            subspace is invalid.
        TypeError: If `subspace` has the wrong type.

    Examples:
        >>> import torch, dynamics as qd
        >>> from dynamics.control.fidelities import process_fidelity
        >>> H = torch.pi / 2 * qd.sigmax()  # an X gate in unit time
        >>> S = qd.mepropagator(H, [0.1 * qd.sigmam()], [0, 1]).final_propagator
        >>> process_fidelity(S, qd.sigmax())
        tensor(0.9950, dtype=torch.float64)
    """
    S_P, target, d = _process_args(S, target, subspace)
    return _overlap(superop_kron(target.conj(), target), S_P).real / d**2


def average_process_fidelity(
    S: QArrayLike, target: QArrayLike, *, subspace: Sequence[int] | QArrayLike | None = None
) -> torch.Tensor:
    r"""Average gate fidelity of a superoperator to a unitary target on a subspace.

    Pedersen's formula applied to each Kraus operator of the restricted map
    $\mathcal{S}_P$ (see `process_fidelity`):

    $$
    \bar F = \frac{\mathrm{Tr}\,\mathcal{S}_P(I_d) + d^2 F_\mathrm{pro}}{d(d+1)}
           = \frac{(1 - L) + d\,F_\mathrm{pro}}{d + 1},
    $$

    where $L$ is the mean leakage out of the subspace. It is exact with leakage and
    reduces to the usual $(d F_\mathrm{pro} + 1)/(d + 1)$ (`qutip.average_gate_fidelity`)
    for a trace-preserving map of the subspace. For the superoperator of a unitary it
    equals `average_gate_fidelity`.

    Args:
        S: Superoperator `(..., n², n²)`, e.g. `qd.mepropagator(...).final_propagator`.
        target: Target gate `(..., d, d)` (unitary).
        subspace: `None` (`d = n`), `d` distinct level indices, or an isometry `(n, d)`.

    Returns:
        Real tensor of shape `(...)`, the batch shapes of `S` and `target` broadcast.

    Raises:
        ValueError: If a shape is invalid, `target` does not match the subspace or the
            subspace is invalid.
        TypeError: If `subspace` has the wrong type.

    Examples:
        >>> import dynamics as qd
        >>> from dynamics.control.fidelities import average_process_fidelity
        >>> S = qd.mepropagator(qd.sigmaz(), [], [0, 1]).final_propagator
        >>> average_process_fidelity(S, qd.eye(2))  # (1 + 2 cos²(1)) / 3
        tensor(0.5280, dtype=torch.float64)
    """
    S_P, target, d = _process_args(S, target, subspace)
    f_pro = _overlap(superop_kron(target.conj(), target), S_P).real  # d² F_pro
    diag = torch.arange(d, device=S_P.device) * (d + 1)  # vec(I_d) = Σ_j e_{j d + j}
    kept = S_P[..., diag, :][..., diag].real.sum((-2, -1))  # Tr S_P(I_d)
    return (kept + f_pro) / (d * (d + 1))
