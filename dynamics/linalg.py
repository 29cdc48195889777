"""Quantum linear algebra: tensor products, adjoints, expectation values, partial traces, metrics.

Kets have shape `(..., n, 1)`, density matrices and operators `(..., n, n)`;
leading dimensions are batch dimensions and broadcast like torch tensors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import reduce

import torch

from ._convert import QArrayLike, to_tensor
from ._shapes import broadcast_shapes
from .operators import _check_dims, _is_int

__all__ = [
    "dag",
    "entropy_vn",
    "expect",
    "fidelity",
    "norm",
    "ptrace",
    "purity",
    "tensor",
    "trace",
    "unit",
]


# ----------------------------------------------------------------------------- checks


def _as_array(x: QArrayLike, name: str) -> torch.Tensor:
    x = to_tensor(x, name=name)
    if x.ndim < 2:
        raise ValueError(
            f"Argument `{name}` must have at least 2 dimensions (..., n, m), "
            f"but has shape {tuple(x.shape)}."
        )
    return x


def _as_ket(x: QArrayLike, name: str) -> torch.Tensor:
    x = to_tensor(x, name=name)
    if x.ndim < 2 or x.shape[-1] != 1:
        raise ValueError(
            f"Argument `{name}` must have shape (..., n, 1), but has shape {tuple(x.shape)}."
        )
    return x


def _as_oper(x: QArrayLike, name: str) -> torch.Tensor:
    x = to_tensor(x, name=name)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"Argument `{name}` must have shape (..., n, n), but has shape {tuple(x.shape)}."
        )
    return x


def _as_state(x: QArrayLike, name: str) -> torch.Tensor:
    """A ket `(..., n, 1)` or a density matrix `(..., n, n)`."""
    x = to_tensor(x, name=name)
    if x.ndim < 2 or x.shape[-1] not in (1, x.shape[-2]):
        raise ValueError(
            f"Argument `{name}` must have shape (..., n, n) or (..., n, 1), "
            f"but has shape {tuple(x.shape)}."
        )
    return x


def _isket(x: torch.Tensor) -> bool:
    return x.shape[-1] == 1


def _pair(x: torch.Tensor, y: torch.Tensor, names: tuple[str, str]):
    """Check that `x` and `y` share n, broadcastable batch shapes and a device; promote dtypes."""
    nx, ny = names
    if x.shape[-2] != y.shape[-2]:
        raise ValueError(
            f"Arguments `{nx}` and `{ny}` must have the same Hilbert dimension n, but "
            f"`{nx}` has shape {tuple(x.shape)} and `{ny}` has shape {tuple(y.shape)}."
        )
    try:
        broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except RuntimeError as err:
        raise ValueError(
            f"Arguments `{nx}` and `{ny}` must have broadcastable batch shapes, but have "
            f"shapes {tuple(x.shape)} and {tuple(y.shape)}."
        ) from err
    if x.device != y.device:
        raise ValueError(
            f"Arguments `{nx}` and `{ny}` must be on the same device, but are on "
            f"{x.device} and {y.device}."
        )
    dtype = torch.promote_types(x.dtype, y.dtype)
    return x.to(dtype), y.to(dtype)


def _hermitian_part(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (x + x.mH)


def _sqrt_eigvals(w: torch.Tensor) -> torch.Tensor:
    """Square roots of the eigenvalues `w` `(..., n)` of a positive semi-definite matrix.

    Eigenvalues below `n * eps * max(w)` are rounding noise around zero (their square
    roots would be ~1e-8 in double precision): they give 0, with a zero gradient.
    """
    tol = w.shape[-1] * torch.finfo(w.dtype).eps * w.amax(-1, keepdim=True).clamp(min=0)
    pos = w > tol.detach()
    return torch.where(pos, torch.where(pos, w, 1.0).sqrt(), 0.0)


def _check_keep(keep: int | Sequence[int], nsub: int) -> list[int]:
    keep = [keep] if _is_int(keep) else keep
    if not isinstance(keep, Sequence) or not all(_is_int(i) for i in keep):
        raise TypeError(
            f"Argument `keep` must be an integer or a sequence of integers, but is {keep!r}."
        )
    if any(not 0 <= i < nsub for i in keep) or len(set(keep)) != len(keep):
        raise ValueError(
            f"Argument `keep` must contain distinct subsystem indices in [0, {nsub}), "
            f"but is {list(keep)}."
        )
    return sorted(int(i) for i in keep)


# ----------------------------------------------------------------------------- basics


def tensor(*ops: QArrayLike) -> torch.Tensor:
    r"""Tensor (Kronecker) product $A_1 \otimes A_2 \otimes \dots$, broadcast over batch dims.

    Works for kets, bras and operators alike: inputs of shapes `(..., m_i, n_i)`
    give `(..., prod(m_i), prod(n_i))`, with batch dimensions broadcast.

    Args:
        *ops: Array-likes of shape `(..., m_i, n_i)`.

    Returns:
        Tensor of shape `(..., prod(m_i), prod(n_i))`.

    Raises:
        ValueError: If no argument is given, an argument has fewer than 2
            dimensions, or batch shapes do not broadcast.

    Examples:
        >>> import dynamics as qd
        >>> qd.tensor(qd.sigmaz(), qd.eye(3)).shape
        torch.Size([6, 6])
        >>> qd.tensor(qd.fock(2, [0, 1]), qd.fock(3, 2)).shape
        torch.Size([2, 6, 1])
    """
    if len(ops) == 0:
        raise ValueError("Argument `ops` must contain at least one array, but is empty.")
    tensors = [_as_array(op, f"ops[{i}]") for i, op in enumerate(ops)]
    return reduce(_kron2, tensors)


def _kron2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    try:
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except RuntimeError as err:
        raise ValueError(
            "Arguments `ops` must have broadcastable batch shapes, but have shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}."
        ) from err
    (m, n), (p, q) = a.shape[-2:], b.shape[-2:]
    dtype = torch.promote_types(a.dtype, b.dtype)
    out = a.to(dtype)[..., :, None, :, None] * b.to(dtype)[..., None, :, None, :]
    return out.reshape(*batch, m * p, n * q)


def dag(x: QArrayLike) -> torch.Tensor:
    r"""Adjoint (conjugate transpose) $x^\dagger$ of the last two dimensions.

    Args:
        x: Array-like of shape `(..., m, n)`.

    Returns:
        Tensor of shape `(..., n, m)`.

    Raises:
        ValueError: If `x` has fewer than 2 dimensions.

    Examples:
        >>> import dynamics as qd
        >>> qd.dag(qd.fock(3, 1)).shape
        torch.Size([1, 3])
    """
    return _as_array(x, "x").mH


def trace(x: QArrayLike) -> torch.Tensor:
    r"""Trace $\mathrm{Tr}\, x$ of the last two dimensions.

    Args:
        x: Array-like of shape `(..., n, n)`.

    Returns:
        Complex tensor of shape `(...)`.

    Raises:
        ValueError: If `x` is not square.

    Examples:
        >>> import dynamics as qd
        >>> qd.trace(qd.number(4))
        tensor(6.+0.j, dtype=torch.complex128)
    """
    return _as_oper(x, "x").diagonal(dim1=-2, dim2=-1).sum(-1)


def expect(O: QArrayLike, x: QArrayLike) -> torch.Tensor:
    r"""Expectation value $\langle x|O|x\rangle$ (ket) or $\mathrm{Tr}(O x)$ (density matrix).

    The trace is computed as $\sum_{ij} O_{ij} x_{ji}$, without a matrix product.

    Args:
        O: Operator of shape `(..., n, n)`.
        x: Ket of shape `(..., n, 1)` or density matrix of shape `(..., n, n)`.

    Returns:
        Complex tensor of shape `(...)`, the batch shapes of `O` and `x` broadcast.

    Raises:
        ValueError: If the shapes are invalid, differ in `n` or do not broadcast.

    Examples:
        >>> import dynamics as qd
        >>> qd.expect(qd.number(10), qd.fock(10, [1, 3]))
        tensor([1.+0.j, 3.+0.j], dtype=torch.complex128)
    """
    O, x = _pair(_as_oper(O, "O"), _as_state(x, "x"), ("O", "x"))
    if _isket(x):
        return (x.conj() * (O @ x)).sum((-2, -1))
    return (O * x.mT).sum((-2, -1))


def ptrace(x: QArrayLike, keep: int | Sequence[int], dims: Sequence[int]) -> torch.Tensor:
    r"""Partial trace over every subsystem not in `keep`.

    The kept subsystems stay in their original order (as in QuTiP), whatever the
    order of `keep`.

    Args:
        x: Ket `(..., N, 1)` or density matrix `(..., N, N)` with `N = prod(dims)`.
        keep: Index or indices of the subsystems to keep.
        dims: Dimensions of the subsystems.

    Returns:
        Density matrix of shape `(..., M, M)`, `M` the product of the kept dimensions.

    Raises:
        TypeError: If `keep` or `dims` do not contain integers.
        ValueError: If the indices are invalid or `prod(dims)` differs from `N`.

    Examples:
        >>> import dynamics as qd
        >>> psi = qd.fock((2, 3), (1, 2))
        >>> qd.ptrace(psi, 1, (2, 3)).diagonal().real
        tensor([0., 0., 1.], dtype=torch.float64)
    """
    x, dims = _as_state(x, "x"), _check_dims(dims)
    if math.prod(dims) != x.shape[-2]:
        raise ValueError(
            f"Argument `dims` must multiply to the Hilbert dimension {x.shape[-2]} of `x`, "
            f"but is {dims}."
        )
    keep = _check_keep(keep, len(dims))
    out = [i for i in range(len(dims)) if i not in keep]
    batch, nb, m = x.shape[:-2], x.ndim - 2, len(dims)
    dk, do = math.prod(dims[i] for i in keep), math.prod(dims[i] for i in out)
    sub = [nb + i for i in keep + out]
    if _isket(x):
        psi = x.reshape(*batch, *dims).permute(*range(nb), *sub).reshape(*batch, dk, do)
        return psi @ psi.mH
    rho = x.reshape(*batch, *dims, *dims)
    rho = rho.permute(*range(nb), *sub, *(i + m for i in sub)).reshape(*batch, dk, do, dk, do)
    return torch.einsum("...itjt->...ij", rho)


# ----------------------------------------------------------------------------- metrics


def norm(x: QArrayLike) -> torch.Tensor:
    r"""Norm of a state: $\|\psi\|_2$ for a ket, trace norm $\mathrm{Tr}\sqrt{x^\dagger x}$ else.

    As in QuTiP, the trace norm (sum of singular values) equals the trace for a
    density matrix.

    Args:
        x: Ket `(..., n, 1)` or density matrix `(..., n, n)`.

    Returns:
        Real tensor of shape `(...)`.

    Raises:
        ValueError: If `x` is neither a ket nor a square matrix.

    Examples:
        >>> import dynamics as qd
        >>> qd.norm(2 * qd.fock(3, 0))
        tensor(2., dtype=torch.float64)
    """
    x = _as_state(x, "x")
    if _isket(x):
        return torch.linalg.vector_norm(x, dim=(-2, -1))
    return torch.linalg.svdvals(x).sum(-1)


def unit(x: QArrayLike) -> torch.Tensor:
    """Normalise a ket or density matrix by its `norm`.

    Args:
        x: Ket `(..., n, 1)` or density matrix `(..., n, n)`.

    Returns:
        Tensor of the same shape as `x`, of unit norm.

    Raises:
        ValueError: If `x` is neither a ket nor a square matrix.

    Examples:
        >>> import dynamics as qd
        >>> qd.unit(qd.fock(2, 0) + qd.fock(2, 1)).real.T
        tensor([[0.7071, 0.7071]], dtype=torch.float64)
    """
    x = _as_state(x, "x")
    return x / norm(x)[..., None, None]


def fidelity(x: QArrayLike, y: QArrayLike) -> torch.Tensor:
    r"""Fidelity between two states, in the squared convention (as dynamiqs).

    $F = |\langle x|y\rangle|^2$ for two kets, $\langle x|y|x\rangle$ for a ket
    and a density matrix, and $F = \big(\mathrm{Tr}\sqrt{\sqrt{x}\,y\sqrt{x}}\big)^2$
    for two density matrices. This is the square of `qutip.fidelity`. For two
    density matrices it uses eigendecompositions, so its gradient is defined for
    full-rank states with distinct eigenvalues.

    Args:
        x: Ket `(..., n, 1)` or density matrix `(..., n, n)`.
        y: Ket `(..., n, 1)` or density matrix `(..., n, n)`.

    Returns:
        Real tensor of shape `(...)`, the batch shapes of `x` and `y` broadcast.

    Raises:
        ValueError: If the shapes are invalid, differ in `n` or do not broadcast.

    Examples:
        >>> import dynamics as qd
        >>> qd.fidelity(qd.fock(2, 0), qd.unit(qd.fock(2, 0) + qd.fock(2, 1)))
        tensor(0.5000, dtype=torch.float64)
    """
    x, y = _pair(_as_state(x, "x"), _as_state(y, "y"), ("x", "y"))
    if _isket(x) and _isket(y):
        return (x.mH @ y)[..., 0, 0].abs() ** 2
    if _isket(x) or _isket(y):
        psi, rho = (x, y) if _isket(x) else (y, x)
        return (psi.conj() * (rho @ psi)).sum((-2, -1)).real
    w, v = torch.linalg.eigh(_hermitian_part(x))
    sqrt_x = (v * _sqrt_eigvals(w).to(v.dtype)[..., None, :]) @ v.mH
    m = _hermitian_part(sqrt_x @ y @ sqrt_x)
    return _sqrt_eigvals(torch.linalg.eigvalsh(m)).sum(-1) ** 2


def purity(x: QArrayLike) -> torch.Tensor:
    r"""Purity $\mathrm{Tr}\,\rho^2$ of a state.

    For a ket, $\rho = |\psi\rangle\langle\psi|$ and the purity is $\|\psi\|^4$
    (1 for a normalised ket, as QuTiP). For a density matrix it is computed as
    $\sum_{ij} \rho_{ij}\rho_{ji}$, without a matrix product.

    Args:
        x: Ket `(..., n, 1)` or density matrix `(..., n, n)`.

    Returns:
        Real tensor of shape `(...)`.

    Raises:
        ValueError: If `x` is neither a ket nor a square matrix.

    Examples:
        >>> import dynamics as qd
        >>> qd.purity(qd.eye(4) / 4)
        tensor(0.2500, dtype=torch.float64)
    """
    x = _as_state(x, "x")
    if _isket(x):
        return torch.linalg.vector_norm(x, dim=(-2, -1)) ** 4
    return (x * x.mT).sum((-2, -1)).real


def entropy_vn(x: QArrayLike) -> torch.Tensor:
    r"""Von Neumann entropy $S = -\mathrm{Tr}\,\rho\ln\rho$ (natural logarithm, as QuTiP).

    Eigenvalues $\le 0$ contribute zero (with zero gradient).

    Args:
        x: Ket `(..., n, 1)` or density matrix `(..., n, n)`.

    Returns:
        Real tensor of shape `(...)`.

    Raises:
        ValueError: If `x` is neither a ket nor a square matrix.

    Examples:
        >>> import dynamics as qd
        >>> qd.entropy_vn(qd.eye(2) / 2)
        tensor(0.6931, dtype=torch.float64)
    """
    x = _as_state(x, "x")
    if _isket(x):
        p = (torch.linalg.vector_norm(x, dim=(-2, -1)) ** 2)[..., None]
    else:
        p = torch.linalg.eigvalsh(_hermitian_part(x))
    pos = p > 0
    safe = torch.where(pos, p, 1.0)
    return -torch.where(pos, safe * safe.log(), 0.0).sum(-1)
