"""Wigner quasi-probability distribution of kets and density matrices."""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch

from ._convert import QArrayLike
from .linalg import _as_state, _isket

__all__ = ["wigner"]


def wigner(
    state: QArrayLike,
    xmax: float = 5.0,
    ymax: float = 5.0,
    npixels: int = 201,
    xvec: QArrayLike | None = None,
    yvec: QArrayLike | None = None,
    g: float = math.sqrt(2.0),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Wigner function $W(x, y)$ of a state on a grid, as `qutip.wigner`.

    The phase-space point $(x, y)$ corresponds to $\alpha = \tfrac{g}{2}(x + iy)$,
    so that $[x, y] = 2i/g^2$ (QuTiP's default $g = \sqrt2$ gives $\hbar = 1$).
    The series $W = \sum_{mn}\rho_{mn} W_{mn}$ is summed diagonal by diagonal of
    $\rho$ with Clenshaw recursions on Laguerre polynomials (QuTiP's `'clenshaw'`
    method), for the whole batch at once. Differentiable with respect to `state`.

    Args:
        state: Ket `(..., n, 1)` or density matrix `(..., n, n)`.
        xmax: The default x grid is `linspace(-xmax, xmax, npixels)`.
        ymax: The default y grid is `linspace(-ymax, ymax, npixels)`.
        npixels: Number of points of the default grids.
        xvec: Explicit x grid of shape `(nx,)` (overrides `xmax`, `npixels`).
        yvec: Explicit y grid of shape `(ny,)` (overrides `ymax`, `npixels`).
        g: Scaling factor between $\alpha$ and $(x, y)$.

    Returns:
        `(x, y, W)`: the grids of shapes `(nx,)` and `(ny,)` and the real Wigner
        function of shape `(..., ny, nx)`, with `W[..., j, k]` at `(x[k], y[j])`.

    Raises:
        ValueError: If `state` has an invalid shape, a grid is not 1-D, or
            `npixels`, `xmax`, `ymax` or `g` is not positive.

    Examples:
        >>> import dynamics as qd
        >>> x, y, W = qd.wigner(qd.fock(4, [0, 1]), npixels=51)
        >>> W.shape
        torch.Size([2, 51, 51])
        >>> (W[:, 25, 25] * math.pi).round()  # W(0, 0) = (-1)^k / pi for |k>
        tensor([ 1., -1.], dtype=torch.float64)
    """
    state = _as_state(state, "state")
    rho = state @ state.mH if _isket(state) else state
    rdtype = rho.real.dtype
    _check_positive(npixels, "npixels", integer=True)
    _check_positive(g, "g")
    x = _grid(xvec, "xvec", xmax, "xmax", npixels, rdtype, rho.device)
    y = _grid(yvec, "yvec", ymax, "ymax", npixels, rdtype, rho.device)
    return x, y, _wigner_clenshaw(rho, x, y, g)


def _check_positive(v: object, name: str, integer: bool = False) -> None:
    kind = "integer" if integer else "number"
    ok = isinstance(v, Integral if integer else Real)
    if isinstance(v, bool) or not ok:
        raise TypeError(f"Argument `{name}` must be a positive {kind}, but is {v!r}.")
    if not v > 0 or not math.isfinite(v):
        raise ValueError(f"Argument `{name}` must be a positive {kind}, but is {v!r}.")


def _grid(
    vec: QArrayLike | None,
    name: str,
    vmax: float,
    max_name: str,
    npixels: int,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    """`vec` as a real 1-D tensor, or `linspace(-vmax, vmax, npixels)` if `vec` is None."""
    if vec is None:
        _check_positive(vmax, max_name)
        return torch.linspace(-vmax, vmax, npixels, dtype=dtype, device=device)
    try:
        v = torch.as_tensor(vec, device=device)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"Argument `{name}` must be a 1-D array of real numbers.") from err
    if v.ndim != 1 or v.is_complex() or v.numel() == 0:
        raise ValueError(
            f"Argument `{name}` must be a non-empty 1-D array of real numbers, but has "
            f"shape {tuple(v.shape)} and dtype {v.dtype}."
        )
    return v.to(dtype)


def _wigner_clenshaw(rho: torch.Tensor, x: torch.Tensor, y: torch.Tensor, g: float) -> torch.Tensor:
    r"""Sum $W = \frac{g^2}{2\pi} e^{-B/2}\,\mathrm{Re}\sum_L c_L(B)\,A^L/\sqrt{L!}$ by Horner in L.

    Here $A = g(x + iy)$, $B = |A|^2$, and $c_L$ is the Laguerre series of the
    $L$-th upper diagonal of $\rho$ (off-diagonals doubled, $\rho$ Hermitian).
    """
    n = rho.shape[-1]
    A = g * torch.complex(x[None, :], y[:, None])  # (ny, nx)
    B = A.real**2 + A.imag**2  # (ny, nx)
    off = 2.0 - torch.eye(n, dtype=B.dtype, device=B.device)
    rho2 = rho * off  # doubled off-diagonals
    w = torch.zeros((), dtype=rho.dtype, device=rho.device)
    for L in range(n - 1, -1, -1):
        diag = rho2.diagonal(offset=L, dim1=-2, dim2=-1)  # (..., n - L)
        w = _laguerre_series(L, B, diag) + w * A / math.sqrt(L + 1)
    return w.real * torch.exp(-0.5 * B) * (g * g / (2 * math.pi))


def _laguerre_series(L: int, B: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    r"""Clenshaw sum $\sum_k c_k (-1)^k \sqrt{L!\,k!/(L+k)!}\; L_k^{(L)}(B)$.

    Args:
        L: Order of the associated Laguerre polynomials.
        B: Real points of shape `(ny, nx)`.
        c: Coefficients of shape `(..., m)`.

    Returns:
        Tensor of shape `(..., ny, nx)`.
    """
    m = c.shape[-1]
    c = c[..., None, None]  # (..., m, 1, 1)
    y0, y1 = c[..., m - 1, :, :], torch.zeros_like(B)
    for k in range(m, 1, -1):
        a = math.sqrt((k - 1) * (L + k - 1) / ((L + k) * k))
        b = (L + 2 * k - 1 - B) / math.sqrt((L + k) * k)
        y0, y1 = c[..., k - 2, :, :] - y1 * a, y0 - y1 * b
    return y0 - y1 * (L + 1 - B) / math.sqrt(L + 1)
