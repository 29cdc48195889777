"""The classical fourth-order Runge–Kutta method."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .explicit_rk import AbstractFixedRK
from .tableau import ButcherTableau

__all__ = ["RK4"]

RK4_TABLEAU = ButcherTableau(
    a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
    b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
    c=(0.0, 0.5, 0.5, 1.0),
    order=4,
    # Order-3 continuous extension (Hairer, Nørsett & Wanner, II.6).
    dense=(
        (1.0, -3 / 2, 2 / 3),
        (0.0, 1.0, -2 / 3),
        (0.0, 1.0, -2 / 3),
        (0.0, -1 / 2, 2 / 3),
    ),
)


@dataclass(frozen=True, kw_only=True)
class RK4(AbstractFixedRK):
    """The classical Runge–Kutta method of order 4, with fixed steps of size `dt`.

    4 function evaluations per step, dense output of order 3. Supports every
    gradient mode.

    Examples:
        >>> from solvers import RK4
        >>> RK4(dt=0.01)
        RK4(dt=0.01, max_steps=1000000)
    """

    tableau: ClassVar[ButcherTableau] = RK4_TABLEAU
