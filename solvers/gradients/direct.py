"""Backpropagation through every step."""

from __future__ import annotations

from dataclasses import dataclass

from .base import AbstractGradient, Problem, stack

__all__ = ["Direct"]


@dataclass(frozen=True)
class Direct(AbstractGradient):
    """Backpropagate through every operation of the solver.

    The fastest backward pass, but memory grows with the number of steps (every
    stage of every step is kept for autograd). Supports second derivatives
    (`create_graph=True`) and gradients with respect to the save times.

    Args:
        params: Extra tensors to differentiate with respect to (autograd sees every
            tensor anyway in this mode; listing them only makes the request explicit).

    Examples:
        >>> from solvers import Direct
        >>> Direct()
        Direct(params=())
    """

    params: tuple = ()

    def solve(self, problem: Problem):
        """Integrate with autograd recording every operation."""
        saved, y_final, stats = problem.run()
        return stack(saved), y_final, stats
