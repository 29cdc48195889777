"""Explicit Runge–Kutta methods: a tableau plus the shared stepping loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..rk_loop import rk_loop, rk_replay, rk_replay_vjp
from .base import AbstractMethod, check_positive
from .tableau import ButcherTableau

__all__ = ["AbstractAdaptiveRK", "AbstractFixedRK", "AbstractRungeKutta"]


def check_compile(name: str, compile: bool | str) -> None:
    """Check the `compile` argument of a Runge–Kutta method: a bool or a backend name."""
    if not isinstance(compile, (bool, str)):
        raise TypeError(
            f"Argument `compile` of {name} must be a bool or the name of a torch.compile "
            f"backend, but is {compile!r}."
        )


class AbstractRungeKutta(AbstractMethod):
    """Interface shared by explicit Runge–Kutta methods (the tableau is the method).

    Examples:
        >>> from solvers import RK4, AbstractRungeKutta, Tsit5
        >>> isinstance(Tsit5(), AbstractRungeKutta), isinstance(RK4(dt=0.1), AbstractRungeKutta)
        (True, True)
        >>> Tsit5().order, Tsit5().adaptive, Tsit5(dt=0.1).adaptive
        (5, True, False)
        >>> RK4.tableau.stages, RK4.tableau.b_err is None  # no error estimate: fixed steps
        (4, True)
    """

    tableau: ClassVar[ButcherTableau]
    dt: float | None

    @property
    def order(self) -> int:
        """Order of the method (that of its tableau)."""
        return self.tableau.order

    @property
    def adaptive(self) -> bool:
        """Whether steps are chosen by the error controller (no fixed `dt`)."""
        return self.dt is None

    def integrate(
        self, term, y0, tsave, t0, discontinuities, save, event_ndim, progress, recorder=None
    ):
        """Integrate with the Runge–Kutta loop."""
        return rk_loop(
            self, term, y0, tsave, t0, discontinuities, save, event_ndim, progress, recorder
        )

    def replay(self, term, records, y, tsave, save, stages=None):
        """Replay recorded steps of the Runge–Kutta loop."""
        return rk_replay(self, term, records, y, tsave, save, stages)

    def replay_vjp(self, term, records, y, tsave, save, lam, cotangents, params):
        """Adjoint of recorded steps by their analytic discrete adjoint (terms with `vjp`)."""
        if not term.has_vjp:
            return None
        return rk_replay_vjp(self, term, records, y, tsave, save, lam, cotangents, params)


@dataclass(frozen=True, kw_only=True)
class AbstractFixedRK(AbstractRungeKutta):
    """A Runge–Kutta method without error estimate: fixed steps of size `dt`.

    `compile`: as for `AbstractAdaptiveRK`.

    Examples:
        A new fixed-step method is a tableau (Heun's method, order 2):

        >>> import torch
        >>> from dataclasses import dataclass
        >>> from solvers import AbstractFixedRK, ButcherTableau, ODETerm, integrate
        >>> @dataclass(frozen=True, kw_only=True)
        ... class Heun(AbstractFixedRK):
        ...     tableau = ButcherTableau(a=((), (1.0,)), b=(0.5, 0.5), c=(0.0, 1.0), order=2)
        >>> Heun(dt=0.01)
        Heun(dt=0.01, max_steps=1000000)
        >>> sol = integrate(ODETerm(lambda t, y: -y), Heun(dt=0.01), torch.ones(1), torch.tensor([0.0, 1.0]))
        >>> round(sol.y_final.item(), 4)  # e^{-1}
        0.3679
    """

    dt: float
    max_steps: int = 1_000_000
    compile: bool | str = field(default=False, repr=False)

    def __post_init__(self):
        name = type(self).__name__
        check_positive(name, "dt", self.dt)
        check_positive(name, "max_steps", self.max_steps, integer=True)
        check_compile(name, self.compile)


@dataclass(frozen=True, kw_only=True)
class AbstractAdaptiveRK(AbstractRungeKutta):
    """A Runge–Kutta method with an embedded error estimate.

    Adaptive by default (`rtol`, `atol`, PI step-size controller); fixed steps of size
    `dt` when `dt` is given. `compile=True` (or the name of a `torch.compile` backend)
    compiles whole steps (`solvers.compiled`): opt-in, for constant terms that offer
    a real form, solved without a recorded autograd graph; it costs seconds to a
    minute of compilation per problem shape, and the results are those of the eager
    steps to rounding.

    Examples:
        A new adaptive method is a tableau with error weights `b_err` (Heun–Euler 2(1)),
        and dense output to save between steps:

        >>> import torch
        >>> from dataclasses import dataclass
        >>> from solvers import AbstractAdaptiveRK, ButcherTableau, ODETerm, Tsit5, integrate
        >>> isinstance(Tsit5(), AbstractAdaptiveRK)
        True
        >>> @dataclass(frozen=True, kw_only=True)
        ... class HeunEuler(AbstractAdaptiveRK):
        ...     tableau = ButcherTableau(
        ...         a=((), (1.0,)), b=(0.5, 0.5), c=(0.0, 1.0), order=2,
        ...         b_err=(-0.5, 0.5), error_order=1, dense=((1.0, -0.5), (0.0, 0.5)),
        ...     )
        >>> tsave = torch.tensor([0.0, 0.5, 1.0])
        >>> sol = integrate(ODETerm(lambda t, y: -y), HeunEuler(rtol=1e-4), torch.ones(1), tsave)
        >>> round(sol.y_final.item(), 4)  # e^{-1}
        0.3679
    """

    rtol: float = 1e-6
    atol: float = 1e-8
    dt: float | None = None
    max_steps: int = 100_000
    safety: float = 0.9
    min_factor: float = 0.2
    max_factor: float = 10.0
    compile: bool | str = field(default=False, repr=False)

    def __post_init__(self):
        name = type(self).__name__
        check_compile(name, self.compile)
        for arg in ("rtol", "atol", "safety", "min_factor", "max_factor"):
            check_positive(name, arg, getattr(self, arg))
        if self.dt is not None:
            check_positive(name, "dt", self.dt)
        check_positive(name, "max_steps", self.max_steps, integer=True)
        if not (self.min_factor < 1 < self.max_factor) or self.safety >= 1:
            raise ValueError(
                f"Arguments of {name} must satisfy `min_factor` < 1 < `max_factor` and "
                f"`safety` < 1, but are {self.min_factor}, {self.max_factor}, {self.safety}."
            )
