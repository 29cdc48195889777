"""Step-size control: the PI controller, the initial step, and the error norm."""

from __future__ import annotations

import math

import torch

from .errors import SolverError

__all__ = ["PIController", "initial_step", "modulus", "rms"]


def rms(x: torch.Tensor, event_ndim: int, scale: torch.Tensor | None = None) -> torch.Tensor:
    """Root mean square of `|x| / scale` over the last `event_ndim` dimensions.

    One value per batch element; `scale` (real, shaped like `x`) defaults to 1. A
    complex `x` is reduced as its real view: the complex norm kernels cost 5–10× more
    (measured: 35 vs 4 µs for 4096 elements, 71 vs 6 µs for 512 × 2 × 2).
    """
    if event_ndim == 0:
        return x.abs() if scale is None else x.abs() / scale
    size = math.prod(x.shape[-event_ndim:])
    if x.is_complex():
        x = torch.view_as_real(x.resolve_conj())
        event_ndim += 1
        scale = None if scale is None else scale.unsqueeze(-1)
    if scale is not None:
        x = x / scale
    dims = tuple(range(-event_ndim, 0))
    return torch.linalg.vector_norm(x, dim=dims) / math.sqrt(size)


def modulus(x: torch.Tensor) -> torch.Tensor:
    """`|x|` elementwise; for complex `x` through its real view (1.5× faster than `abs`)."""
    if not x.is_complex():
        return x.abs()
    return torch.linalg.vector_norm(torch.view_as_real(x.resolve_conj()), dim=-1)


class PIController:
    """Proportional–integral step-size controller (Gustafsson).

    The new step is `h * safety * err^(-0.7/k) * err_prev^(0.4/k)`, with `k` the
    order of the error estimate plus one, clipped to `[min_factor, max_factor]`; a
    rejected step shrinks by `safety * err^(-1/k)` (at least `min_factor`), and the
    step after a rejection does not grow.
    """

    def __init__(self, method):
        self.method = method
        k = method.tableau.error_order + 1
        self.alpha, self.beta, self.k = 0.7 / k, 0.4 / k, k
        self.err_prev = 1.0
        self.after_reject = False

    def update(self, err: float, h: float) -> tuple[bool, float]:
        """Return whether the step of size `h` with error `err` is accepted, and the next step."""
        m = self.method
        if not math.isfinite(err) or err > 1.0:
            factor = m.min_factor if not math.isfinite(err) else m.safety * err ** (-1 / self.k)
            self.after_reject = True
            return False, h * max(m.min_factor, factor)
        if err == 0.0:
            factor = m.max_factor
        else:
            factor = m.safety * err ** (-self.alpha) * self.err_prev**self.beta
        factor = min(m.max_factor, max(m.min_factor, factor))
        if self.after_reject:
            factor = min(factor, 1.0)
        self.err_prev = max(err, 1e-4)
        self.after_reject = False
        return True, h * factor


@torch.no_grad()
def initial_step(
    stepper, method, t0: float, y0: torch.Tensor, f0: torch.Tensor, t_stop: float, event_ndim: int
) -> float:
    """Hairer's initial step-size guess (Solving ODEs I, II.4), at most up to `t_stop`."""
    span = t_stop - t0
    scale = method.atol + method.rtol * modulus(y0)
    d0 = float(rms(y0, event_ndim, scale).max())
    d1 = float(rms(f0, event_ndim, scale).max())
    if not (math.isfinite(d0) and math.isfinite(d1)):
        raise SolverError(t0, "the state or its derivative is not finite")
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, span)
    f1 = stepper.f(t0 + h0, y0 + h0 * f0)
    d2 = float(rms(f1 - f0, event_ndim, scale).max()) / h0
    order = method.tableau.order
    if max(d1, d2) <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (order + 1))
    h = min(100 * h0, h1, span)
    if not math.isfinite(h):
        raise SolverError(t0, "the state or its derivative is not finite")
    return h
