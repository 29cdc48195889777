r"""Penalty terms for pulse optimisation: leakage, amplitude, smoothness and energy.

Control amplitudes `u` have shape `(..., ncontrols, N)`, as produced by
`Pulse.forward()` (`N` slices, leading batch dimensions for multi-start or ensembles);
real or complex values are accepted (complex ones are penalised through $|u|^2$).
Every penalty returns a real tensor of shape `(...)`: batch dimensions are kept, the
control and slice axes are reduced. A penalty is zero for an ideal pulse and grows
with the defect, so that it can be added to the loss with a positive weight.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .._config import get_cdtype, get_device, get_rdtype
from .._convert import QArrayLike
from .fidelities import _convert, _parse_subspace

__all__ = ["amplitude", "energy", "leakage", "smoothness"]

_KINDS = ("auto", "gate", "state")


# ----------------------------------------------------------------------------- checks


def _as_controls(u: QArrayLike) -> torch.Tensor:
    """Convert `u` to a real (or complex) floating tensor of shape `(..., ncontrols, N)`."""
    if not isinstance(u, torch.Tensor):
        arr = np.asarray(u)
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
        ):
            raise TypeError(
                "Argument `u` must be a tensor, NumPy array or nested list of numbers, "
                f"but is of type {type(u).__name__}."
            )
        dtype = get_cdtype() if np.iscomplexobj(arr) else get_rdtype()
        u = torch.as_tensor(arr, device=get_device()).to(dtype)
    elif not (u.is_floating_point() or u.is_complex()):
        u = u.to(get_rdtype())
    if u.ndim < 2:
        raise ValueError(
            f"Argument `u` must have shape (..., ncontrols, N), but has shape {tuple(u.shape)}."
        )
    return u


def _real_like(x: object, name: str, u: torch.Tensor) -> torch.Tensor:
    """Convert `x` to a real tensor with the precision and device of `u`."""
    dtype = u.real.dtype
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError(f"Argument `{name}` must be real, but has dtype {x.dtype}.")
        if x.device != u.device:
            raise ValueError(
                f"Argument `{name}` must be on the device of `u` ({u.device}), but is on {x.device}."
            )
        return x.to(dtype)
    try:
        return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype, device=u.device)
    except (TypeError, ValueError):
        raise TypeError(
            f"Argument `{name}` must be a real number or a sequence of real numbers, but is {x!r}."
        ) from None


def _as_dt(dt: object, u: torch.Tensor) -> torch.Tensor:
    """Return `dt` as a real tensor of shape `()` or `(N,)`, checked positive."""
    dt = _real_like(dt, "dt", u)
    N = u.shape[-1]
    if dt.ndim > 1 or (dt.ndim == 1 and dt.shape[0] != N):
        raise ValueError(
            f"Argument `dt` must be a scalar or have shape ({N},) like the slices of `u`, "
            f"but has shape {tuple(dt.shape)}."
        )
    if not bool((dt.detach() > 0).all()):
        raise ValueError(f"Argument `dt` must be positive, but is {dt.detach().cpu().tolist()}.")
    return dt


def _abs2(x: torch.Tensor) -> torch.Tensor:
    return x.real.square() + x.imag.square() if x.is_complex() else x.square()


def _trace(x: torch.Tensor) -> torch.Tensor:
    return x.diagonal(dim1=-2, dim2=-1).sum(-1)


# ----------------------------------------------------------------------------- leakage


def leakage(
    x: QArrayLike, subspace: Sequence[int] | QArrayLike, *, kind: str = "auto"
) -> torch.Tensor:
    r"""Population that leaves a subspace, for a gate or a state.

    For a gate $U$ (`kind="gate"`), the mean over the subspace's basis states (equally,
    over its Haar-random states) of the population that ends outside it:

    $$
    L = \frac{1}{d}\Big(\|U P\|_F^2 - \|P^\dagger U P\|_F^2\Big)
      = 1 - \frac{1}{d}\,\mathrm{Tr}(M M^\dagger) \text{ for unitary } U,
      \qquad M = P^\dagger U P.
    $$

    For a state (`kind="state"`), the population outside the subspace,
    $L = \mathrm{Tr}\,\rho - \mathrm{Tr}(P^\dagger\rho P)$ (or $\|\psi\|^2 - \|P^\dagger\psi\|^2$
    for a ket). With `kind="auto"`, a ket `(..., n, 1)` is a state and a square matrix
    is a gate: pass `kind="state"` for density matrices.

    Args:
        x: Gate `(..., n, n)`, ket `(..., n, 1)` or density matrix `(..., n, n)`.
        subspace: `d` distinct level indices, or an isometry `(n, d)`.
        kind: `'auto'`, `'gate'` or `'state'`.

    Returns:
        Real tensor of shape `(...)`.

    Raises:
        ValueError: If `kind` is unknown, `x` has an invalid shape or the subspace is
            invalid.
        TypeError: If `subspace` has the wrong type.

    Examples:
        >>> import math, torch
        >>> from dynamics.control.penalties import leakage
        >>> c, s = math.cos(0.3), math.sin(0.3)
        >>> U = torch.tensor([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=torch.float64)
        >>> leakage(U, [0, 1])  # |1> leaks to |2>: sin²(0.3) / 2
        tensor(0.0437, dtype=torch.float64)
    """
    if kind not in _KINDS:
        raise ValueError(f"Argument `kind` must be 'auto', 'gate' or 'state', but is {kind!r}.")
    x = _convert(x, "x")
    is_ket = x.ndim >= 2 and x.shape[-1] == 1 and kind != "gate"
    if x.ndim < 2 or not (is_ket or x.shape[-1] == x.shape[-2]):
        expected = "(..., n, n)" if kind == "gate" else "(..., n, n) or (..., n, 1)"
        raise ValueError(
            f"Argument `x` must have shape {expected}, but has shape {tuple(x.shape)}."
        )
    if subspace is None:
        raise TypeError("Argument `subspace` must be level indices or an isometry, but is None.")
    sub = _parse_subspace(subspace, x.shape[-2], x)
    if is_ket:
        return _abs2(x).sum((-2, -1)) - _abs2(sub.columns(x.mH)).sum((-2, -1))
    if kind == "state":
        return (_trace(x) - _trace(sub.compress(x))).real
    UP = sub.columns(x)  # (..., n, d)
    return (_abs2(UP).sum((-2, -1)) - _abs2(sub.compress(x)).sum((-2, -1))) / sub.d


# ----------------------------------------------------------------------------- controls


def amplitude(u: QArrayLike, bound: float | Sequence[float] | None = None) -> torch.Tensor:
    r"""Mean squared amplitude, or mean squared excess over a bound.

    $$
    R = \frac{1}{K N}\sum_{k,j} |u_{kj}|^2 \quad\text{or}\quad
    R = \frac{1}{K N}\sum_{k,j} \max(|u_{kj}| - b_k, 0)^2,
    $$

    for `K` controls and `N` slices; the second form (with `bound`) is zero inside the
    bound and quadratic outside (a soft constraint).

    Args:
        u: Amplitudes `(..., ncontrols, N)`.
        bound: `None`, a non-negative number for all controls, or a sequence of
            `ncontrols` non-negative numbers (one per control).

    Returns:
        Real tensor of shape `(...)`.

    Raises:
        ValueError: If `u` has fewer than 2 dimensions or `bound` is negative or of the
            wrong length.
        TypeError: If `u` or `bound` are not numeric.

    Examples:
        >>> from dynamics.control.penalties import amplitude
        >>> u = [[1.0, -3.0], [0.0, 2.0]]
        >>> amplitude(u)  # (1 + 9 + 0 + 4) / 4
        tensor(3.5000, dtype=torch.float64)
        >>> amplitude(u, bound=2.0)  # (3 - 2)² / 4
        tensor(0.2500, dtype=torch.float64)
    """
    u = _as_controls(u)
    if bound is None:
        return _abs2(u).mean((-2, -1))
    b = _real_like(bound, "bound", u)
    K = u.shape[-2]
    if b.ndim > 1 or (b.ndim == 1 and b.shape[0] != K):
        raise ValueError(
            f"Argument `bound` must be a number or a sequence of {K} numbers (one per control), "
            f"but has shape {tuple(b.shape)}."
        )
    if not bool((b.detach() >= 0).all()):
        raise ValueError(
            f"Argument `bound` must be non-negative, but is {b.detach().cpu().tolist()}."
        )
    b = b[:, None] if b.ndim == 1 else b
    return torch.relu(u.abs() - b).square().mean((-2, -1))


def smoothness(u: QArrayLike, dt: float | QArrayLike | None = None) -> torch.Tensor:
    r"""Mean squared finite difference of the amplitudes along the slices.

    $$
    R = \frac{1}{K(N-1)}\sum_{k}\sum_{j=1}^{N-1}
        \Big|\frac{u_{k,j} - u_{k,j-1}}{\tau_j}\Big|^2,
    \qquad \tau_j = \tfrac{1}{2}(\Delta t_{j-1} + \Delta t_j),
    $$

    with $\tau_j = 1$ when `dt` is None (plain differences), the uniform width for a
    scalar `dt`, and the distance between slice midpoints for slice widths `(N,)`
    (an estimate of $\langle \dot u^2\rangle$).

    Args:
        u: Amplitudes `(..., ncontrols, N)` with `N >= 2`.
        dt: `None`, a positive slice width, or positive slice widths `(N,)` (e.g.
            `Pulse.dt`).

    Returns:
        Real tensor of shape `(...)`.

    Raises:
        ValueError: If `u` has fewer than 2 dimensions or 2 slices, or `dt` has a wrong
            shape or non-positive values.
        TypeError: If `u` or `dt` are not numeric.

    Examples:
        >>> from dynamics.control.penalties import smoothness
        >>> smoothness([[0.0, 1.0, 3.0]])  # (1 + 4) / 2
        tensor(2.5000, dtype=torch.float64)
        >>> smoothness([[0.0, 1.0, 3.0]], dt=0.5)  # (4 + 16) / 2
        tensor(10., dtype=torch.float64)
    """
    u = _as_controls(u)
    if u.shape[-1] < 2:
        raise ValueError(
            f"Argument `u` must have at least 2 slices along its last axis, but has shape "
            f"{tuple(u.shape)}."
        )
    du = u.diff(dim=-1)  # (..., K, N - 1)
    if dt is not None:
        dt = _as_dt(dt, u)
        du = du / (0.5 * (dt[1:] + dt[:-1]) if dt.ndim == 1 else dt)
    return _abs2(du).mean((-2, -1))


def energy(u: QArrayLike, dt: float | QArrayLike) -> torch.Tensor:
    r"""Pulse energy (fluence), summed over slices and controls.

    $$
    E = \sum_{k}\sum_{j} |u_{kj}|^2\,\Delta t_j .
    $$

    Args:
        u: Amplitudes `(..., ncontrols, N)`.
        dt: A positive slice width, or positive slice widths `(N,)` (e.g. `Pulse.dt`).

    Returns:
        Real tensor of shape `(...)`.

    Raises:
        ValueError: If `u` has fewer than 2 dimensions or `dt` has a wrong shape or
            non-positive values.
        TypeError: If `u` or `dt` are not numeric.

    Examples:
        >>> from dynamics.control.penalties import energy
        >>> energy([[1.0, 2.0], [0.0, -1.0]], dt=[0.5, 0.25])  # 0.5 + 4 * 0.25 + 0.25
        tensor(1.7500, dtype=torch.float64)
    """
    u = _as_controls(u)
    dt = _as_dt(dt, u)
    return (_abs2(u) * dt).sum((-2, -1))
