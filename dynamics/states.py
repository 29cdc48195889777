"""Standard states: Fock (basis) states, coherent states and their density matrices.

Kets have shape `(..., n, 1)` and density matrices `(..., n, n)`.
"""

from __future__ import annotations

import math

import torch

from ._config import get_cdtype, get_device
from ._convert import QArrayLike
from .linalg import _as_ket
from .operators import Device, _check_dims, displace

__all__ = ["basis", "coherent", "coherent_dm", "fock", "fock_dm", "ket2dm"]


def _check_k(
    k: QArrayLike, dims: tuple[int, ...], flat: bool, device: torch.device
) -> torch.Tensor:
    """Return `k` as an int64 tensor of shape `(..., m)`, `m = len(dims)`.

    With `flat` (the user gave one integer dimension), `k` has shape `(...)`.
    """
    try:
        kt = torch.as_tensor(k, device=device)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"Argument `k` must be an integer or an array-like of integers, but is {k!r}."
        ) from err
    if kt.is_floating_point() or kt.is_complex() or kt.dtype == torch.bool:
        raise TypeError(f"Argument `k` must contain integers, but has dtype {kt.dtype}.")
    kt = kt.to(torch.int64)
    if flat or (len(dims) == 1 and kt.ndim == 0):
        kt = kt[..., None]
    if kt.ndim == 0 or kt.shape[-1] != len(dims):
        raise ValueError(
            f"Argument `k` must have shape (..., {len(dims)}) to match `dims` {dims}, "
            f"but has shape {tuple(kt.shape)}."
        )
    bad = (kt < 0) | (kt >= torch.tensor(dims, device=device))
    if bool(bad.any()):
        first = kt[bad.any(-1)][0].tolist()
        bound, first = (dims[0], first[0]) if flat else (f"dims = {dims} elementwise", tuple(first))
        raise ValueError(f"Argument `k` must satisfy 0 <= k < {bound}, but contains {first}.")
    return kt


def fock(
    dims: int | tuple[int, ...],
    k: QArrayLike,
    *,
    dtype: torch.dtype | None = None,
    device: Device = None,
) -> torch.Tensor:
    r"""Fock (basis) state $|k\rangle$, a tensor product of them, or a batch of them.

    For an integer `dims` = n, `k` is an integer (result `(n, 1)`) or an integer
    array-like of shape `(...)` (result `(..., n, 1)`). For a tuple of dimensions
    `(n_1, ..., n_m)`, `k` has shape `(..., m)` and gives the product state
    $|k_1\rangle \otimes \dots \otimes |k_m\rangle$ of shape `(..., N, 1)` with
    $N = \prod_i n_i$.

    Args:
        dims: Hilbert space dimension, or the dimensions of the subsystems.
        k: Occupation number(s), `0 <= k < n` on each subsystem.
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Ket of shape `(..., N, 1)`.

    Raises:
        TypeError: If `dims` or `k` do not contain integers.
        ValueError: If `k` is out of range or its shape does not match `dims`.

    Examples:
        >>> import dynamics as qd
        >>> qd.fock(3, 1).real.T
        tensor([[0., 1., 0.]], dtype=torch.float64)
        >>> qd.fock((2, 3), (1, 2)).shape
        torch.Size([6, 1])
        >>> qd.fock(4, [0, 1, 3]).shape
        torch.Size([3, 4, 1])
    """
    device = get_device(device)
    flat = not isinstance(dims, (tuple, list))
    dims = _check_dims(dims)
    kt = _check_k(k, dims, flat, device)  # (..., m)
    strides = [math.prod(dims[i + 1 :]) for i in range(len(dims))]
    flat = (kt * torch.tensor(strides, device=device)).sum(-1)  # (...)
    onehot = torch.nn.functional.one_hot(flat, math.prod(dims))
    return onehot.to(get_cdtype(dtype))[..., None]


def basis(
    dims: int | tuple[int, ...],
    k: QArrayLike,
    *,
    dtype: torch.dtype | None = None,
    device: Device = None,
) -> torch.Tensor:
    r"""Basis state $|k\rangle$: the same as `fock` (QuTiP's `basis(n, k)`).

    Args:
        dims: Hilbert space dimension, or the dimensions of the subsystems.
        k: Index (indices) of the basis state, `0 <= k < n` on each subsystem.
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Ket of shape `(..., N, 1)`; see `fock`.

    Raises:
        TypeError: If `dims` or `k` do not contain integers.
        ValueError: If `k` is out of range or its shape does not match `dims`.

    Examples:
        >>> import dynamics as qd
        >>> qd.basis(2, 0).real.T
        tensor([[1., 0.]], dtype=torch.float64)
    """
    return fock(dims, k, dtype=dtype, device=device)


def fock_dm(
    dims: int | tuple[int, ...],
    k: QArrayLike,
    *,
    dtype: torch.dtype | None = None,
    device: Device = None,
) -> torch.Tensor:
    r"""Density matrix $|k\rangle\langle k|$ of a Fock state (see `fock` for `dims`, `k`).

    Args:
        dims: Hilbert space dimension, or the dimensions of the subsystems.
        k: Occupation number(s), `0 <= k < n` on each subsystem.
        dtype: Complex dtype (default: the global precision).
        device: Device (default: the global device).

    Returns:
        Density matrix of shape `(..., N, N)`.

    Raises:
        TypeError: If `dims` or `k` do not contain integers.
        ValueError: If `k` is out of range or its shape does not match `dims`.

    Examples:
        >>> import dynamics as qd
        >>> qd.fock_dm(3, 2).diagonal().real
        tensor([0., 0., 1.], dtype=torch.float64)
    """
    return ket2dm(fock(dims, k, dtype=dtype, device=device))


def coherent(
    n: int, alpha: QArrayLike, *, dtype: torch.dtype | None = None, device: Device = None
) -> torch.Tensor:
    r"""Coherent state $|\alpha\rangle = D(\alpha)|0\rangle$ in a space of `n` levels.

    Like QuTiP's default (`method='operator'`), the vacuum is displaced with the
    truncated displacement operator, so the state is normalised. Differentiable
    with respect to `alpha`.

    Args:
        n: Hilbert space dimension.
        alpha: Coherent amplitude, a number or an array-like of shape `(...)`.
        dtype: Complex dtype (default: the global precision).
        device: Device (default: `alpha`'s device for a tensor, else the global device).

    Returns:
        Ket of shape `(..., n, 1)`.

    Raises:
        TypeError: If `n` is not an integer or `alpha` is not numeric.
        ValueError: If `n` is not positive or `alpha` is not finite.

    Examples:
        >>> import dynamics as qd
        >>> psi = qd.coherent(20, torch.tensor([0.5, 1.0j]))
        >>> psi.shape
        torch.Size([2, 20, 1])
    """
    return displace(n, alpha, dtype=dtype, device=device)[..., :, :1]


def coherent_dm(
    n: int, alpha: QArrayLike, *, dtype: torch.dtype | None = None, device: Device = None
) -> torch.Tensor:
    r"""Density matrix $|\alpha\rangle\langle\alpha|$ of a coherent state (see `coherent`).

    Args:
        n: Hilbert space dimension.
        alpha: Coherent amplitude, a number or an array-like of shape `(...)`.
        dtype: Complex dtype (default: the global precision).
        device: Device (default: `alpha`'s device for a tensor, else the global device).

    Returns:
        Density matrix of shape `(..., n, n)`.

    Raises:
        TypeError: If `n` is not an integer or `alpha` is not numeric.
        ValueError: If `n` is not positive or `alpha` is not finite.

    Examples:
        >>> import dynamics as qd
        >>> qd.coherent_dm(10, 1.0).shape
        torch.Size([10, 10])
    """
    return ket2dm(coherent(n, alpha, dtype=dtype, device=device))


def ket2dm(psi: QArrayLike) -> torch.Tensor:
    r"""Density matrix $|\psi\rangle\langle\psi|$ of a ket.

    Args:
        psi: Ket of shape `(..., n, 1)`.

    Returns:
        Density matrix of shape `(..., n, n)`.

    Raises:
        ValueError: If `psi` does not have shape `(..., n, 1)`.

    Examples:
        >>> import dynamics as qd
        >>> qd.ket2dm(qd.fock(2, 0)).real
        tensor([[1., 0.],
                [0., 0.]], dtype=torch.float64)
    """
    psi = _as_ket(psi, "psi")
    return psi @ psi.mH
