"""The explicit Euler method."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .explicit_rk import AbstractFixedRK
from .tableau import ButcherTableau

__all__ = ["Euler"]

EULER_TABLEAU = ButcherTableau(a=((),), b=(1.0,), c=(0.0,), order=1, dense=((1.0,),))


@dataclass(frozen=True, kw_only=True)
class Euler(AbstractFixedRK):
    """The explicit Euler method of order 1, with fixed steps of size `dt`.

    One function evaluation per step, linear dense output. Mostly for tests and
    teaching. Supports every gradient mode.

    Examples:
        >>> from solvers import Euler
        >>> Euler(dt=1e-3).dt
        0.001
    """

    tableau: ClassVar[ButcherTableau] = EULER_TABLEAU
