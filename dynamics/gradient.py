"""Gradient modes (`qd.gradient`)."""

from solvers.gradients import ALL_GRADIENTS, AbstractGradient, Direct

__all__ = ["ALL_GRADIENTS", "AbstractGradient", "Direct"]
