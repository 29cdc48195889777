"""Gradient modes."""

from .base import AbstractGradient, Problem
from .direct import Direct

__all__ = ["AbstractGradient", "Direct", "Problem"]

ALL_GRADIENTS: tuple[type[AbstractGradient], ...] = (Direct,)
"""Every gradient mode (the test matrix and the API reference read this registry)."""
