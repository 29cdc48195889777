"""Checkpointing: store a few states, recompute segments in the backward pass."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..methods.base import check_positive
from .replay import AbstractReplayGradient, Segment, vjp

__all__ = ["Checkpointed"]


@dataclass(frozen=True)
class Checkpointed(AbstractReplayGradient):
    """Keep `ncheckpoints` states in the forward pass; recompute segments backwards.

    The forward pass builds no graph. Checkpoints are spread evenly over the steps
    (when more steps come than expected, every other checkpoint is dropped and the
    spacing doubles, so at most `ncheckpoints` states are kept). The backward pass
    replays each segment with autograd, from the last to the first, and backpropagates
    through it. Peak memory: the checkpoints plus the graph of one segment, about
    `nsteps / ncheckpoints` steps. Time: about one more forward pass than `Direct`.
    Gradients equal those of `Direct` (the same steps are replayed).

    Args:
        ncheckpoints: Maximum number of stored states.
        params: Extra tensors to differentiate with respect to, that the solve
            function cannot find (captured in a plain closure).

    Examples:
        >>> from solvers import Checkpointed
        >>> Checkpointed(ncheckpoints=20)
        Checkpointed(ncheckpoints=20, params=())
    """

    ncheckpoints: int = 100
    params: tuple = ()

    def __post_init__(self):
        check_positive("Checkpointed", "ncheckpoints", self.ncheckpoints, integer=True)

    def new_segment(self, segments: list[Segment], index: int) -> bool:
        """Start a segment every `stride` steps; thin out when too many are kept."""
        stride = segments[1].lo - segments[0].lo if len(segments) > 1 else 1
        if index - segments[-1].lo < stride:
            return False
        if len(segments) < self.ncheckpoints:
            return True
        if self.ncheckpoints == 1:
            return False
        kept = segments[::2]
        for a, b in itertools.pairwise(kept):
            a.hi = b.lo
        kept[-1].hi = segments[-1].hi
        segments[:] = kept
        return index - segments[-1].lo >= 2 * stride

    def segment_vjp(self, problem, records, y_start, lam, cotangents, params):
        """Backpropagate through the replayed segment."""
        method, term, tsave, save = problem.method, problem.term, problem.tsave, problem.save
        return vjp(
            lambda y: method.replay(term, records, y, tsave, save),
            problem,
            y_start,
            lam,
            cotangents,
            params,
        )
