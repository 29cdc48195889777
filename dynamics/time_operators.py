"""Time-dependent operators: constant, piecewise-constant, modulated, callable, and their sums.

Each is a small immutable object, callable as `H(t)` to give a tensor of shape
`(..., n, n)`, with `.shape`, `.dtype`, `.device`, `.to(...)`, `+`, `-`, scalar `*`
and the sorted tuple of its `discontinuities`. Solve functions accept a tensor-like
wherever an operator is expected and treat it as constant (`as_time_operator`).
"""

from __future__ import annotations

import abc
import bisect
import dataclasses
import math
import numbers
import operator
from collections.abc import Callable, Iterable, Sequence
from functools import reduce

import numpy as np
import torch

from ._checks import check_finite
from ._config import get_cdtype, get_device, get_rdtype
from ._convert import QArrayLike, _is_qobj, to_tensor
from ._shapes import broadcast_shapes

__all__ = [
    "CallableOperator",
    "ConstantOperator",
    "ModulatedOperator",
    "PWCOperator",
    "SumOperator",
    "TimeOperator",
    "as_time_operator",
    "constant",
    "modulated",
    "pwc",
    "timecallable",
]

_frozen = dataclasses.dataclass(frozen=True, eq=False, repr=False)


class TimeOperator(abc.ABC):
    """Abstract time-dependent operator $H(t)$ of shape `(..., n, n)`.

    Attributes:
        shape: `(..., n, n)`, batch dimensions included (broadcast of all parts).
        dtype: Complex dtype of `H(t)`.
        device: Device of `H(t)`.
        discontinuities: Sorted, unique times (Python floats) where the operator jumps.
        is_constant: True only for constant operators.
        is_piecewise_constant: True for constant and piecewise-constant operators.

    Examples:
        Every constructor returns a `TimeOperator`; `+` builds sums and keeps track of
        where the parts jump:

        >>> import torch, dynamics as qd
        >>> H = qd.constant(qd.sigmaz()) + qd.modulated(torch.cos, qd.sigmax(), discontinuities=[2.0])
        >>> isinstance(H, qd.TimeOperator), H.shape, H.discontinuities
        (True, torch.Size([2, 2]), (2.0,))
        >>> H(0.0)
        tensor([[ 1.+0.j,  1.+0.j],
                [ 1.+0.j, -1.+0.j]], dtype=torch.complex128)
    """

    shape: torch.Size
    dtype: torch.dtype
    device: torch.device
    discontinuities: tuple[float, ...]
    is_constant: bool = False
    is_piecewise_constant: bool = False
    __array_ufunc__ = None  # NumPy defers `array + H` and `array * H` to us

    @abc.abstractmethod
    def __call__(self, t: float | torch.Tensor) -> torch.Tensor:
        """Return $H(t)$, a tensor of shape `(..., n, n)`."""

    def at_times(self, ts: Sequence[float]) -> torch.Tensor:
        """Return $H(t)$ at each time of `ts`, stacked in front: shape `(len(ts), ..., n, n)`.

        Constant and piecewise-constant operators (and their sums) build the stack with a
        few tensor operations instead of one call per time.

        Args:
            ts: Times, as Python floats.

        Examples:
            >>> import dynamics as qd
            >>> H = qd.pwc([0.0, 1.0, 2.0], [3.0, -1.0], qd.sigmax())
            >>> H.at_times([0.5, 1.5, 2.5])[:, 0, 1]
            tensor([ 3.+0.j, -1.+0.j,  0.+0.j], dtype=torch.complex128)
        """
        return torch.stack([self(t).expand(self.shape) for t in ts])

    @abc.abstractmethod
    def _to(self, dtype: torch.dtype | None, device: torch.device | None) -> TimeOperator: ...

    @abc.abstractmethod
    def _tensors(self) -> list[torch.Tensor]: ...

    @abc.abstractmethod
    def _scaled(self, c: torch.Tensor) -> TimeOperator: ...

    def to(
        self, dtype: torch.dtype | None = None, device: str | torch.device | None = None
    ) -> TimeOperator:
        """Return a copy converted to the precision of `dtype` and moved to `device`.

        Callables (and `nn.Module` parameters) are left untouched; their output is
        converted on each call.

        Args:
            dtype: Complex or real dtype giving the precision (default: unchanged).
            device: Target device (default: unchanged).
        """
        dtype = None if dtype is None else get_cdtype(dtype)
        return self._to(dtype, None if device is None else torch.device(device))

    def tensors(self) -> list[torch.Tensor]:
        """Return every tensor held (operators, pulse values, `nn.Module` parameters)."""
        return self._tensors()

    def __add__(self, other: object) -> TimeOperator:
        if _is_zero(other):  # lets `sum(operators)` work
            return self
        other = _as_operand(other, self)
        return NotImplemented if other is None else _add(self, other)

    __radd__ = __add__

    def __sub__(self, other: object) -> TimeOperator:
        other = _as_operand(other, self)
        return NotImplemented if other is None else _add(self, -other)

    def __rsub__(self, other: object) -> TimeOperator:
        return (-self).__add__(other)

    def __neg__(self) -> TimeOperator:
        return self * -1

    def __mul__(self, other: object) -> TimeOperator:
        c = _as_scale(other, self)
        if c is None:
            return NotImplemented
        _broadcast(
            self.shape[:-2],
            c.shape,
            f"Cannot multiply an operator of shape {tuple(self.shape)} by a tensor of shape "
            f"{tuple(c.shape)}: the batch shapes do not broadcast.",
        )
        return self._scaled(c)

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> TimeOperator:
        c = _as_scale(other, self)
        return NotImplemented if c is None else self * (1 / c)

    def __repr__(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        return f"{type(self).__name__}(shape={tuple(self.shape)}, dtype={dtype})"


# ----------------------------------------------------------------------------- final classes


@_frozen
class ConstantOperator(TimeOperator):
    """Constant operator $H(t) = O$; build it with `constant`.

    Examples:
        >>> import dynamics as qd
        >>> H = qd.constant(qd.sigmaz())
        >>> H, H.is_constant, H.discontinuities
        (ConstantOperator(shape=(2, 2), dtype=complex128), True, ())
        >>> H.at_times([0.0, 1.0, 2.0]).shape  # a view, no copy per time
        torch.Size([3, 2, 2])
    """

    O: torch.Tensor  # (..., n, n)
    is_constant = True
    is_piecewise_constant = True

    def __post_init__(self):
        _set(self, shape=self.O.shape, dtype=self.O.dtype, device=self.O.device)
        _set(self, discontinuities=())

    def __call__(self, t: float | torch.Tensor) -> torch.Tensor:
        """Return $O$, shape `(..., n, n)`."""
        return self.O

    def at_times(self, ts: Sequence[float]) -> torch.Tensor:
        """Return $O$ repeated for each time of `ts` (a view), shape `(len(ts), ..., n, n)`."""
        return self.O.expand(len(ts), *self.shape)

    def _to(self, dtype, device):
        return ConstantOperator(_moved(self.O, dtype, device))

    def _tensors(self):
        return [self.O]

    def _scaled(self, c):
        return ConstantOperator(c[..., None, None] * self.O)


@_frozen
class PWCOperator(TimeOperator):
    """Piecewise-constant operator $H(t) = v_k O$ on $[t_k, t_{k+1})$; build it with `pwc`.

    Examples:
        >>> import dynamics as qd
        >>> H = 2 * qd.pwc([0.0, 1.0, 2.0], [3.0, -1.0], qd.sigmax())  # scales the values
        >>> H, H.is_piecewise_constant, H.discontinuities
        (PWCOperator(shape=(2, 2), dtype=complex128), True, (0.0, 1.0, 2.0))
        >>> H.values
        tensor([ 6.+0.j, -2.+0.j], dtype=torch.complex128)
    """

    times: torch.Tensor  # (N + 1,) real
    values: torch.Tensor  # (..., N)
    O: torch.Tensor  # (..., n, n)
    is_piecewise_constant = True

    def __post_init__(self):
        batch = broadcast_shapes(self.values.shape[:-1], self.O.shape[:-2])
        _set(self, shape=torch.Size((*batch, *self.O.shape[-2:])))
        _set(self, dtype=self.O.dtype, device=self.O.device)
        _set(self, discontinuities=tuple(self.times.tolist()))  # host copy: no sync per call

    def __call__(self, t: float | torch.Tensor) -> torch.Tensor:
        r"""Return $v_k O$ for $t_k \le t < t_{k+1}$, zero outside, shape `(..., n, n)`."""
        k = bisect.bisect_right(self.discontinuities, float(t)) - 1
        if 0 <= k < self.values.shape[-1]:
            return self.values[..., k, None, None] * self.O
        return self.O.new_zeros(self.shape)

    def at_times(self, ts: Sequence[float]) -> torch.Tensor:
        """Return $H(t)$ for each time of `ts` from one gather, shape `(len(ts), ..., n, n)`."""
        nvalues = self.values.shape[-1]
        ks = np.searchsorted(self.discontinuities, np.asarray(ts, dtype=float), side="right") - 1
        inside = (ks >= 0) & (ks < nvalues)
        index = torch.as_tensor(np.where(inside, ks, 0), device=self.device)
        v = self.values.index_select(-1, index).movedim(-1, 0)  # (M, *batch of values)
        if not inside.all():
            v = v * _lead(torch.as_tensor(inside, device=self.device), v.ndim)
        v = _lead(v, len(self.shape) - 1)  # (M, *batch)
        return (v[..., None, None] * self.O).expand(len(ts), *self.shape)

    def _to(self, dtype, device):
        return PWCOperator(*(_moved(x, dtype, device) for x in (self.times, self.values, self.O)))

    def _tensors(self):
        return [self.times, self.values, self.O]

    def _scaled(self, c):
        return dataclasses.replace(self, values=c[..., None] * self.values)


@_frozen
class ModulatedOperator(TimeOperator):
    """Modulated operator $H(t) = f(t) O$; build it with `modulated`.

    Examples:
        A batch of three drive amplitudes: `f` returns shape `(3,)`, so $H$ has shape
        `(3, n, n)`.

        >>> import torch, dynamics as qd
        >>> amplitudes = torch.tensor([0.5, 1.0, 2.0])
        >>> H = qd.modulated(lambda t: amplitudes * torch.cos(t), qd.sigmax())
        >>> H
        ModulatedOperator(shape=(3, 2, 2), dtype=complex128)
        >>> H(0.0)[:, 0, 1]
        tensor([0.5000+0.j, 1.0000+0.j, 2.0000+0.j], dtype=torch.complex128)
    """

    f: Callable
    O: torch.Tensor  # (..., n, n)
    f_shape: torch.Size  # shape of f's output
    discontinuities: tuple[float, ...] = ()

    def __post_init__(self):
        batch = broadcast_shapes(self.f_shape, self.O.shape[:-2])
        _set(self, shape=torch.Size((*batch, *self.O.shape[-2:])))
        _set(self, dtype=self.O.dtype, device=self.O.device)

    def __call__(self, t: float | torch.Tensor) -> torch.Tensor:
        """Return $f(t) O$, shape `(..., n, n)`."""
        c = self.f(_time(t, self.dtype, self.device))
        if isinstance(c, numbers.Number) or (isinstance(c, torch.Tensor) and c.ndim == 0):
            return self.O * c  # a scalar or 0-d tensor keeps the dtype of O
        c = to_tensor(c, dtype=self.dtype, device=self.device, name="f")
        return c[..., None, None] * self.O

    def _to(self, dtype, device):
        return dataclasses.replace(self, O=_moved(self.O, dtype, device))

    def _tensors(self):
        return [self.O, *_parameters(self.f)]

    def _scaled(self, c):
        return dataclasses.replace(self, O=c[..., None, None] * self.O)


@_frozen
class CallableOperator(TimeOperator):
    """Operator given by a function, $H(t) = f(t)$; build it with `timecallable`.

    Examples:
        >>> import torch, dynamics as qd
        >>> H = qd.timecallable(lambda t: t * qd.sigmaz() + qd.sigmax(), discontinuities=[1.0])
        >>> H, H.discontinuities
        (CallableOperator(shape=(2, 2), dtype=complex128), (1.0,))
        >>> (2 * H)(3.0).diagonal()  # a scalar multiple keeps `f` and stores a scale
        tensor([ 6.+0.j, -6.+0.j], dtype=torch.complex128)
    """

    f: Callable
    shape: torch.Size
    dtype: torch.dtype
    device: torch.device
    discontinuities: tuple[float, ...] = ()
    scale: torch.Tensor | None = None  # batch shape, set by scalar multiplication

    def __call__(self, t: float | torch.Tensor) -> torch.Tensor:
        """Return $f(t)$ (times `scale`), shape `(..., n, n)`."""
        H = self.f(_time(t, self.dtype, self.device))
        H = to_tensor(H, dtype=self.dtype, device=self.device, name="f")
        return H if self.scale is None else self.scale[..., None, None] * H

    def _to(self, dtype, device):
        dtype = self.dtype if dtype is None else dtype
        device = self.device if device is None else device
        scale = None if self.scale is None else _moved(self.scale, dtype, device)
        return dataclasses.replace(self, dtype=dtype, device=device, scale=scale)

    def _tensors(self):
        return [*_parameters(self.f), *([] if self.scale is None else [self.scale])]

    def _scaled(self, c):
        scale = c if self.scale is None else self.scale * c
        batch = broadcast_shapes(self.shape[:-2], c.shape)
        return dataclasses.replace(self, scale=scale, shape=torch.Size((*batch, *self.shape[-2:])))


@_frozen
class SumOperator(TimeOperator):
    r"""Sum of operators $H(t) = \sum_i H_i(t)$; build it with `+`.

    Constant parts are folded into one and nested sums are flattened.

    Examples:
        >>> import torch, dynamics as qd
        >>> H = qd.sigmaz() + qd.pwc([0.0, 1.0], [1.0], qd.sigmax()) + qd.sigmaz()
        >>> H, len(H.parts), H.is_piecewise_constant
        (SumOperator(shape=(2, 2), dtype=complex128), 2, True)
        >>> H(0.5)
        tensor([[ 2.+0.j,  1.+0.j],
                [ 1.+0.j, -2.+0.j]], dtype=torch.complex128)
    """

    parts: tuple[TimeOperator, ...]

    def __post_init__(self):
        batch = broadcast_shapes(*(p.shape[:-2] for p in self.parts))
        _set(self, shape=torch.Size((*batch, *self.parts[0].shape[-2:])))
        _set(self, dtype=reduce(torch.promote_types, (p.dtype for p in self.parts)))
        _set(self, device=self.parts[0].device)
        times = {t for p in self.parts for t in p.discontinuities}
        _set(self, discontinuities=tuple(sorted(times)))
        _set(self, is_constant=all(p.is_constant for p in self.parts))
        _set(self, is_piecewise_constant=all(p.is_piecewise_constant for p in self.parts))

    def __call__(self, t: float | torch.Tensor) -> torch.Tensor:
        r"""Return $\sum_i H_i(t)$, shape `(..., n, n)`."""
        return reduce(operator.add, (p(t) for p in self.parts))

    def at_times(self, ts: Sequence[float]) -> torch.Tensor:
        """Return $H(t)$ for each time of `ts`, summing the parts' stacks."""
        ndim = len(self.shape) + 1
        return reduce(operator.add, (_lead(p.at_times(ts), ndim) for p in self.parts))

    def _to(self, dtype, device):
        return SumOperator(tuple(p._to(dtype, device) for p in self.parts))

    def _tensors(self):
        return [x for p in self.parts for x in p._tensors()]

    def _scaled(self, c):
        return SumOperator(tuple(p._scaled(c) for p in self.parts))


# ----------------------------------------------------------------------------- helpers


def _set(obj: object, **attributes: object) -> None:
    """Set derived attributes of a frozen dataclass."""
    for name, value in attributes.items():
        object.__setattr__(obj, name, value)


def _moved(x: torch.Tensor, dtype: torch.dtype | None, device: torch.device | None):
    """`x` on `device`, with the complex (or for a real `x`, real) precision of `dtype`."""
    if dtype is not None:
        dtype = get_cdtype(dtype) if x.is_complex() else get_rdtype(dtype)
    return x.to(dtype=dtype, device=device)


def _time(t: float | torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """`t` as a 0-d real tensor of the precision of `dtype`, on `device`."""
    return torch.as_tensor(t, dtype=get_rdtype(dtype), device=device)


def _lead(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """View `x` of shape `(M, *rest)` as `(M, 1, ..., 1, *rest)` with `ndim` dimensions."""
    return x.reshape(x.shape[0], *(1,) * (ndim - x.ndim), *x.shape[1:])


def _parameters(f: Callable) -> list[torch.Tensor]:
    return list(f.parameters()) if isinstance(f, torch.nn.Module) else []


def _broadcast(a: Iterable[int], b: Iterable[int], message: str) -> torch.Size:
    try:
        return broadcast_shapes(tuple(a), tuple(b))
    except RuntimeError as err:
        raise ValueError(message) from err


def _is_zero(x: object) -> bool:
    return isinstance(x, numbers.Number) and x == 0


def _as_operand(x: object, like: TimeOperator) -> TimeOperator | None:
    """`x` as an operator to add to `like`, or None if `x` is not operator-like."""
    if isinstance(x, TimeOperator):
        return x
    if isinstance(x, (torch.Tensor, np.ndarray, list, tuple)) or _is_qobj(x):
        dtype = None if isinstance(x, torch.Tensor) else like.dtype
        O = to_tensor(x, dtype=dtype, device=like.device, name="other")
        return ConstantOperator(_check_operator(O, "other"))
    return None


def _as_scale(x: object, like: TimeOperator) -> torch.Tensor | None:
    """`x` as a scale tensor of the precision and device of `like`, or None."""
    if isinstance(x, (numbers.Number, torch.Tensor, np.ndarray)):
        return to_tensor(x, dtype=like.dtype, device=like.device, name="c")
    return None


def _add(a: TimeOperator, b: TimeOperator) -> TimeOperator:
    """Sum of two operators: constants fold into one, nested sums flatten."""
    shapes = f"{tuple(a.shape)} and {tuple(b.shape)}"
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"Cannot add operators of shapes {shapes}: their dimensions differ.")
    _broadcast(
        a.shape[:-2],
        b.shape[:-2],
        f"Cannot add operators of shapes {shapes}: their batch shapes do not broadcast.",
    )
    if a.device != b.device:
        raise ValueError(f"Cannot add operators on devices {a.device} and {b.device}.")
    parts = [p for x in (a, b) for p in (x.parts if isinstance(x, SumOperator) else (x,))]
    constants = [p.O for p in parts if isinstance(p, ConstantOperator)]
    others = tuple(p for p in parts if not isinstance(p, ConstantOperator))
    if constants:
        folded = ConstantOperator(reduce(operator.add, constants))
        if not others:
            return folded
        others = (folded, *others)
    return SumOperator(others)


def _check_operator(O: torch.Tensor, name: str) -> torch.Tensor:
    if O.ndim < 2 or O.shape[-1] != O.shape[-2]:
        raise ValueError(
            f"Argument `{name}` must have shape (..., n, n), but has shape {tuple(O.shape)}."
        )
    _check_finite(O, name)
    return O


def _check_finite(x: torch.Tensor, name: str) -> None:
    check_finite(x, name)


def _check_callable(f: object) -> None:
    if not callable(f):
        raise TypeError(f"Argument `f` must be callable, but is of type {type(f).__name__}.")


def _check_times(times: QArrayLike, like: torch.Tensor) -> torch.Tensor:
    if isinstance(times, torch.Tensor):
        if times.requires_grad and torch.is_grad_enabled():
            raise ValueError(
                "Argument `times` of pwc cannot require grad: slice boundaries are where the "
                "solver stops, not differentiable inputs. To differentiate a pulse duration T, "
                "rescale time (e.g. put T in the amplitudes, H → T·H on [0, 1]) or use "
                "`qd.modulated`."
            )
        times = times.detach()
    times = torch.as_tensor(times, dtype=get_rdtype(like.dtype), device=like.device)
    if times.ndim != 1 or times.shape[0] < 2:
        raise ValueError(
            "Argument `times` must be 1-D with at least 2 elements, "
            f"but has shape {tuple(times.shape)}."
        )
    _check_finite(times, "times")
    if not bool((times[1:] > times[:-1]).all()):
        raise ValueError("Argument `times` must be strictly increasing.")
    return times


def _check_discontinuities(ts: Iterable[float]) -> tuple[float, ...]:
    try:
        ts = sorted({float(t) for t in (ts.tolist() if isinstance(ts, torch.Tensor) else ts)})
    except (TypeError, ValueError) as err:
        raise TypeError("Argument `discontinuities` must be an iterable of real numbers.") from err
    if not all(math.isfinite(t) for t in ts):
        raise ValueError("Argument `discontinuities` must contain only finite values.")
    return tuple(ts)


# ----------------------------------------------------------------------------- constructors


def as_time_operator(x: TimeOperator | QArrayLike, name: str) -> TimeOperator:
    """Return `x` if it is a `TimeOperator`, else `x` converted to a `ConstantOperator`.

    Args:
        x: Time operator, or tensor-like of shape `(..., n, n)`.
        name: Argument name used in error messages, e.g. `'H'`.

    Returns:
        A time operator.

    Raises:
        ValueError: If `x` is not square in its last two dimensions or is not finite.

    Examples:
        >>> from dynamics.time_operators import as_time_operator
        >>> as_time_operator([[0, 1], [1, 0]], 'H')
        ConstantOperator(shape=(2, 2), dtype=complex128)
    """
    if isinstance(x, TimeOperator):
        return x
    return ConstantOperator(_check_operator(to_tensor(x, name=name), name))


def constant(O: QArrayLike) -> ConstantOperator:
    r"""Constant operator $H(t) = O$.

    Args:
        O: Tensor-like of shape `(..., n, n)`.

    Returns:
        A `ConstantOperator` of shape `(..., n, n)`.

    Raises:
        ValueError: If `O` is not square in its last two dimensions or is not finite.

    Examples:
        >>> import dynamics as qd
        >>> H = qd.constant([[1, 0], [0, -1]])
        >>> H(0.5)[1, 1]
        tensor(-1.+0.j, dtype=torch.complex128)
    """
    return ConstantOperator(_check_operator(to_tensor(O, name="O"), "O"))


def pwc(times: QArrayLike, values: QArrayLike, O: QArrayLike) -> PWCOperator:
    r"""Piecewise-constant operator.

    $$
        H(t) = v_k\, O \quad\text{for } t_k \le t < t_{k+1},
        \qquad H(t) = 0 \quad\text{for } t < t_0 \text{ or } t \ge t_N.
    $$

    `values` and `times` take the precision and device of `O`; the times are the
    discontinuities.

    Args:
        times: Strictly increasing times $t_0, \dots, t_N$, shape `(N + 1,)`.
        values: Real or complex values $v_k$, shape `(..., N)`; may require grad.
        O: Tensor-like of shape `(..., n, n)`.

    Returns:
        A `PWCOperator` of shape `(..., n, n)` (batch shapes of `values` and `O` broadcast).

    Raises:
        ValueError: If `times` is not 1-D and strictly increasing, `values` does not have
            `len(times) - 1` elements in its last dimension, the batch shapes of `values`
            and `O` do not broadcast, `O` is not square, or any input is not finite.

    Examples:
        >>> import dynamics as qd
        >>> H = qd.pwc([0.0, 1.0, 2.0], [3.0, -1.0], [[0, 1], [1, 0]])
        >>> H(1.0)[0, 1], H(2.0)[0, 1]
        (tensor(-1.+0.j, dtype=torch.complex128), tensor(0.+0.j, dtype=torch.complex128))
    """
    O = _check_operator(to_tensor(O, name="O"), "O")
    times = _check_times(times, O)
    values = to_tensor(values, dtype=O.dtype, device=O.device, name="values")
    if values.ndim < 1 or values.shape[-1] != times.shape[0] - 1:
        raise ValueError(
            "Argument `values` must have shape (..., N) with N = len(times) - 1, but `values` "
            f"has shape {tuple(values.shape)} and `times` has shape {tuple(times.shape)}."
        )
    _check_finite(values, "values")
    _broadcast(
        values.shape[:-1],
        O.shape[:-2],
        "Arguments `values` and `O` must have broadcastable batch shapes, but have shapes "
        f"{tuple(values.shape)} and {tuple(O.shape)}.",
    )
    return PWCOperator(times, values, O)


def modulated(
    f: Callable[[torch.Tensor], float | torch.Tensor],
    O: QArrayLike,
    *,
    discontinuities: Iterable[float] = (),
) -> ModulatedOperator:
    r"""Modulated operator $H(t) = f(t)\, O$.

    `f` is called with `t` as a 0-d real tensor of the operator's precision and device
    and returns a scalar or a tensor of batch shape `(...)`, which broadcasts with the
    batch shape of `O`. `f` may be a `torch.nn.Module`, whose parameters `tensors()`
    then lists. `f(0)` is called once here to find the shape.

    Args:
        f: Function of time returning a scalar or a tensor of shape `(...)`.
        O: Tensor-like of shape `(..., n, n)`.
        discontinuities: Times where `f` jumps.

    Returns:
        A `ModulatedOperator` of shape `(..., n, n)`.

    Raises:
        TypeError: If `f` is not callable.
        ValueError: If `O` is not square or not finite, or `f`'s output shape does not
            broadcast with the batch shape of `O`.

    Examples:
        >>> import torch, dynamics as qd
        >>> H = qd.modulated(lambda t: torch.cos(t), [[0, 1], [1, 0]])
        >>> H(0.0)[0, 1]
        tensor(1.+0.j, dtype=torch.complex128)
    """
    _check_callable(f)
    O = _check_operator(to_tensor(O, name="O"), "O")
    with torch.no_grad():
        c = f(_time(0.0, O.dtype, O.device))
    f_shape = torch.Size(()) if isinstance(c, numbers.Number) else to_tensor(c, name="f").shape
    _broadcast(
        f_shape,
        O.shape[:-2],
        "Argument `f` must return a scalar or a tensor whose shape broadcasts with the batch "
        f"shape {tuple(O.shape[:-2])} of `O`, but returned shape {tuple(f_shape)}.",
    )
    return ModulatedOperator(f, O, f_shape, _check_discontinuities(discontinuities))


def timecallable(
    f: Callable[[torch.Tensor], QArrayLike], *, discontinuities: Iterable[float] = ()
) -> CallableOperator:
    r"""Operator given by a function of time, $H(t) = f(t)$.

    `f` is called with `t` as a 0-d real tensor and returns a tensor-like of shape
    `(..., n, n)`; the shape, dtype and device come from a call at $t = 0$. The output is
    converted to the operator's dtype and device on each call. `f` may be a
    `torch.nn.Module`, whose parameters `tensors()` then lists.

    Args:
        f: Function of time returning a tensor-like of shape `(..., n, n)`.
        discontinuities: Times where `f` jumps.

    Returns:
        A `CallableOperator` of shape `(..., n, n)`.

    Raises:
        TypeError: If `f` is not callable.
        ValueError: If `f(0)` is not square in its last two dimensions or not finite.

    Examples:
        >>> import torch, dynamics as qd
        >>> H = qd.timecallable(lambda t: torch.stack([t, -t]).diag())
        >>> H(2.0).diagonal()
        tensor([ 2.+0.j, -2.+0.j], dtype=torch.complex128)
    """
    _check_callable(f)
    with torch.no_grad():
        H = to_tensor(f(_time(0.0, get_cdtype(), get_device())), name="f")
    if H.ndim < 2 or H.shape[-1] != H.shape[-2]:
        raise ValueError(
            "Argument `f` must return a tensor of shape (..., n, n), "
            f"but returned shape {tuple(H.shape)}."
        )
    _check_finite(H, "f")
    ds = _check_discontinuities(discontinuities)
    return CallableOperator(f, H.shape, H.dtype, H.device, ds)
