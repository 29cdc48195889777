"""The engine's test matrix, read from the registries, and plain ODEs with exact solutions.

Fixtures that parametrize a test over the registries (`pytest_generate_tests`):

- `method_cls`: every class of `solvers.ALL_METHODS`;
- `rk_cls`: the explicit Runge–Kutta methods (they carry a `ButcherTableau`);
- `adaptive_cls`: the Runge–Kutta methods whose tableau has an error estimate;
- `step_map_cls`: the step maps (`AbstractStepMap`);
- `gradient_cls`: every class of `solvers.ALL_GRADIENTS`;
- `ode`: every problem of `ODES` (a term, an initial state and the exact solution).

Methods are instantiated by capability through the `methods` fixture (a
`MethodFactory`), never by name, so adding a method to the registry adds it to every
test that applies to it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

from solvers import (
    ALL_GRADIENTS,
    ALL_METHODS,
    AbstractGradient,
    AbstractMethod,
    AbstractRungeKutta,
    AbstractStepMap,
    AbstractTerm,
    LinearTerm,
    ODETerm,
)

F64 = torch.float64
C128 = torch.complex128

RK_METHODS = tuple(m for m in ALL_METHODS if issubclass(m, AbstractRungeKutta))
ADAPTIVE_METHODS = tuple(m for m in RK_METHODS if m.tableau.adaptive)
STEP_MAPS = tuple(m for m in ALL_METHODS if issubclass(m, AbstractStepMap))


def _ids(classes) -> list[str]:
    return [c.__name__ for c in classes]


# ------------------------------------------------------------------------------ problems


@dataclass(frozen=True)
class ODE:
    """A problem `dy/dt = f(t, y)` on `[0, t_end]` with its exact solution.

    Attributes:
        name: Test id.
        term: The right-hand side (a `LinearTerm` whenever the equation is linear, so
            exponential step maps can integrate it too).
        y0: Initial state at `t = 0`.
        exact: Maps save times `(n,)` to the exact states `(n, *y0.shape)`.
        t_end: Final time of the convergence runs.
    """

    name: str
    term: AbstractTerm
    y0: torch.Tensor
    exact: Callable[[torch.Tensor], torch.Tensor]
    t_end: float


def _rotation() -> ODE:
    J = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=F64)

    def exact(t):
        return torch.stack([torch.cos(t), -torch.sin(t)], -1).unsqueeze(-1)  # (n, 2, 1)

    term = LinearTerm(lambda t: J, is_constant=True, is_piecewise_constant=True)
    return ODE("rotation", term, torch.tensor([[1.0], [0.0]], dtype=F64), exact, 4.0)


def _phase(omega: float = 3.0) -> ODE:
    G = torch.tensor([[1j * omega]], dtype=C128)

    def exact(t):
        return torch.exp(1j * omega * t.to(C128)).reshape(-1, 1, 1)

    term = LinearTerm(lambda t: G, is_constant=True, is_piecewise_constant=True)
    return ODE("complex_phase", term, torch.ones(1, 1, dtype=C128), exact, 2.0)


def _forced_decay() -> ODE:
    """`y' = -y + sin t`, `y(0) = 1`, written as `(y, 1)' = [[-1, sin t], [0, 0]] (y, 1)`."""

    def G(t: float) -> torch.Tensor:
        return torch.tensor([[-1.0, math.sin(t)], [0.0, 0.0]], dtype=F64)

    def exact(t):
        y = 1.5 * torch.exp(-t) + (torch.sin(t) - torch.cos(t)) / 2
        return torch.stack([y, torch.ones_like(t)], -1).unsqueeze(-1)

    return ODE("forced_decay", LinearTerm(G), torch.ones(2, 1, dtype=F64), exact, 5.0)


def _cosine_gd() -> ODE:
    """`y' = cos y`, `y(0) = 0`: the Gudermannian `y = 2 atan(tanh(t/2))` (nonlinear)."""

    def exact(t):
        return (2 * torch.atan(torch.tanh(t / 2))).unsqueeze(-1)

    term = ODETerm(lambda t, y: torch.cos(y))
    return ODE("nonlinear_cos", term, torch.zeros(1, dtype=F64), exact, 4.0)


ODES: tuple[ODE, ...] = (_rotation(), _phase(), _forced_decay(), _cosine_gd())


# ------------------------------------------------------------------------------ factory


class MethodFactory:
    """Instantiate registry methods by capability."""

    @staticmethod
    def takes(cls: type, argument: str) -> bool:
        """Whether the method class has the constructor argument `argument`."""
        return any(f.name == argument and f.init for f in dataclasses.fields(cls))

    def fixed(self, cls: type, dt: float, **kwargs) -> AbstractMethod:
        """A fixed-step instance (skips a method that takes no `dt`)."""
        if not self.takes(cls, "dt"):
            pytest.skip(f"{cls.__name__} has no fixed-step mode")
        return cls(dt=dt, **kwargs)

    def adaptive(self, cls: type, rtol: float = 1e-6, atol: float = 1e-8, **kwargs):
        """An adaptive instance (skips a method without an error estimate)."""
        tableau = getattr(cls, "tableau", None)
        if tableau is None or not tableau.adaptive:
            pytest.skip(f"{cls.__name__} is not adaptive")
        return cls(rtol=rtol, atol=atol, **kwargs)

    def accurate(self, cls: type, dt: float = 1e-2) -> AbstractMethod:
        """An adaptive instance at tight tolerances if possible, else a fixed-step one."""
        tableau = getattr(cls, "tableau", None)
        if tableau is not None and tableau.adaptive:
            return cls(rtol=1e-10, atol=1e-12)
        return self.fixed(cls, dt)

    def accuracy(self, method: AbstractMethod) -> float:
        """The error to expect from `method` (as built by `accurate`) on the problems here."""
        if getattr(method, "adaptive", False):
            return 1e-8
        return max(1e-10, 10 * method.dt**method.order)

    @staticmethod
    def supports(method: AbstractMethod, term: AbstractTerm) -> bool:
        """Whether `method` accepts `term` (its own `check_term` decides)."""
        try:
            method.check_term(term)
        except (TypeError, ValueError):
            return False
        return True

    @staticmethod
    def exact_on_piecewise_constant(cls: type) -> bool:
        """A step map that runs without `dt` has no step size to converge: it claims exactness.

        True when an instance built without `dt` accepts a piecewise-constant linear term.
        """
        if not issubclass(cls, AbstractStepMap):
            return False
        term = LinearTerm(lambda t: torch.zeros(1, 1), is_piecewise_constant=True)
        try:
            method = cls()
        except TypeError:
            return False
        return MethodFactory.supports(method, term)


@pytest.fixture
def methods() -> MethodFactory:
    """The method factory."""
    return MethodFactory()


def make_gradient(cls: type, **kwargs) -> AbstractGradient:
    """A gradient mode with its default settings (or `kwargs`)."""
    return cls(**kwargs)


def gradient_variants(cls: type) -> list[AbstractGradient]:
    """The default mode, plus one with every integer setting at 2 (e.g. checkpoints or
    segment lengths), which makes replaying modes cut even short runs into segments."""
    ints = {
        f.name: 2
        for f in dataclasses.fields(cls)
        if f.init and isinstance(f.default, int) and not isinstance(f.default, bool)
    }
    return [cls()] + ([cls(**ints)] if ints else [])


@pytest.fixture
def gradients():
    """Build gradient modes from their class and tell whether a method supports them."""

    class Gradients:
        make = staticmethod(make_gradient)
        variants = staticmethod(gradient_variants)

        @staticmethod
        def supported(method_cls: type, gradient_cls: type) -> bool:
            return gradient_cls.__name__ in method_cls.supported_gradients

    return Gradients()


@pytest.fixture
def odes() -> dict[str, ODE]:
    """The problems by name."""
    return {p.name: p for p in ODES}


def pytest_generate_tests(metafunc):
    matrix = {
        "method_cls": ALL_METHODS,
        "rk_cls": RK_METHODS,
        "adaptive_cls": ADAPTIVE_METHODS,
        "step_map_cls": STEP_MAPS,
        "gradient_cls": ALL_GRADIENTS,
    }
    for name, classes in matrix.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, classes, ids=_ids(classes))
    if "ode" in metafunc.fixturenames:
        metafunc.parametrize("ode", ODES, ids=[p.name for p in ODES])
