"""Argument validation with uniform messages, done before any integration starts."""

from __future__ import annotations

import torch

from ._convert import to_tensor
from ._memo import memo_by_tensor
from ._shapes import broadcast_shapes

__all__ = ["broadcast_batch", "check_finite", "check_shape", "to_dm", "to_ket", "to_operator"]


def check_finite(x: torch.Tensor, name: str) -> None:
    """Raise `ValueError` if `x` holds NaN or infinite values."""
    if not _all_finite(x):
        raise ValueError(f"Argument `{name}` must contain only finite values.")


@memo_by_tensor
def _all_finite(x: torch.Tensor) -> bool:
    x = x.detach()
    # A sum is ~10x cheaper than an elementwise test on large operators and is finite
    # whenever every entry is (barring overflow, which the exact test then rules out).
    total = torch.view_as_real(x).sum() if x.is_complex() else x.sum()
    return bool(torch.isfinite(total)) or bool(torch.isfinite(x).all())


def check_shape(x: torch.Tensor, name: str, expected: str) -> None:
    """Raise `ValueError` unless `x` has at least two dimensions."""
    if x.ndim < 2:
        raise ValueError(
            f"Argument `{name}` must have shape {expected}, but has shape {tuple(x.shape)}."
        )


def to_operator(x, name: str, n: int | None = None) -> torch.Tensor:
    """Convert and check an operator of shape `(..., n, n)` (Hilbert dimension `n` if given)."""
    x = to_tensor(x, name=name)
    check_shape(x, name, "(..., n, n)")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"Argument `{name}` must have shape (..., n, n), but has shape {tuple(x.shape)}."
        )
    _check_dim(x, name, n, x.shape[-1])
    check_finite(x, name)
    return x


def to_ket(x, name: str, n: int) -> torch.Tensor:
    """Convert and check a ket of shape `(..., n, 1)`."""
    x = to_tensor(x, name=name)
    check_shape(x, name, f"(..., {n}, 1)")
    if x.shape[-1] != 1:
        raise ValueError(
            f"Argument `{name}` must be a ket of shape (..., {n}, 1), but has shape {tuple(x.shape)}."
        )
    _check_dim(x, name, n, x.shape[-2])
    check_finite(x, name)
    return x


def to_dm(x, name: str, n: int) -> torch.Tensor:
    """Convert and check a density matrix `(..., n, n)`; a ket `(..., n, 1)` becomes `|ψ⟩⟨ψ|`."""
    x = to_tensor(x, name=name)
    check_shape(x, name, f"(..., {n}, {n}) or (..., {n}, 1)")
    if x.shape[-1] == 1 and x.shape[-2] == n:
        x = x @ x.mH
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"Argument `{name}` must be a density matrix (..., {n}, {n}) or a ket (..., {n}, 1), "
            f"but has shape {tuple(x.shape)}."
        )
    _check_dim(x, name, n, x.shape[-1])
    check_finite(x, name)
    return x


def _check_dim(x: torch.Tensor, name: str, n: int | None, actual: int) -> None:
    if n is not None and actual != n:
        raise ValueError(
            f"Argument `{name}` must have Hilbert dimension {n} like `H`, but has shape "
            f"{tuple(x.shape)}."
        )


def broadcast_batch(**shapes: torch.Size) -> torch.Size:
    """Return the broadcast of the batch shapes, naming the arguments if they do not broadcast."""
    try:
        return broadcast_shapes(*shapes.values())
    except RuntimeError:
        listed = ", ".join(f"`{k}` {tuple(v)}" for k, v in shapes.items())
        raise ValueError(f"Batch shapes do not broadcast: {listed}.") from None
