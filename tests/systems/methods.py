"""Build a method instance and its expected accuracy from its declared capabilities.

Nothing here looks at a method's name: tests read the registry
`dynamics.method.ALL_METHODS`, and each class is classified by what it declares:

- *adaptive* (its tableau has an error estimate): tight tolerances `ADAPTIVE`,
  expected error `ADAPTIVE_TOL` (scaled with `rtol` when overridden);
- *exact on piecewise-constant problems*: a step map constructible without `dt` (`Expm`):
  no `dt` when every operator is constant or pwc, expected error `EXACT_TOL`;
- *fixed step* otherwise: `dt = FIXED_DT[order]`, expected error `FIXED_TOL[order]`
  (scaled as `(dt / FIXED_DT[order])**order` when `dt` is overridden).

The order is the one the method declares (`method.order`: a class attribute of step
maps, the tableau's order for Runge–Kutta methods).
"""

from __future__ import annotations

import dataclasses

from dynamics.equations import Lindblad, Schrodinger
from solvers import AbstractMethod, AbstractStepMap

__all__ = [
    "ADAPTIVE",
    "ADAPTIVE_TOL",
    "EXACT_TOL",
    "FIXED_DT",
    "FIXED_TOL",
    "Case",
    "exact_on_pwc",
    "is_adaptive",
    "kinds",
    "make_case",
    "method_order",
]

# Expected max |error| of states and expectation values on the test systems (times ≤ 5,
# rates and frequencies ≤ 2.2). The README lists the measured errors (3–50× smaller).
ADAPTIVE = {"rtol": 1e-8, "atol": 1e-10}
ADAPTIVE_TOL = 1e-6
# Expm is exact up to round-off (measured ≤ 1.7e-13, on a pulse of amplitude 1.6e3).
EXACT_TOL = 1e-12
FIXED_DT = {1: 2e-3, 2: 5e-3, 4: 1e-2}
FIXED_TOL = {1: 2e-2, 2: 3e-4, 4: 1e-6}


@dataclasses.dataclass(frozen=True)
class Case:
    """A method instance and the error expected from it on a test system."""

    method: AbstractMethod
    tol: float

    def __repr__(self) -> str:
        return f"{self.method!r} (tol {self.tol:.0e})"


def is_adaptive(cls: type) -> bool:
    """Whether the method has an embedded error estimate (steps chosen from `rtol`/`atol`)."""
    tableau = getattr(cls, "tableau", None)
    return tableau is not None and tableau.adaptive


def exact_on_pwc(cls: type) -> bool:
    """Whether the method is a step map that runs without `dt` (exact on pwc problems)."""
    if not issubclass(cls, AbstractStepMap):
        return False
    try:
        cls()
    except TypeError:
        return False
    return True


def method_order(cls: type) -> int:
    """The order a method declares, read from a fixed-step instance (`method.order`)."""
    return cls(dt=1.0).order


def kinds(solver: str) -> tuple[str, ...]:
    """The term kinds a solve function offers: a method applies if its `term_kind` is one."""
    return Schrodinger.kinds if solver in ("sesolve", "sepropagator") else Lindblad.kinds


def make_case(
    cls: type,
    *,
    piecewise_constant: bool,
    rtol: float | None = None,
    atol: float | None = None,
    dt: float | None = None,
) -> Case:
    """Instantiate `cls` for a problem and return it with its expected error.

    Args:
        cls: A method class of the registry.
        piecewise_constant: Whether every operator of the problem is constant or pwc.
        rtol: Override the adaptive `rtol` (the expected error scales with it).
        atol: Override the adaptive `atol` (default `rtol / 100`).
        dt: Force a fixed step `dt` (the expected error scales as `dt**order`).
    """
    if is_adaptive(cls) and dt is None:
        rtol = ADAPTIVE["rtol"] if rtol is None else rtol
        atol = rtol / 100 if atol is None else atol
        return Case(cls(rtol=rtol, atol=atol), ADAPTIVE_TOL * rtol / ADAPTIVE["rtol"])
    if piecewise_constant and exact_on_pwc(cls) and dt is None:
        return Case(cls(), EXACT_TOL)
    order = method_order(cls)
    dt0 = FIXED_DT.get(order, FIXED_DT[max(FIXED_DT)])
    tol0 = FIXED_TOL.get(order, FIXED_TOL[max(FIXED_TOL)])
    dt = dt0 if dt is None else dt
    return Case(cls(dt=dt), tol0 * (dt / dt0) ** order)
