"""Right-hand sides: what the engine integrates.

A term knows nothing of the method that steps it. `ODETerm` wraps `dy/dt = f(t, y)`;
`LinearTerm` is the linear form `dy/dt = G(t) y` that exponential methods need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

__all__ = ["AbstractTerm", "LinearTerm", "ODETerm", "sum_to"]


class AbstractTerm:
    """Interface of a right-hand side.

    Attributes:
        is_constant: `f` does not depend on `t` (lets step maps reuse their work).
        is_piecewise_constant: `f` is constant between the caller's discontinuities.
        has_vjp: The term implements `ops`, `apply` and `vjp` (the vector field as a
            function of the tensors it depends on, and its own vector–Jacobian
            product): Runge–Kutta steps then record one autograd node each, whose
            backward pass calls `vjp` stage by stage, much cheaper than recording
            every operation.
        pure_real_form: The function of `real_form` depends on nothing but its
            arguments (no captured tensors) and takes no data-dependent Python
            branches: a compiled step may then trace it once per input shape and
            run the generated code without TorchDynamo's guards.

    Examples:
        A term needs only `vf`; `ODETerm` and `LinearTerm` cover most uses.

        >>> import torch
        >>> from solvers import AbstractTerm, Tsit5, integrate
        >>> class Decay(AbstractTerm):
        ...     is_constant = True
        ...
        ...     def vf(self, t, y):
        ...         return -y
        >>> sol = integrate(Decay(), Tsit5(), torch.ones(1), torch.tensor([0.0, 1.0]))
        >>> round(sol.y_final.item(), 5)  # e^{-1}
        0.36788
    """

    is_constant: bool = False
    is_piecewise_constant: bool = False
    has_vjp: bool = False
    pure_real_form: bool = False

    def vf(self, t: float, y: torch.Tensor) -> torch.Tensor:
        """Return the vector field `f(t, y)`."""
        raise NotImplementedError

    def ops(self, t: float) -> tuple[torch.Tensor, ...]:
        """Return the tensors `f(t, ·)` depends on (with their autograd graph)."""
        raise NotImplementedError

    def apply(self, ops: tuple[torch.Tensor, ...], y: torch.Tensor) -> torch.Tensor:
        """Return the vector field at the time where `ops = self.ops(t)` was taken."""
        raise NotImplementedError

    def real_form(self, pairs: bool) -> tuple[Callable, tuple, tuple[torch.Tensor, ...]] | None:
        """Return the vector field of a constant term on real planes, for compiled steps.

        `(fn, static, ops)` with `fn(static, ops, y)` a pure function of the real form
        of the state returning the real form of `f(y)`: with `pairs` (a complex state)
        `y` holds its real and imaginary planes, `(2, *shape)` (`y[0]` the real part);
        otherwise the real state as it is. `fn` must be a module-level function (compiled once per `fn`),
        `static` hashable settings and `ops` tensors. `None` (the default): the term
        steps eagerly.
        """
        return None

    def vjp(
        self,
        ops: tuple[torch.Tensor, ...],
        y: torch.Tensor,
        g: torch.Tensor,
        need: tuple[bool, ...],
    ) -> tuple[torch.Tensor, tuple[torch.Tensor | None, ...]]:
        """Return the vector–Jacobian products of `apply(ops, y)` with cotangent `g`.

        The first is with respect to `y`; the tuple holds one per tensor of `ops`
        (`None` where `need` is false).
        """
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class ODETerm(AbstractTerm):
    """The right-hand side of `dy/dt = f(t, y)`.

    Args:
        f: A callable `f(t, y)` with `t` a Python float and `y` a tensor, returning a
            tensor of the shape of `y`.
        is_constant: Set to `True` if `f` does not depend on `t`.
        is_piecewise_constant: Set to `True` if `f` is constant between the
            discontinuities given to `integrate`.

    Examples:
        >>> import torch
        >>> from solvers import ODETerm
        >>> term = ODETerm(lambda t, y: -y)
        >>> term.vf(0.0, torch.ones(2))
        tensor([-1., -1.])
    """

    f: Callable[[float, torch.Tensor], torch.Tensor]
    is_constant: bool = False
    is_piecewise_constant: bool = False

    def vf(self, t: float, y: torch.Tensor) -> torch.Tensor:
        """Return the vector field `f(t, y)`."""
        return self.f(t, y)

    def real_form(self, pairs: bool):
        """`f` itself for a constant term (a complex state goes through a complex view)."""
        return (_call_f, (self.f, pairs), ()) if self.is_constant else None


@dataclass(frozen=True, eq=False)
class LinearTerm(AbstractTerm):
    """The right-hand side of the linear equation `dy/dt = G(t) @ y`.

    Args:
        G: A callable `G(t)` returning the generator, shape `(..., d, d)`, acting on
            `y` of shape `(..., d, m)` by matrix product.
        is_constant: Set to `True` if `G` does not depend on `t`.
        is_piecewise_constant: Set to `True` if `G` is constant between the
            discontinuities given to `integrate`.
        Gs: Optional callable `Gs(ts)` returning the generators at a list of times
            stacked in front, shape `(len(ts), ..., d, d)`, faster than calling `G`
            for each (exponential methods use it to build all their steps at once).

    Examples:
        >>> import torch
        >>> from solvers import LinearTerm
        >>> term = LinearTerm(lambda t: torch.tensor([[0.0, 1.0], [-1.0, 0.0]]), is_constant=True)
        >>> term.vf(0.0, torch.tensor([[1.0], [0.0]])).flatten()
        tensor([ 0., -1.])
    """

    G: Callable[[float], torch.Tensor]
    is_constant: bool = False
    is_piecewise_constant: bool = False
    Gs: Callable[[Sequence[float]], torch.Tensor] | None = None

    def vf(self, t: float, y: torch.Tensor) -> torch.Tensor:
        """Return the vector field `G(t) @ y`."""
        return self.G(t) @ y

    def generator(self, t: float) -> torch.Tensor:
        """Return the generator `G(t)`."""
        return self.G(t)

    def generators(self, ts: Sequence[float]) -> torch.Tensor:
        """Return the generators at the times `ts`, stacked: shape `(len(ts), ..., d, d)`."""
        if self.Gs is not None:
            return self.Gs(ts)
        return torch.stack(torch.broadcast_tensors(*(self.G(t) for t in ts)))


def _call_f(static, ops, y: torch.Tensor) -> torch.Tensor:
    """Real form of a constant `ODETerm` (`static = (f, pairs)`)."""
    f, pairs = static
    if pairs:  # complex arithmetic: correct, but TorchInductor leaves it to eager kernels
        out = f(0.0, torch.complex(y[0], y[1]))
        return torch.stack((out.real, out.imag))
    return f(0.0, y)


def sum_to(g: torch.Tensor | None, shape: torch.Size) -> torch.Tensor | None:
    """Sum a gradient of a broadcast result back to the `shape` of the input (for `vjp`)."""
    if g is None or g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    g = g.sum(dim=tuple(range(lead))) if lead > 0 else g
    dims = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(dim=dims, keepdim=True) if dims else g
