"""Interface of gradient modes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..methods.base import AbstractMethod
from ..terms import AbstractTerm

__all__ = ["AbstractGradient", "Problem", "stack"]


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything one integration needs, handed to a gradient mode.

    Attributes:
        term, method, y0, tsave, t0, discontinuities, save, event_ndim, progress:
            as given to `solvers.integrate`.
        params: Tensors the term or `save` depend on, to differentiate with respect to.
    """

    term: AbstractTerm
    method: AbstractMethod
    y0: torch.Tensor
    tsave: torch.Tensor
    t0: float
    discontinuities: tuple[float, ...]
    save: Callable
    event_ndim: int
    params: tuple[torch.Tensor, ...]
    progress: bool

    def run(self, y0: torch.Tensor | None = None, recorder: Callable | None = None):
        """Integrate forwards (with whatever autograd state is active)."""
        return self.method.integrate(
            self.term,
            self.y0 if y0 is None else y0,
            self.tsave,
            self.t0,
            self.discontinuities,
            self.save,
            self.event_ndim,
            self.progress,
            recorder,
        )

    @property
    def saves_at_t0(self) -> bool:
        """Whether the first save time is the initial time (saved before any step)."""
        return float(self.tsave[0]) == self.t0


def stack(saved: Sequence[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    """Stack the per-time save outputs into one tensor per output, time first."""
    return tuple(torch.stack(out) for out in zip(*saved))


class AbstractGradient:
    """A way of computing gradients through an integration.

    Attributes:
        params: Extra tensors to differentiate with respect to, which the caller
            cannot see (e.g. captured in a plain Python closure).

    Subclasses implement `solve(problem)`, returning `(ys, y_final, stats)` where `ys`
    holds one tensor per output of `save`, stacked over the save times. Methods name
    the modes they support in `supported_gradients`.

    Examples:
        >>> import torch
        >>> from solvers import AbstractGradient, Checkpointed, ODETerm, Tsit5, integrate
        >>> mode = Checkpointed()
        >>> isinstance(mode, AbstractGradient), type(mode).__name__ in Tsit5.supported_gradients
        (True, True)
        >>> k = torch.tensor(1.0, requires_grad=True)
        >>> term = ODETerm(lambda t, y: -k * y)
        >>> sol = integrate(term, Tsit5(), torch.ones(1), torch.tensor([0.0, 1.0]), gradient=mode, params=[k])
        >>> sol.y_final.sum().backward()
        >>> round(k.grad.item(), 4)  # d/dk e^{-k} = -e^{-1}
        -0.3679
    """

    params: tuple = ()

    def solve(self, problem: Problem):
        """Integrate `problem` so that autograd can differentiate the outputs."""
        raise NotImplementedError
