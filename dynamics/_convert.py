"""Conversion of tensor-likes (tensors, NumPy arrays, nested lists, QuTiP Qobj) at the API boundary."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._config import get_cdtype, get_device

__all__ = ["QArrayLike", "to_qutip", "to_tensor"]

QArrayLike = Any
"""Anything convertible to a complex tensor: tensor, NumPy array, nested list, `qutip.Qobj`."""


def _is_qobj(x: Any) -> bool:
    return type(x).__name__ == "Qobj" and hasattr(x, "full")


def to_tensor(
    x: QArrayLike,
    *,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    name: str = "x",
) -> torch.Tensor:
    """Convert a tensor-like to a complex tensor (kept on its device if already a tensor).

    Tensors keep their autograd graph: a real tensor is promoted to complex with an
    operation autograd differentiates. A list of `Qobj` or of tensors is stacked.

    Args:
        x: Tensor, NumPy array, (nested) list or tuple, or `qutip.Qobj`.
        dtype: Complex dtype of the result (default: `x`'s precision for tensors,
            the global default otherwise).
        device: Device of the result (default: `x`'s device for tensors, the global
            default otherwise).
        name: Argument name used in error messages.

    Returns:
        A complex tensor.

    Raises:
        TypeError: If `x` cannot be converted.

    Examples:
        >>> import dynamics as qd
        >>> qd.to_tensor([[0, 1], [1, 0]]).dtype
        torch.complex128
    """
    if isinstance(x, torch.Tensor):
        if dtype is None:
            dtype = get_cdtype(x.dtype) if x.is_floating_point() or x.is_complex() else None
        cdtype = get_cdtype(dtype)
        return x.to(dtype=cdtype, device=device if device is not None else x.device)
    cdtype = get_cdtype(dtype)
    device = get_device(device)
    if _is_qobj(x):
        return torch.as_tensor(np.asarray(x.full()), dtype=cdtype, device=device)
    if (
        isinstance(x, (list, tuple))
        and len(x) > 0
        and any(isinstance(e, torch.Tensor) or _is_qobj(e) for e in x)
    ):
        return torch.stack([to_tensor(e, dtype=cdtype, device=device, name=name) for e in x])
    try:
        arr = np.asarray(x)
    except Exception as err:  # pragma: no cover - numpy raises many types
        raise TypeError(
            f"Argument `{name}` must be a tensor, NumPy array, nested list or QuTiP Qobj, "
            f"but is of type {type(x).__name__}."
        ) from err
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(
            f"Argument `{name}` must be a tensor, NumPy array, nested list or QuTiP Qobj, "
            f"but is of type {type(x).__name__}."
        )
    return torch.as_tensor(arr.astype(np.complex128), device=device).to(cdtype)


def to_qutip(x: QArrayLike, dims: list | None = None):
    """Convert a tensor (kets, density matrices, operators) to a `qutip.Qobj`.

    Batched inputs give a (nested) list of `Qobj`.

    Args:
        x: Array-like of shape `(..., n, 1)` (ket), `(..., 1, n)` (bra) or `(..., n, n)`.
        dims: QuTiP `dims` of the result (e.g. `[[2, 3], [2, 3]]` for a composite
            operator); the default is the flat dimension.

    Returns:
        A `qutip.Qobj`, or nested lists of them for batched inputs.

    Examples:
        >>> import dynamics as qd
        >>> qd.to_qutip(qd.sigmaz()).isherm
        True
    """
    import qutip

    t = to_tensor(x, name="x")
    if t.ndim < 2:
        raise ValueError(
            f"Argument `x` must have at least 2 dimensions (..., n, m), but has shape {tuple(t.shape)}."
        )
    if t.ndim > 2:
        return [to_qutip(e, dims) for e in t]
    arr = t.detach().cpu().resolve_conj().numpy()
    return qutip.Qobj(arr, dims=dims) if dims is not None else qutip.Qobj(arr)
