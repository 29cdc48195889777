"""Interfaces of integration methods.

A method is a frozen, keyword-only dataclass validated on construction. It declares
which gradient modes it supports and runs its own stepping loop through `integrate`:
explicit Runge–Kutta methods share one loop (`solvers.rk_loop`), step maps another
(`solvers.map_loop`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch

from ..map_loop import map_loop, map_replay
from ..terms import AbstractTerm

__all__ = ["AbstractMethod", "AbstractStepMap", "check_positive"]

SaveFn = Callable[[torch.Tensor], tuple[torch.Tensor, ...]]


def check_positive(owner: str, name: str, value: Any, *, integer: bool = False) -> None:
    """Raise a uniform error unless `value` is a finite positive number (an int if `integer`)."""
    kind = "a positive integer" if integer else "a positive finite number"
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or not math.isfinite(value) or value <= 0:
        raise ValueError(f"Argument `{name}` of {owner} must be {kind}, but is {value!r}.")


class AbstractMethod:
    """Interface of a method: a stepping rule plus the loop that drives it.

    Attributes:
        supported_gradients: Names of the gradient modes the method supports.
        term_kind: The kind of term the method steps: `"ode"` (any term with a
            vector field), `"linear"` (a `LinearTerm`), or a kind defined by the
            caller's own methods (e.g. a Lindblad term for Kraus-map methods).
        order: Order of accuracy (of the method as configured: an exact method on
            piecewise-constant terms still declares its order for general terms).
        tsave_gradient: Whether outputs can be differentiated with respect to the
            save times (`Direct` only).
        max_steps: Maximum number of steps before a `SolverError`.

    Examples:
        Every method is an `AbstractMethod` that declares its capabilities:

        >>> from solvers import ALL_METHODS, AbstractMethod, Expm, Tsit5
        >>> all(issubclass(m, AbstractMethod) for m in ALL_METHODS)
        True
        >>> Tsit5().order, Tsit5.term_kind, Tsit5.tsave_gradient
        (5, 'ode', True)
        >>> Expm().order, Expm.term_kind, Expm.supported_gradients
        (2, 'linear', ('Direct', 'Checkpointed', 'Adjoint'))
    """

    supported_gradients: ClassVar[tuple[str, ...]] = ("Direct", "Checkpointed", "Adjoint")
    term_kind: ClassVar[str] = "ode"
    tsave_gradient: ClassVar[bool] = True
    order: ClassVar[int]
    max_steps: int

    def check_term(self, term: AbstractTerm) -> None:
        """Raise `ValueError`/`TypeError` if the method cannot integrate `term`."""

    def integrate(
        self,
        term: AbstractTerm,
        y0: torch.Tensor,
        tsave: torch.Tensor,
        t0: float,
        discontinuities: Sequence[float],
        save: SaveFn,
        event_ndim: int,
        progress: bool,
        recorder: Callable | None = None,
    ) -> tuple[list[tuple[torch.Tensor, ...]], torch.Tensor, dict]:
        """Integrate from `t0` and return the saved outputs, the final state and statistics.

        `recorder(record, y)`, if given, receives every step (a record that `replay`
        can run again) with the state at its start.
        """
        raise NotImplementedError

    def replay(
        self,
        term: AbstractTerm,
        records: Sequence[Any],
        y: torch.Tensor,
        tsave: torch.Tensor,
        save: SaveFn,
        stages: dict | None = None,
    ) -> tuple[list[tuple[torch.Tensor, ...]], torch.Tensor]:
        """Run recorded steps again from `y`: the save outputs inside them and the end state.

        `stages`, where the method supports it, caches what a step computed, so that a
        second replay of the same step (with autograd, after one without) skips the
        evaluations of the term; methods may ignore it.
        """
        raise NotImplementedError

    def replay_vjp(
        self,
        term: AbstractTerm,
        records: Sequence[Any],
        y: torch.Tensor,
        tsave: torch.Tensor,
        save: SaveFn,
        lam: torch.Tensor,
        cotangents: list,
        params: Sequence[torch.Tensor],
    ) -> tuple[torch.Tensor, list] | None:
        """Carry the adjoint `lam` back through recorded steps without autograd, if supported.

        Returns `(adjoint at y, parameter gradients)`, or `None` when the method cannot
        do it for this term: the caller then replays the steps with autograd.
        `cotangents[i][k]` is the incoming gradient of output `k` at the `i`-th save
        time inside the steps.
        """
        return None


class AbstractStepMap(AbstractMethod):
    r"""A method defined by a map `y_{k+1} = M(t_k, dt) y_k` on a fixed grid.

    `prepare(term, t, dt)` builds what one step needs (a propagator, Kraus operators);
    `apply(prepared, y)` applies it. The loop calls `prepare` once per interval between
    save times and discontinuities when the term is piecewise constant, once per
    distinct `dt` when it is constant, and once per step otherwise.

    Examples:
        Backward Euler for linear equations, $y_{k+1} = (I - dt\, G(t_k + dt))^{-1} y_k$:

        >>> import torch
        >>> from dataclasses import dataclass
        >>> from solvers import AbstractStepMap, LinearTerm, integrate
        >>> @dataclass(frozen=True, kw_only=True)
        ... class BackwardEuler(AbstractStepMap):
        ...     term_kind = "linear"
        ...     order = 1
        ...     dt: float
        ...     max_steps: int = 10_000
        ...
        ...     def prepare(self, term, t, dt):
        ...         G = term.generator(t + dt)
        ...         return torch.linalg.inv(torch.eye(G.shape[-1]) - dt * G)
        ...
        ...     def apply(self, prepared, y):
        ...         return prepared @ y
        >>> term = LinearTerm(lambda t: torch.tensor([[-1.0]]), is_constant=True)
        >>> sol = integrate(term, BackwardEuler(dt=0.01), torch.ones(1, 1), torch.tensor([0.0, 1.0]))
        >>> round(sol.y_final.item(), 2)  # e^{-1} = 0.368, to first order in dt
        0.37
    """

    dt: float | None
    tsave_gradient: ClassVar[bool] = False

    def prepare(self, term: AbstractTerm, t: float, dt: float) -> Any:
        """Return what `apply` needs to advance from `t` to `t + dt`."""
        raise NotImplementedError

    def apply(self, prepared: Any, y: torch.Tensor) -> torch.Tensor:
        """Advance `y` by one step."""
        raise NotImplementedError

    def integrate(
        self, term, y0, tsave, t0, discontinuities, save, event_ndim, progress, recorder=None
    ):
        """Integrate with the step-map loop."""
        return map_loop(self, term, y0, tsave, t0, discontinuities, save, progress, recorder)

    def replay(self, term, records, y, tsave, save, stages=None):
        """Replay recorded intervals of the step-map loop (`stages` is not used)."""
        return map_replay(self, term, records, y, tsave, save)
