"""Backpropagation through every step."""

from __future__ import annotations

from dataclasses import dataclass

from .base import AbstractGradient, Problem

__all__ = ["Direct"]


@dataclass(frozen=True)
class Direct(AbstractGradient):
    """Backpropagate through every operation of the solver.

    The fastest backward pass, but memory grows with the number of steps (every
    stage of every step is kept for autograd). Supports second derivatives
    (`create_graph=True`) and gradients with respect to the save times.

    Examples:
        >>> from solvers import Direct
        >>> Direct()
        Direct()
    """

    def solve(self, problem: Problem):
        """Integrate with autograd recording every operation."""
        return problem.run()
