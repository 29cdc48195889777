"""Exponential stepping of linear equations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..map_loop import linear_map_loop, map_loop
from ..terms import AbstractTerm, LinearTerm
from .base import AbstractStepMap, check_positive

__all__ = ["Expm"]


def matrix_exp(G: torch.Tensor) -> torch.Tensor:
    """`torch.linalg.matrix_exp`, always on a batch of at least two matrices.

    torch 2.13 evaluates a lone matrix of norm ~3e-4 to 0.08 with a faulty degree-8
    path (errors up to 2e-10, pytorch/pytorch#196592); batched evaluation is exact.
    A zero matrix padding the batch costs almost nothing.
    """
    if G.shape[:-2].numel() > 1:
        return torch.linalg.matrix_exp(G.contiguous())  # it rejects expanded views
    flat = G.reshape(G.shape[-2:])
    pair = torch.stack([flat, torch.zeros_like(flat)])
    return torch.linalg.matrix_exp(pair)[0].reshape(G.shape)


@dataclass(frozen=True, kw_only=True)
class Expm(AbstractStepMap):
    r"""Exact exponential stepping for linear equations $\dot y = G(t)\, y$.

    Each step is $y \to e^{G(t + dt/2)\, dt}\, y$ (a matrix exponential of the
    generator at the midpoint). For constant and piecewise-constant generators this is
    exact, and without `dt` the method steps from one save time or discontinuity to
    the next, reusing each exponential where it can. For other time dependences give
    `dt`: the method is then the exponential midpoint rule, of order 2.

    Args:
        dt: Maximal step; `None` (the default) steps between save times and
            discontinuities and requires a piecewise-constant generator.
        max_steps: Maximum number of steps.

    Supports every gradient mode.

    Examples:
        >>> from solvers import Expm
        >>> Expm()
        Expm(dt=None, max_steps=100000)
    """

    term_kind: ClassVar[str] = "linear"
    order: ClassVar[int] = 2
    dt: float | None = None
    max_steps: int = 100_000

    def __post_init__(self):
        if self.dt is not None:
            check_positive("Expm", "dt", self.dt)
        check_positive("Expm", "max_steps", self.max_steps, integer=True)

    def check_term(self, term: AbstractTerm) -> None:
        """Require a linear term, piecewise constant unless `dt` is given."""
        if not isinstance(term, LinearTerm):
            raise TypeError(f"Method Expm needs a LinearTerm, but got {type(term).__name__}.")
        if self.dt is None and not (term.is_constant or term.is_piecewise_constant):
            raise ValueError(
                "Method Expm without `dt` is exact only for constant or piecewise-constant "
                "generators; give `dt` (e.g. `Expm(dt=1e-2)`) for other time dependences."
            )

    def prepare(self, term: LinearTerm, t: float, dt: float) -> torch.Tensor:
        """Return the propagator `exp(G(t + dt/2) dt)`."""
        return matrix_exp(term.generator(t + dt / 2) * dt)

    def prepare_many(self, term: LinearTerm, ts: Sequence[float], dts: Sequence[float]):
        """Return the propagators `exp(G(t_i) dt_i)`, stacked: shape `(len(ts), ..., d, d)`."""
        G = term.generators(ts)
        dts = torch.tensor(dts, dtype=G.real.dtype, device=G.device)
        return matrix_exp(G * dts.reshape(-1, *(1,) * (G.ndim - 1)))

    def integrate(
        self, term, y0, tsave, t0, discontinuities, save, event_ndim, progress, recorder=None
    ):
        """Integrate; piecewise-constant generators take all their steps at once.

        Without `recorder` (no step replay) and `dt`, with a constant or piecewise-constant
        generator, every exponential comes from one batched call and the products
        between save times are taken as a tree (`linear_map_loop`); otherwise the
        steps run one by one (`map_loop`).
        """
        args = (self, term, y0, tsave, t0, discontinuities, save, progress)
        if (
            recorder is None
            and self.dt is None
            and (term.is_constant or term.is_piecewise_constant)
        ):
            return linear_map_loop(*args)
        return map_loop(*args, recorder)

    def apply(self, prepared: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Apply the propagator."""
        return prepared @ y
