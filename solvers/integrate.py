"""The engine's one entry point."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch

from .gradients.base import AbstractGradient, Problem
from .gradients.direct import Direct
from .methods.base import AbstractMethod
from .solution import Solution
from .terms import AbstractTerm

__all__ = ["check_tsave", "integrate", "resolve_gradient"]


def _identity(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (y,)


def _checked(save: Callable, stacked: bool) -> Callable:
    """`save`, checked to return a tuple.

    Its `stacked` attribute tells the loops that it also maps states stacked along a
    new leading dimension (see `integrate`).
    """

    def checked_save(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = save(y)
        if not isinstance(out, tuple):
            raise TypeError(
                f"Argument `save` must return a tuple of tensors, but returned {type(out).__name__}."
            )
        return out

    checked_save.stacked = stacked
    return checked_save


def _check_inputs(term, method, y0, event_ndim) -> None:
    if not isinstance(term, AbstractTerm):
        raise TypeError(
            f"Argument `term` must be a term such as ODETerm(f), but is {type(term).__name__}."
        )
    if not isinstance(method, AbstractMethod):
        raise TypeError(f"Argument `method` must be a method such as Tsit5(), but is {method!r}.")
    if not isinstance(y0, torch.Tensor) or not (y0.is_floating_point() or y0.is_complex()):
        kind = y0.dtype if isinstance(y0, torch.Tensor) else type(y0).__name__
        raise TypeError(f"Argument `y0` must be a floating-point or complex tensor, but is {kind}.")
    if (
        isinstance(event_ndim, bool)
        or not isinstance(event_ndim, int)
        or not 0 <= event_ndim <= y0.ndim
    ):
        raise ValueError(
            f"Argument `event_ndim` must be an integer from 0 to y0.ndim = {y0.ndim}, but is {event_ndim!r}."
        )


def check_tsave(tsave: torch.Tensor, t0: float | None, name: str = "tsave") -> float:
    """Check that `tsave` is a non-empty, finite, strictly increasing 1-D tensor; return `t0`.

    Raises:
        ValueError: Naming `tsave` or `t0` with what was expected and what was given.
    """
    if not isinstance(tsave, torch.Tensor) or tsave.is_complex():
        raise TypeError(
            f"Argument `{name}` must be a real 1-D tensor, but is {type(tsave).__name__}."
        )
    if tsave.ndim != 1 or tsave.numel() == 0:
        raise ValueError(
            f"Argument `{name}` must be a non-empty 1-D tensor, but has shape {tuple(tsave.shape)}."
        )
    ts = tsave.detach().cpu().double()
    if not bool(torch.isfinite(ts).all()):
        raise ValueError(f"Argument `{name}` must contain only finite values.")
    if ts.numel() > 1 and not bool((ts[1:] > ts[:-1]).all()):
        raise ValueError(
            f"Argument `{name}` must be strictly increasing, but is {ts.tolist()[:8]}..."
        )
    first = float(ts[0])
    if t0 is None:
        return first
    t0 = float(t0)
    if not math.isfinite(t0) or t0 > first:
        raise ValueError(
            f"Argument `t0` must be finite and at most the first save time {first}, but is {t0}."
        )
    return t0


def resolve_gradient(
    gradient: AbstractGradient | None, method: AbstractMethod, inputs: Sequence[torch.Tensor]
) -> AbstractGradient:
    """Return the gradient mode to use.

    `None` means `Direct`: autograd records the operations on whatever requires grad,
    and nothing when nothing does. A requested mode must be supported by the method
    and needs an input that requires grad.

    Raises:
        TypeError: If `gradient` is not a gradient mode.
        ValueError: If the method does not support it, or nothing requires grad.
    """
    if gradient is None:
        return Direct()
    if not isinstance(gradient, AbstractGradient):
        raise TypeError(
            f"Argument `gradient` must be a gradient mode such as Direct(), but is {gradient!r}."
        )
    name = type(gradient).__name__
    if name not in method.supported_gradients:
        raise ValueError(
            f"Method {type(method).__name__} does not support gradient {name}; it supports "
            f"{', '.join(method.supported_gradients)}."
        )
    if not (torch.is_grad_enabled() and any(x.requires_grad for x in inputs)):
        raise ValueError(
            f"Argument `gradient` is {gradient!r}, but no input requires grad: set "
            "`requires_grad=True` on what you differentiate, or list it in the mode's `params`."
        )
    return gradient


def integrate(
    term: AbstractTerm,
    method: AbstractMethod,
    y0: torch.Tensor,
    tsave: torch.Tensor,
    *,
    t0: float | None = None,
    discontinuities: Sequence[float] = (),
    save: Callable[[torch.Tensor], tuple[torch.Tensor, ...]] | None = None,
    save_stacked: bool = False,
    event_ndim: int = 1,
    gradient: AbstractGradient | None = None,
    params: Sequence[torch.Tensor] = (),
    progress: bool = False,
) -> Solution:
    """Integrate `dy/dt = f(t, y)` from `t0` and return the values at the save times.

    Args:
        term: The right-hand side (`ODETerm`, or `LinearTerm` for exponential methods).
        method: The method, e.g. `Tsit5(rtol=1e-8)` or `RK4(dt=1e-2)`.
        y0: Initial state, shape `(*batch, *event)`; the batch shares one step size.
        tsave: Strictly increasing 1-D tensor of save times (may require grad).
        t0: Initial time (default `tsave[0]`), at most `tsave[0]`.
        discontinuities: Times where `f` jumps; steps end exactly on them.
        save: Maps a state to the tuple of tensors to save (default: the state).
        save_stacked: `save` also maps states stacked along a new leading dimension
            to its outputs stacked the same way: a compiled loop then calls it once
            per window of save times instead of once per save time.
        event_ndim: Number of trailing dimensions of `y0` forming one state (the
            error norm is an RMS over them, then a maximum over the batch).
        gradient: The gradient mode (`Direct()`, `Checkpointed()`, `Adjoint()`);
            `None` means plain autograd (`Direct`), which records nothing when nothing
            requires grad.
        params: Tensors `f` depends on that may require grad.
        progress: Show a progress bar.

    Returns:
        A `Solution` with `ys[i]` of shape `(ntsave, *saved_shape_i)`.

    Raises:
        ValueError: For bad `tsave`/`t0`, an unsupported gradient or a term the
            method cannot integrate.
        SolverError: If the integration fails (maximum steps, step underflow,
            non-finite state).

    Examples:
        >>> import torch
        >>> from solvers import ODETerm, Tsit5, integrate
        >>> sol = integrate(ODETerm(lambda t, y: -y), Tsit5(), torch.ones(1), torch.tensor([0.0, 1.0]))
        >>> round(float(sol.ys[0][-1]), 5)  # e^{-1}
        0.36788
    """
    _check_inputs(term, method, y0, event_ndim)
    t0 = check_tsave(tsave, t0)
    method.check_term(term)
    if tsave.requires_grad and not method.tsave_gradient:
        raise ValueError(
            f"Method {type(method).__name__} cannot differentiate with respect to `tsave`; "
            "use a Runge–Kutta method such as Tsit5() for gradients with respect to save times."
        )
    extra = tuple(gradient.params) if isinstance(gradient, AbstractGradient) else ()
    params = tuple(p for p in (*params, *extra) if isinstance(p, torch.Tensor))
    mode = resolve_gradient(gradient, method, (y0, tsave, *params))
    problem = Problem(
        term,
        method,
        y0,
        tsave,
        t0,
        tuple(float(d) for d in discontinuities),
        _checked(_identity, True) if save is None else _checked(save, save_stacked),
        event_ndim,
        params,
        progress,
    )
    start = time.perf_counter()
    ys, y_final, stats = mode.solve(problem)
    stats = {**stats, "wall_time": time.perf_counter() - start}
    return Solution(ts=tsave, ys=ys, y_final=y_final, stats=stats)
