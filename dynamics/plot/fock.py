"""Photon-number (Fock) distribution of a single state as a bar chart."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from .._convert import QArrayLike
from ._inputs import new_axes, to_state

__all__ = ["plot_fock"]


def plot_fock(state: QArrayLike, ax: Axes | None = None) -> Axes:
    r"""Plot the populations $p_k = \langle k|\rho|k\rangle$ of a ket or a density matrix.

    For a ket $p_k = |\langle k|\psi\rangle|^2$.

    Args:
        state: A single ket `(n, 1)` or density matrix `(n, n)` (tensor, NumPy array,
            nested list or QuTiP `Qobj`); a tensor that requires grad is detached.
        ax: Axes to draw on (default: a new figure).

    Returns:
        The axes, holding one bar per basis state `k = 0, ..., n - 1`.

    Raises:
        ValueError: If `state` is batched, has an invalid shape or is not finite.
        TypeError: If `ax` is not matplotlib axes.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import dynamics as qd
        >>> from dynamics.plot import plot_fock
        >>> ax = plot_fock(qd.fock(5, 2))
        >>> [float(bar.get_height()) for bar in ax.patches]
        [0.0, 0.0, 1.0, 0.0, 0.0]
    """
    x = to_state(state)
    if x.shape[-1] == 1:
        populations = (x[:, 0].abs() ** 2).numpy()
    else:
        populations = x.diagonal().real.numpy()
    ax = new_axes(ax)
    ax.bar(np.arange(len(populations)), populations, width=0.8)
    ax.set_xlabel(r"Fock state $|k\rangle$")
    ax.set_ylabel("population")
    return ax
