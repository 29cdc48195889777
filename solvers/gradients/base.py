"""Interface of gradient modes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..methods.base import AbstractMethod
from ..terms import AbstractTerm

__all__ = ["AbstractGradient", "Problem"]


class Problem:
    """Everything one integration needs, handed to a gradient mode.

    Attributes:
        term, method, y0, tsave, t0, discontinuities, save, event_ndim, progress:
            as given to `solvers.integrate`.
        params: Tensors the term depends on, to differentiate with respect to.
    """

    def __init__(
        self,
        term: AbstractTerm,
        method: AbstractMethod,
        y0: torch.Tensor,
        tsave: torch.Tensor,
        t0: float,
        discontinuities: Sequence[float],
        save: Callable,
        event_ndim: int,
        params: Sequence[torch.Tensor],
        progress: bool,
    ):
        self.term, self.method, self.y0, self.tsave, self.t0 = term, method, y0, tsave, t0
        self.discontinuities, self.save, self.event_ndim = discontinuities, save, event_ndim
        self.params, self.progress = tuple(params), progress

    def run(self):
        """Integrate forwards (with whatever autograd state is active)."""
        return self.method.integrate(
            self.term,
            self.y0,
            self.tsave,
            self.t0,
            self.discontinuities,
            self.save,
            self.event_ndim,
            self.progress,
        )


class AbstractGradient:
    """A way of computing gradients through an integration.

    Subclasses implement `solve(problem)`, returning `(saved, y_final, stats)` where
    `saved` is the list of the `save` outputs at each save time.
    """

    def solve(self, problem: Problem):
        """Integrate `problem` so that autograd can differentiate the outputs."""
        raise NotImplementedError
