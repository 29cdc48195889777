"""Errors raised by the engine."""

from __future__ import annotations

__all__ = ["SolverError"]


class SolverError(RuntimeError):
    """An integration failed; the message names the time reached and the cause.

    Attributes:
        t: The time the integration had reached.
        cause: A short description of the cause.

    The solve functions raise the same error, also exported as `qd.SolverError`.

    Examples:
        A fixed step of 0.01 needs 100 steps to reach $t = 1$, more than allowed:

        >>> import torch
        >>> from solvers import RK4, ODETerm, SolverError, integrate
        >>> try:
        ...     integrate(ODETerm(lambda t, y: -y), RK4(dt=0.01, max_steps=10), torch.ones(1), torch.tensor([0.0, 1.0]))
        ... except SolverError as err:
        ...     print(err)
        Integration failed at t = 0.1: reached `max_steps` = 10 of RK4.
    """

    def __init__(self, t: float, cause: str):
        self.t = t
        self.cause = cause
        super().__init__(f"Integration failed at t = {t:.6g}: {cause}.")
