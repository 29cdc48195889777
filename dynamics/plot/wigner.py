"""Wigner function of a single state as a phase-space image."""

from __future__ import annotations

from matplotlib.axes import Axes

from .._convert import QArrayLike
from ..wigner import wigner
from ._inputs import new_axes, to_state

__all__ = ["plot_wigner"]


def plot_wigner(
    state: QArrayLike,
    ax: Axes | None = None,
    *,
    xmax: float = 5.0,
    npixels: int = 101,
    cmap: str = "RdBu_r",
    colorbar: bool = True,
) -> Axes:
    r"""Plot the Wigner function $W(x, y)$ of a ket or a density matrix.

    The grid is `linspace(-xmax, xmax, npixels)` in both $x$ and $y$ (QuTiP's
    convention $\alpha = (x + iy)/\sqrt2$, see `qd.wigner`). The colour scale is
    symmetric, $[-\max|W|, \max|W|]$, so that white is $W = 0$ and negative
    regions (non-classicality) stand out in blue with the default colormap.

    Args:
        state: A single ket `(n, 1)` or density matrix `(n, n)` (tensor, NumPy array,
            nested list or QuTiP `Qobj`); a tensor that requires grad is detached.
        ax: Axes to draw on (default: a new figure).
        xmax: Half-width of the square phase-space window.
        npixels: Number of grid points along each axis.
        cmap: Matplotlib colormap name.
        colorbar: Add a colour bar beside the axes.

    Returns:
        The axes, holding one image (`ax.images[0]`) of shape `(npixels, npixels)`.

    Raises:
        ValueError: If `state` is batched, has an invalid shape or is not finite, or
            `xmax`/`npixels` is not positive.
        TypeError: If `ax` is not matplotlib axes.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import dynamics as qd
        >>> from dynamics.plot import plot_wigner
        >>> ax = plot_wigner(qd.coherent(16, 1.5), npixels=51)
        >>> ax.images[0].get_array().shape
        (51, 51)
    """
    rho = to_state(state)
    ax = new_axes(ax)
    x, y, W = wigner(rho, xmax=xmax, ymax=xmax, npixels=npixels)
    W = W.numpy()
    wmax = float(abs(W).max()) or 1.0
    extent = (float(x[0]), float(x[-1]), float(y[0]), float(y[-1]))
    image = ax.imshow(
        W, origin="lower", extent=extent, cmap=cmap, vmin=-wmax, vmax=wmax, interpolation="nearest"
    )
    ax.set_xlabel(r"$x$")
    ax.set_ylabel(r"$y$")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=r"$W(x, y)$")
    return ax
