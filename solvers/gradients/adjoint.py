"""The adjoint method: carry the adjoint state backwards one step at a time."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..methods.base import check_positive
from .replay import AbstractReplayGradient, Segment, vjp

__all__ = ["Adjoint"]


def _nothing(y):
    return ()


@dataclass(frozen=True)
class Adjoint(AbstractReplayGradient):
    r"""The adjoint method: integrate the adjoint state backwards with vector–Jacobian products.

    The adjoint state $\lambda = \partial\mathcal{L}/\partial y$ is carried from the
    final time to the initial time by the transpose of each step's Jacobian (for a
    Lindblad equation: the adjoint Lindbladian, discretised exactly as the forward
    step; for Kraus-map and exponential methods, their adjoint maps), and the
    parameter gradients accumulate along the way. The gradients of every saved
    output enter at their save times.

    Nothing is integrated backwards in time in the forward variable (that is
    unstable for dissipative dynamics): the forward pass stores the state every
    `segment_steps` steps, and the backward pass recomputes each segment's states
    forwards (keeping their stage values, so that the step replayed with autograd
    does not evaluate the term again) before stepping the adjoint through it. Peak
    memory holds one segment's states and stage values and the graph of a single
    step, never the graph of every step. Gradients equal those of `Direct` (the
    discrete adjoint of the same steps).

    Args:
        params: Extra tensors to differentiate with respect to, that the solve
            function cannot find (captured in a plain closure).
        segment_steps: Steps between stored states.

    Examples:
        >>> from solvers import Adjoint
        >>> Adjoint()
        Adjoint(params=(), segment_steps=64)
    """

    params: tuple = ()
    segment_steps: int = 64

    def __post_init__(self):
        check_positive("Adjoint", "segment_steps", self.segment_steps, integer=True)

    def new_segment(self, segments: list[Segment], index: int) -> bool:
        """Store the state every `segment_steps` steps."""
        return index - segments[-1].lo >= self.segment_steps

    def segment_vjp(self, problem, records, y_start, lam, cotangents, params):
        """Recompute the segment's states, then step the adjoint back through each step."""
        method, term, tsave, save = problem.method, problem.term, problem.tsave, problem.save
        out = method.replay_vjp(term, records, y_start, tsave, save, lam, cotangents, params)
        if out is not None:
            return out
        stages: dict = {}  # the stage values of each step, computed once
        with torch.no_grad():
            states = [y_start]
            for rec in records[:-1]:
                states.append(method.replay(term, [rec], states[-1], tsave, _nothing, stages)[1])
        total = [torch.zeros_like(p) for p in params]
        k = len(cotangents)
        for rec, y in zip(reversed(records), reversed(states)):
            n = len(rec.save_indices)
            cot, k = cotangents[k - n : k], k - n
            lam, grads = vjp(
                lambda y, rec=rec: method.replay(term, [rec], y, tsave, save, stages),
                problem,
                y,
                lam,
                cot,
                params,
            )
            total = [t if g is None else t + g for t, g in zip(total, grads)]
        return lam, total
