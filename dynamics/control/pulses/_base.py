"""The abstract `Pulse`, per-control bounds and the argument conversions its subclasses share."""

from __future__ import annotations

import abc
import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch

from ..._checks import to_operator
from ..._config import get_cdtype, get_device, get_rdtype
from ..._convert import QArrayLike, to_tensor
from ...time_operators import PWCOperator, TimeOperator, constant

Bounds = tuple[float, float] | Sequence[tuple[float, float] | None] | None
"""None, one `(low, high)` pair for every control, or one pair (or None) per control."""

_MARGIN = 1e-6  # relative distance by which initial values on a bound are moved inside


# ----------------------------------------------------------------------------- base class


class Pulse(torch.nn.Module, abc.ABC):
    r"""Abstract pulse: real control amplitudes on the slices of a time grid.

    Subclasses implement `forward()`; smooth shapes also override `_evaluate(t)` with
    their exact value at any time (the default looks up the slice value).

    Args:
        times: Slice boundaries $t_0 < \dots < t_N$, shape `(N + 1,)`.
        ncontrols: Number of controls $K \ge 1$.
        batch_shape: Leading batch dimensions of the parameters.
        dtype: Real (or complex, giving the precision) dtype; default from the global
            precision (`qd.set_precision`).
        device: Device; default from `qd.set_device`.

    Examples:
        >>> from dynamics.control.pulses import PWC, Pulse
        >>> pulse = PWC([0.0, 0.5, 2.0], 3, batch_shape=(4,))
        >>> isinstance(pulse, Pulse), pulse.nslices, pulse.ncontrols, pulse.dt
        (True, 2, 3, tensor([0.5000, 1.5000], dtype=torch.float64))
    """

    def __init__(
        self,
        times: QArrayLike,
        ncontrols: int,
        batch_shape: int | Sequence[int] = (),
        *,
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ):
        super().__init__()
        self.register_buffer("_times", _to_times(times, get_rdtype(dtype), get_device(device)))
        self._ncontrols = _positive_int(ncontrols, "ncontrols")
        self._batch_shape = _to_batch_shape(batch_shape)
        self._box: _Box | None = None

    @abc.abstractmethod
    def forward(self) -> torch.Tensor:
        """Return the slice amplitudes, real, shape `(*batch_shape, ncontrols, N)`."""

    @property
    def times(self) -> torch.Tensor:
        """Slice boundaries, shape `(N + 1,)`."""
        return self._times

    @property
    def ncontrols(self) -> int:
        """Number of controls."""
        return self._ncontrols

    @property
    def nslices(self) -> int:
        """Number of slices `N`."""
        return self._times.shape[0] - 1

    @property
    def batch_shape(self) -> torch.Size:
        """Leading batch dimensions of the amplitudes."""
        return self._batch_shape

    @property
    def dt(self) -> torch.Tensor:
        """Slice widths, shape `(N,)`."""
        return self._times.diff()

    @property
    def midpoints(self) -> torch.Tensor:
        """Slice midpoints, where smooth shapes are sampled, shape `(N,)`."""
        return (self._times[1:] + self._times[:-1]) / 2

    @property
    def dtype(self) -> torch.dtype:
        """Real dtype of the amplitudes."""
        return self._times.dtype

    @property
    def device(self) -> torch.device:
        """Device of the amplitudes."""
        return self._times.device

    @property
    def bounds(self) -> tuple[tuple[float, float] | None, ...]:
        """Bounds `(low, high)` of each control, None where unbounded."""
        return (None,) * self.ncontrols if self._box is None else self._box.bounds

    def values_at(self, t: float | torch.Tensor) -> torch.Tensor:
        """Return the amplitudes at time(s) `t`: exact for smooth shapes, slice values otherwise.

        The pulse is zero outside $[t_0, t_N]$ (piecewise-constant ones also at $t_N$,
        like `qd.pwc`).

        Args:
            t: A time, or a 1-D tensor-like of `M` times.

        Returns:
            Real tensor of shape `(*batch_shape, ncontrols)`, or `(*batch_shape, ncontrols, M)`.

        Examples:
            >>> from dynamics.control.pulses import PWC
            >>> PWC([0.0, 1.0, 2.0], 1, init=[[3.0, -1.0]]).values_at(1.5)
            tensor([-1.], dtype=torch.float64, grad_fn=<SelectBackward0>)
        """
        t = torch.as_tensor(t, dtype=self.dtype, device=self.device)
        if t.ndim > 1:
            raise ValueError(
                f"Argument `t` must be a scalar or 1-D, but has shape {tuple(t.shape)}."
            )
        ts = t.reshape(-1)
        inside = (ts >= self._times[0]) & (ts <= self._times[-1])
        u = self._evaluate(ts) * inside
        return u[..., 0] if t.ndim == 0 else u

    def _evaluate(self, t: torch.Tensor) -> torch.Tensor:
        """Amplitudes at times `t` `(M,)`, shape `(*batch, K, M)`: here the slice values."""
        k = torch.searchsorted(self._times, t, right=True) - 1
        valid = (k >= 0) & (k < self.nslices)
        return self().index_select(-1, k.clamp(0, self.nslices - 1)) * valid

    def hamiltonian(self, H0: QArrayLike | None, controls: Sequence[QArrayLike]) -> TimeOperator:
        r"""Return $H(t) = H_0 + \sum_k u_k(t) H_k$ with the slice amplitudes of `forward()`.

        Built as `qd.constant(H0) + Σ_k qd.pwc(times, u[..., k, :], H_k)`; the operators
        are converted to the pulse's precision. The batch shape of the amplitudes
        broadcasts with those of `H0` and `H_k` (e.g. `batch_shape=(S, 1)` with `H0` of
        shape `(E, n, n)` gives an operator of shape `(S, E, n, n)`).

        Args:
            H0: Drift Hamiltonian `(..., n, n)`, or None for none.
            controls: `ncontrols` control operators $H_k$, each `(..., n, n)`.

        Returns:
            A time operator of shape `(..., n, n)`, differentiable in the pulse parameters.

        Raises:
            TypeError: If `controls` is not a sequence.
            ValueError: If `controls` does not hold `ncontrols` operators, an operator is
                not square, the dimensions differ, or an operator is on another device.

        Examples:
            >>> import dynamics as qd
            >>> from dynamics.control.pulses import PWC
            >>> pulse = PWC([0.0, 0.5, 1.0], 2)
            >>> pulse.hamiltonian(qd.sigmaz(), [qd.sigmax(), qd.sigmay()]).shape
            torch.Size([2, 2])
        """
        if not isinstance(controls, (list, tuple, torch.Tensor, np.ndarray)) or (
            not isinstance(controls, (list, tuple)) and controls.ndim < 3
        ):
            raise TypeError(
                "Argument `controls` must be a sequence of operators (or a tensor of shape "
                f"(ncontrols, ..., n, n)), but is {type(controls).__name__} "
                f"{tuple(getattr(controls, 'shape', ()))}."
            )
        if len(controls) != self.ncontrols:
            raise ValueError(
                f"Argument `controls` must hold ncontrols = {self.ncontrols} operators, "
                f"but holds {len(controls)}."
            )
        named = [(f"controls[{k}]", H) for k, H in enumerate(controls)]
        if H0 is not None:
            named.append(("H0", H0))
        ops = {name: self._operator(H, name) for name, H in named}
        n = ops["controls[0]"].shape[-1]
        for name, O in ops.items():
            if O.shape[-1] != n:
                raise ValueError(
                    f"Argument `{name}` must have dimension {n} like `controls[0]`, "
                    f"but has shape {tuple(O.shape)}."
                )
        u = self()
        # The times were checked when the pulse was built and the amplitudes come from
        # its parameters: the operators are built directly, without `qd.pwc`'s checks
        # (this runs at every evaluation of an optimisation).
        terms = []
        for k in range(self.ncontrols):
            O = ops[f"controls[{k}]"]
            terms.append(PWCOperator(self._times, u[..., k, :].to(O.dtype), O))
        H = sum(terms[1:], terms[0])
        return H if H0 is None else constant(ops["H0"]) + H

    def _operator(self, H: QArrayLike, name: str) -> torch.Tensor:
        if isinstance(H, torch.Tensor) and H.device != self.device:
            raise ValueError(
                f"Argument `{name}` must be on the pulse's device {self.device}, "
                f"but is on {H.device}."
            )
        cdtype = get_cdtype(self.dtype)
        return to_operator(to_tensor(H, dtype=cdtype, device=self.device, name=name), name)

    def extra_repr(self) -> str:
        """Grid size, number of controls and batch shape, for `repr`."""
        batch = f", batch_shape={tuple(self.batch_shape)}" if self.batch_shape else ""
        return f"nslices={self.nslices}, ncontrols={self.ncontrols}{batch}"


# ----------------------------------------------------------------------------- bounds


class _Box(torch.nn.Module):
    """Per-control bounds: `u = mid + half·sin(θ)` for bounded controls, `u = θ` otherwise."""

    def __init__(self, bounds: Bounds, ncontrols: int, dtype: torch.dtype, device: torch.device):
        super().__init__()
        self.bounds = _bound_pairs(bounds, ncontrols)
        low = [p[0] if p else -1.0 for p in self.bounds]
        high = [p[1] if p else 1.0 for p in self.bounds]
        options = {"dtype": dtype, "device": device}
        self.register_buffer("low", torch.tensor(low, **options)[:, None])
        self.register_buffer("high", torch.tensor(high, **options)[:, None])
        self.register_buffer(
            "bounded", torch.tensor([p is not None for p in self.bounds], device=device)[:, None]
        )
        self.any = any(self.bounded.tolist())

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        if not self.any:
            return theta.clone()
        mid, half = (self.high + self.low) / 2, (self.high - self.low) / 2
        u = (mid + half * torch.sin(theta)).clamp(self.low, self.high)  # exact, even after rounding
        return torch.where(self.bounded, u, theta)

    def inverse(self, u: torch.Tensor, name: str) -> torch.Tensor:
        """Raw parameters giving `u` (values on a bound are moved a hair inside)."""
        if not self.any:
            return u.clone()
        outside = self.bounded & ((u < self.low) | (u > self.high))
        if bool(outside.any()):
            k = int(outside.nonzero()[0, -2])
            raise ValueError(
                f"Argument `{name}` must lie within the bounds {self.bounds[k]} of control {k}, "
                f"but has values in [{u[..., k, :].min().item():g}, {u[..., k, :].max().item():g}]."
            )
        mid, half = (self.high + self.low) / 2, (self.high - self.low) / 2
        s = ((u - mid) / half).clamp(-1 + _MARGIN, 1 - _MARGIN)
        return torch.where(self.bounded, torch.asin(s), u)

    def initial(self, init: QArrayLike | None, shape: Sequence[int]) -> torch.Tensor:
        """Raw parameters of shape `shape` for the amplitudes `init` (None: θ = 0)."""
        if init is None:
            return torch.zeros(shape, dtype=self.low.dtype, device=self.low.device)
        u = _broadcast(_real(init, "init", self.low.dtype, self.low.device), shape, "init")
        return self.inverse(u, "init")


def _bound_pairs(bounds: Bounds, ncontrols: int) -> tuple[tuple[float, float] | None, ...]:
    def is_pair(x):
        return (
            isinstance(x, (tuple, list))
            and len(x) == 2
            and all(isinstance(v, numbers.Real) for v in x)
        )

    if bounds is None:
        return (None,) * ncontrols
    if is_pair(bounds):
        pairs = [bounds] * ncontrols
    elif isinstance(bounds, (tuple, list)) and all(p is None or is_pair(p) for p in bounds):
        if len(bounds) != ncontrols:
            raise ValueError(
                f"Argument `bounds` must hold ncontrols = {ncontrols} pairs (or None), "
                f"but holds {len(bounds)}."
            )
        pairs = list(bounds)
    else:
        raise TypeError(
            "Argument `bounds` must be None, a pair (low, high) or a sequence of pairs or None, "
            f"but is {bounds!r}."
        )
    checked = []
    for pair in pairs:
        if pair is not None:
            low, high = float(pair[0]), float(pair[1])
            if not (math.isfinite(low) and math.isfinite(high)):
                raise ValueError(
                    f"Argument `bounds` must be finite (None for unbounded), but got {tuple(pair)}."
                )
            if not low < high:
                raise ValueError(f"Argument `bounds` must have low < high, but got {tuple(pair)}.")
            pair = (low, high)
        checked.append(pair)
    return tuple(checked)


# ----------------------------------------------------------------------------- conversions


def _real(x: QArrayLike, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """`x` as a finite real tensor of `dtype` on `device` (tensors keep their graph)."""
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"Argument `{name}` must be a real tensor-like, but is of type {type(x).__name__}."
            ) from err
    if x.is_complex() or not (x.is_floating_point() or x.dtype in _INTEGER_DTYPES):
        raise TypeError(f"Argument `{name}` must be real, but has dtype {x.dtype}.")
    x = x.to(dtype=dtype, device=device)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"Argument `{name}` must contain only finite values.")
    return x


_INTEGER_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)


def _broadcast(x: torch.Tensor, shape: Sequence[int], name: str) -> torch.Tensor:
    try:
        return torch.broadcast_to(x, tuple(shape))
    except RuntimeError:
        raise ValueError(
            f"Argument `{name}` must have a shape broadcastable to {tuple(shape)}, "
            f"but has shape {tuple(x.shape)}."
        ) from None


def _to_times(times: QArrayLike, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    t = _real(times.detach() if isinstance(times, torch.Tensor) else times, "times", dtype, device)
    if t.ndim != 1 or t.shape[0] < 2:
        raise ValueError(
            "Argument `times` must be 1-D with at least 2 elements (N + 1 slice boundaries), "
            f"but has shape {tuple(t.shape)}."
        )
    widths = t.diff()
    if not bool((widths > 0).all()):
        k = int((widths <= 0).nonzero()[0, 0])
        raise ValueError(
            f"Argument `times` must be strictly increasing, but slice {k} has width "
            f"{widths[k].item():g} ≤ 0."
        )
    return t.clone()


def _positive_int(value: int, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"Argument `{name}` must be an integer, but is of type {type(value).__name__}."
        )
    if value < minimum:
        raise ValueError(f"Argument `{name}` must be an integer ≥ {minimum}, but is {value}.")
    return int(value)


def _to_batch_shape(batch_shape: int | Sequence[int]) -> torch.Size:
    dims = (batch_shape,) if isinstance(batch_shape, numbers.Integral) else batch_shape
    if not isinstance(dims, (tuple, list, torch.Size)) or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in dims
    ):
        raise TypeError(
            f"Argument `batch_shape` must be a tuple of integers, but is {batch_shape!r}."
        )
    if any(d < 1 for d in dims):
        raise ValueError(f"Argument `batch_shape` must hold positive sizes, but is {tuple(dims)}.")
    return torch.Size(int(d) for d in dims)
