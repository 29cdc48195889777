"""Gradient modes: `Direct`, `Checkpointed` and `Adjoint`."""

from .adjoint import Adjoint
from .base import AbstractGradient, Problem
from .checkpointed import Checkpointed
from .direct import Direct
from .replay import AbstractReplayGradient

__all__ = [
    "AbstractGradient",
    "AbstractReplayGradient",
    "Adjoint",
    "Checkpointed",
    "Direct",
    "Problem",
]

ALL_GRADIENTS: tuple[type[AbstractGradient], ...] = (Direct, Checkpointed, Adjoint)
"""Every gradient mode (the test matrix and the API reference read this registry).

Examples:
    >>> from solvers import ALL_GRADIENTS
    >>> [g.__name__ for g in ALL_GRADIENTS]
    ['Direct', 'Checkpointed', 'Adjoint']
    >>> [mode() for mode in ALL_GRADIENTS]  # each with its defaults
    [Direct(params=()), Checkpointed(ncheckpoints=100, params=()), Adjoint(params=(), segment_steps=64)]
"""
