"""Conversion of plot inputs to NumPy arrays and the default axes."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.axes import Axes

from .._convert import QArrayLike
from ..linalg import _as_state


def new_axes(ax: Axes | None) -> Axes:
    """Return `ax`, or the axes of a new pyplot figure when `ax` is `None`."""
    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError(f"Argument `ax` must be matplotlib axes, but is {type(ax).__name__}.")
        return ax
    import matplotlib.pyplot as plt  # imported late: pyplot picks a backend on import

    return plt.figure().add_subplot()


def to_array(x: QArrayLike, name: str, max_ndim: int) -> np.ndarray:
    """Detach `x` to a NumPy array of at most `max_ndim` dimensions (batches are refused)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    elif type(x).__name__ == "Qobj":
        x = x.full()
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
        raise TypeError(
            f"Argument `{name}` must be an array of numbers, but has dtype {arr.dtype}."
        )
    if arr.ndim > max_ndim:
        raise ValueError(
            f"Argument `{name}` must have at most {max_ndim} dimensions (plot one batch "
            f"element, e.g. `{name}[0]`), but has shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"Argument `{name}` must be finite, but contains NaN or inf.")
    return arr


def to_state(state: QArrayLike) -> torch.Tensor:
    """Detach a single ket `(n, 1)` or density matrix `(n, n)`; batches are refused."""
    x = _as_state(state, "state").detach()
    if x.ndim > 2:
        raise ValueError(
            "Argument `state` must be a single ket (n, 1) or density matrix (n, n) (plot one "
            f"batch element, e.g. `state[0]`), but has shape {tuple(x.shape)}."
        )
    if not torch.isfinite(torch.view_as_real(x)).all():
        raise ValueError("Argument `state` must be finite, but contains NaN or inf.")
    return x.cpu()


def labels_for(labels, count: int) -> list[str | None]:
    """Check `labels` (None or one string per curve) and return one entry per curve."""
    if labels is None:
        return [None] * count
    if isinstance(labels, str) or len(labels) != count:
        raise ValueError(
            f"Argument `labels` must be a list of {count} strings (one per curve), "
            f"but is {labels!r}."
        )
    return [str(label) for label in labels]
