"""Errors raised by the engine."""

from __future__ import annotations

__all__ = ["SolverError"]


class SolverError(RuntimeError):
    """An integration failed; the message names the time reached and the cause.

    Attributes:
        t: The time the integration had reached.
        cause: A short description of the cause.
    """

    def __init__(self, t: float, cause: str):
        self.t = t
        self.cause = cause
        super().__init__(f"Integration failed at t = {t:.6g}: {cause}.")
