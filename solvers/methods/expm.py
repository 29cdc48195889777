"""Exponential stepping of linear equations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

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
        return torch.linalg.matrix_exp(G)
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
        if self.dt is None and not term.is_piecewise_constant:
            raise ValueError(
                "Method Expm without `dt` is exact only for constant or piecewise-constant "
                "generators; give `dt` (e.g. `Expm(dt=1e-2)`) for other time dependences."
            )

    def prepare(self, term: LinearTerm, t: float, dt: float) -> torch.Tensor:
        """Return the propagator `exp(G(t + dt/2) dt)`."""
        return matrix_exp(term.generator(t + dt / 2) * dt)

    def apply(self, prepared: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Apply the propagator."""
        return prepared @ y
