"""Standard operators: ladder and number operators, Pauli matrices, displacement, squeezing.

Every constructor returns a complex tensor of shape `(..., n, n)` and takes the
keyword-only arguments `dtype` (complex dtype, default set by
`set_precision`) and `device` (default set by `set_device`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral

import torch

from ._config import get_cdtype, get_device
from ._convert import QArrayLike, to_tensor

__all__ = [
    "create",
    "destroy",
    "displace",
    "eye",
    "number",
    "parity",
    "sigmam",
    "sigmap",
    "sigmax",
    "sigmay",
    "sigmaz",
    "squeeze",
]

Device = str | torch.device | None


# ----------------------------------------------------------------------------- checks


def _is_int(x: object) -> bool:
    return isinstance(x, Integral) and not isinstance(x, bool)


def _check_dim(n: object, name: str = "n") -> int:
    """Return `n` as an int, or raise if it is not a positive integer."""
    if not _is_int(n):
        raise TypeError(f"Argument `{name}` must be a positive integer, but is {n!r}.")
    if n < 1:
        raise ValueError(f"Argument `{name}` must be a positive integer, but is {n}.")
    return int(n)


def _check_dims(dims: object, name: str = "dims") -> tuple[int, ...]:
    """Return `dims` (an int or a non-empty sequence of ints) as a tuple of positive ints."""
    if _is_int(dims):
        dims = (dims,)
    ok = isinstance(dims, Sequence) and len(dims) > 0 and all(_is_int(d) for d in dims)
    if not ok:
        raise TypeError(
            f"Argument `{name}` must be a positive integer or a non-empty sequence of "
            f"positive integers, but is {dims!r}."
        )
    if any(d < 1 for d in dims):
        raise ValueError(
            f"Argument `{name}` must contain positive integers only, but is {tuple(dims)}."
        )
    return tuple(int(d) for d in dims)


def _param(x: QArrayLike, name: str, dtype: torch.dtype | None, device: Device) -> torch.Tensor:
    """Convert a (batched) complex parameter; a tensor keeps its device unless `device` is set."""
    if isinstance(x, torch.Tensor) and device is None:
        device = x.device
    t = to_tensor(x, dtype=get_cdtype(dtype), device=get_device(device), name=name)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"Argument `{name}` must be finite, but contains inf or nan.")
    return t


# ----------------------------------------------------------------------------- helpers


def _destroy(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    sqrt = torch.arange(1, n, dtype=torch.float64, device=device).sqrt()
    return torch.diag(sqrt.to(dtype), 1)


def _embed(op: torch.Tensor, i: int, dims: tuple[int, ...]) -> torch.Tensor:
    """Embed a single-mode `op` acting on subsystem `i` of the product space `dims`."""
    left = torch.eye(math.prod(dims[:i]), dtype=op.dtype, device=op.device)
    right = torch.eye(math.prod(dims[i + 1 :]), dtype=op.dtype, device=op.device)
    return torch.kron(torch.kron(left, op), right)


def _per_mode(single, dims: tuple, dtype: torch.dtype | None, device: Device):
    """Build `single(d)` for every subsystem, embedded in the product space."""
    dims = _check_dims(dims)
    cdtype, dev = get_cdtype(dtype), get_device(device)
    ops = tuple(_embed(single(d, cdtype, dev), i, dims) for i, d in enumerate(dims))
    return ops[0] if len(ops) == 1 else ops


def _pauli(entries: list, dtype: torch.dtype | None, device: Device) -> torch.Tensor:
    return torch.tensor(entries, dtype=get_cdtype(dtype), device=get_device(device))


# ----------------------------------------------------------------------------- ladder


def destroy(
    *dims: int, dtype: torch.dtype | None = None, device: Device = None
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    r"""Annihilation operator $a$, with $a|k\rangle = \sqrt{k}\,|k-1\rangle$.

    Args:
        *dims: Dimension of each mode. With several dimensions, one operator per
            mode is returned, acting on the tensor-product space.
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Tensor of shape `(n, n)`, or a tuple of tensors of shape `(N, N)` with
        `N = prod(dims)` when several dimensions are given.

    Raises:
        TypeError: If a dimension is not an integer.
        ValueError: If a dimension is not positive, or none is given.

    Examples:
        >>> import dynamics as qd
        >>> qd.destroy(3).real
        tensor([[0.0000, 1.0000, 0.0000],
                [0.0000, 0.0000, 1.4142],
                [0.0000, 0.0000, 0.0000]], dtype=torch.float64)
        >>> a, b = qd.destroy(2, 3)
        >>> a.shape, b.shape
        (torch.Size([6, 6]), torch.Size([6, 6]))
    """
    _check_nonempty(dims)
    return _per_mode(_destroy, dims, dtype, device)


def create(
    *dims: int, dtype: torch.dtype | None = None, device: Device = None
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    r"""Creation operator $a^\dagger$, with $a^\dagger|k\rangle = \sqrt{k+1}\,|k+1\rangle$.

    Args:
        *dims: Dimension of each mode. With several dimensions, one operator per
            mode is returned, acting on the tensor-product space.
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Tensor of shape `(n, n)`, or a tuple of tensors of shape `(N, N)` with
        `N = prod(dims)` when several dimensions are given.

    Raises:
        TypeError: If a dimension is not an integer.
        ValueError: If a dimension is not positive, or none is given.

    Examples:
        >>> import dynamics as qd
        >>> qd.create(2)
        tensor([[0.+0.j, 0.+0.j],
                [1.+0.j, 0.+0.j]], dtype=torch.complex128)
    """
    _check_nonempty(dims)
    return _per_mode(lambda n, dt, dev: _destroy(n, dt, dev).mT.contiguous(), dims, dtype, device)


def number(
    *dims: int, dtype: torch.dtype | None = None, device: Device = None
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    r"""Number operator $a^\dagger a = \sum_k k\,|k\rangle\langle k|$.

    Args:
        *dims: Dimension of each mode. With several dimensions, one operator per
            mode is returned, acting on the tensor-product space.
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Tensor of shape `(n, n)`, or a tuple of tensors of shape `(N, N)` with
        `N = prod(dims)` when several dimensions are given.

    Raises:
        TypeError: If a dimension is not an integer.
        ValueError: If a dimension is not positive, or none is given.

    Examples:
        >>> import dynamics as qd
        >>> qd.number(3).diagonal()
        tensor([0.+0.j, 1.+0.j, 2.+0.j], dtype=torch.complex128)
    """
    _check_nonempty(dims)

    def single(n: int, dt: torch.dtype, dev: torch.device) -> torch.Tensor:
        return torch.diag(torch.arange(n, device=dev).to(dt))

    return _per_mode(single, dims, dtype, device)


def eye(*dims: int, dtype: torch.dtype | None = None, device: Device = None) -> torch.Tensor:
    """Identity operator on the (tensor-product) space of dimensions `dims`.

    Args:
        *dims: Dimension of each subsystem.
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Tensor of shape `(N, N)` with `N = prod(dims)`.

    Raises:
        TypeError: If a dimension is not an integer.
        ValueError: If a dimension is not positive, or none is given.

    Examples:
        >>> import dynamics as qd
        >>> qd.eye(2, 3).shape
        torch.Size([6, 6])
    """
    _check_nonempty(dims)
    n = math.prod(_check_dims(dims))
    return torch.eye(n, dtype=get_cdtype(dtype), device=get_device(device))


def _check_nonempty(dims: tuple) -> None:
    if len(dims) == 0:
        raise ValueError("Argument `dims` must contain at least one dimension, but is empty.")


# ----------------------------------------------------------------------------- Pauli


def sigmax(*, dtype: torch.dtype | None = None, device: Device = None) -> torch.Tensor:
    r"""Pauli $\sigma_x = |0\rangle\langle 1| + |1\rangle\langle 0|$.

    Args:
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Tensor of shape `(2, 2)`.

    Examples:
        >>> import dynamics as qd
        >>> qd.sigmax().real
        tensor([[0., 1.],
                [1., 0.]], dtype=torch.float64)
    """
    return _pauli([[0, 1], [1, 0]], dtype, device)


def sigmay(*, dtype: torch.dtype | None = None, device: Device = None) -> torch.Tensor:
    r"""Pauli $\sigma_y = -i|0\rangle\langle 1| + i|1\rangle\langle 0|$.

    Args:
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Tensor of shape `(2, 2)`.

    Examples:
        >>> import dynamics as qd
        >>> qd.sigmay().imag
        tensor([[ 0., -1.],
                [ 1.,  0.]], dtype=torch.float64)
    """
    return _pauli([[0, -1j], [1j, 0]], dtype, device)


def sigmaz(*, dtype: torch.dtype | None = None, device: Device = None) -> torch.Tensor:
    r"""Pauli $\sigma_z = |0\rangle\langle 0| - |1\rangle\langle 1|$.

    As in QuTiP, `basis(2, 0)` is the $+1$ eigenstate ("up", excited).

    Args:
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Tensor of shape `(2, 2)`.

    Examples:
        >>> import dynamics as qd
        >>> qd.sigmaz().real
        tensor([[ 1.,  0.],
                [ 0., -1.]], dtype=torch.float64)
    """
    return _pauli([[1, 0], [0, -1]], dtype, device)


def sigmap(*, dtype: torch.dtype | None = None, device: Device = None) -> torch.Tensor:
    r"""Raising operator $\sigma_+ = |0\rangle\langle 1|$ (QuTiP's `sigmap`).

    With QuTiP's convention `basis(2, 0)` is "up", so $\sigma_+$ maps
    `basis(2, 1)` to `basis(2, 0)`.

    Args:
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Tensor of shape `(2, 2)`.

    Examples:
        >>> import dynamics as qd
        >>> qd.sigmap().real
        tensor([[0., 1.],
                [0., 0.]], dtype=torch.float64)
    """
    return _pauli([[0, 1], [0, 0]], dtype, device)


def sigmam(*, dtype: torch.dtype | None = None, device: Device = None) -> torch.Tensor:
    r"""Lowering operator $\sigma_- = |1\rangle\langle 0|$ (QuTiP's `sigmam`).

    Args:
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Tensor of shape `(2, 2)`.

    Examples:
        >>> import dynamics as qd
        >>> qd.sigmam().real
        tensor([[0., 0.],
                [1., 0.]], dtype=torch.float64)
    """
    return _pauli([[0, 0], [1, 0]], dtype, device)


# ----------------------------------------------------------------------------- Gaussian


def displace(
    n: int, alpha: QArrayLike, *, dtype: torch.dtype | None = None, device: Device = None
) -> torch.Tensor:
    r"""Displacement operator $D(\alpha) = \exp(\alpha a^\dagger - \alpha^* a)$.

    Computed as the matrix exponential of the generator truncated to `n` levels
    (as QuTiP does), so the result is exactly unitary but differs from the
    infinite-dimensional operator near the truncation. Differentiable with
    respect to `alpha`.

    Args:
        n: Hilbert space dimension.
        alpha: Displacement, a number or an array-like of shape `(...)`.
        dtype: Complex dtype (default: the global precision).
        device: Device (default: `alpha`'s device for a tensor, else the global device).

    Returns:
        Tensor of shape `(..., n, n)`.

    Raises:
        TypeError: If `n` is not an integer or `alpha` is not numeric.
        ValueError: If `n` is not positive or `alpha` is not finite.

    Examples:
        >>> import dynamics as qd
        >>> qd.displace(3, 0.5).shape
        torch.Size([3, 3])
        >>> qd.displace(3, torch.tensor([0.1, 0.2j])).shape
        torch.Size([2, 3, 3])
    """
    n = _check_dim(n)
    alpha = _param(alpha, "alpha", dtype, device)[..., None, None]
    a = _destroy(n, alpha.dtype, alpha.device)
    return torch.linalg.matrix_exp(alpha * a.mT - alpha.conj() * a)


def squeeze(
    n: int, z: QArrayLike, *, dtype: torch.dtype | None = None, device: Device = None
) -> torch.Tensor:
    r"""Squeezing operator $S(z) = \exp\big(\tfrac12 (z^* a^2 - z\, a^{\dagger 2})\big)$.

    Computed as the matrix exponential of the generator truncated to `n` levels
    (as QuTiP does). Differentiable with respect to `z`.

    Args:
        n: Hilbert space dimension.
        z: Squeezing parameter, a number or an array-like of shape `(...)`.
        dtype: Complex dtype (default: the global precision).
        device: Device (default: `z`'s device for a tensor, else the global device).

    Returns:
        Tensor of shape `(..., n, n)`.

    Raises:
        TypeError: If `n` is not an integer or `z` is not numeric.
        ValueError: If `n` is not positive or `z` is not finite.

    Examples:
        >>> import dynamics as qd
        >>> qd.squeeze(4, 0.25).real[0, 2].item()  # doctest: +ELLIPSIS
        0.17585742...
    """
    n = _check_dim(n)
    z = _param(z, "z", dtype, device)[..., None, None]
    a = _destroy(n, z.dtype, z.device)
    a2 = a @ a
    return torch.linalg.matrix_exp(0.5 * (z.conj() * a2 - z * a2.mT))


def parity(n: int, *, dtype: torch.dtype | None = None, device: Device = None) -> torch.Tensor:
    r"""Parity operator $P = e^{i\pi a^\dagger a} = \sum_k (-1)^k |k\rangle\langle k|$.

    Args:
        n: Hilbert space dimension.
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Tensor of shape `(n, n)`.

    Raises:
        TypeError: If `n` is not an integer.
        ValueError: If `n` is not positive.

    Examples:
        >>> import dynamics as qd
        >>> qd.parity(4).diagonal().real
        tensor([ 1., -1.,  1., -1.], dtype=torch.float64)
    """
    n = _check_dim(n)
    signs = 1.0 - 2.0 * (torch.arange(n, device=get_device(device)) % 2)
    return torch.diag(signs.to(get_cdtype(dtype)))
