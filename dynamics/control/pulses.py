r"""Pulse parametrisations: the amplitudes $u_k(t)$ of $H(t) = H_0 + \sum_k u_k(t) H_k$.

Each parametrisation is a `torch.nn.Module`. `forward()` returns the amplitudes on the
slices of a time grid `times` (shape `(N + 1,)`), a real tensor of shape
`(*batch_shape, ncontrols, N)`, and `hamiltonian(H0, controls)` turns them into the
piecewise-constant operator the solve functions take. Leading `batch_shape` dimensions
hold independent pulses (multi-start optimisation, ensembles).
"""

from __future__ import annotations

import abc
import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import to_operator
from .._config import get_cdtype, get_device, get_rdtype
from .._convert import QArrayLike, to_tensor
from ..time_operators import TimeOperator, constant, pwc

__all__ = [
    "DRAG",
    "PWC",
    "Filtered",
    "Fourier",
    "Gaussian",
    "Pulse",
    "Ramped",
    "Spline",
    "gaussian_kernel",
]

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
        terms = [
            pwc(self._times, u[..., k, :], ops[f"controls[{k}]"]) for k in range(self.ncontrols)
        ]
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


# ----------------------------------------------------------------------------- free-form pulses


class PWC(Pulse):
    r"""Piecewise-constant amplitudes, one free value per control and slice (GRAPE).

    An unbounded control is its raw parameters, $u_{kj} = \theta_{kj}$. A control with
    bounds $[a, b]$ is $u_{kj} = m + h \sin\theta_{kj}$ with $m = (a + b)/2$ and
    $h = (b - a)/2$, so the bound holds for every $\theta$ (the optimiser sees $\theta$;
    MINUIT's transformation for doubly bounded parameters). The sine reaches the bounds
    at finite $\theta$ and keeps an $O(1)$ gradient away from them, so bang-bang optima
    (amplitudes on the bounds) are reached at finite $\theta$ with a quadratic approach;
    $\tanh$ would need $\theta \to \infty$ with a vanishing gradient. Initial values within
    a relative $10^{-6}$ of a bound are moved that far inside, where the gradient is not
    exactly zero.

    Args:
        times: Slice boundaries $t_0 < \dots < t_N$, shape `(N + 1,)`.
        ncontrols: Number of controls $K$.
        bounds: None, one `(low, high)` pair for all controls, or a sequence of
            `ncontrols` pairs or None (unbounded).
        init: Initial amplitudes, broadcastable to `(*batch_shape, ncontrols, N)`, within
            the bounds; None gives $\theta = 0$: zero, or the middle of the bounds. Zero
            can be a saddle point (e.g. a NOT gate from zero drift): see `PWC.random`.
        batch_shape: Leading batch dimensions of the parameters.
        dtype: Real (or complex, giving the precision) dtype; default from the global precision.
        device: Device; default from `qd.set_device`.

    Attributes:
        theta: The raw parameters $\theta$, an `nn.Parameter` of shape
            `(*batch_shape, ncontrols, N)`.

    Raises:
        ValueError: If `times` is not 1-D strictly increasing, `ncontrols < 1`, `bounds`
            has low ≥ high or the wrong number of pairs, or `init` has the wrong shape or
            lies outside the bounds.

    Examples:
        >>> from dynamics.control.pulses import PWC
        >>> pulse = PWC([0.0, 1.0, 2.0, 3.0], 2, bounds=(-1.0, 1.0), batch_shape=(4,))
        >>> pulse().shape
        torch.Size([4, 2, 3])
        >>> pulse = PWC([0.0, 1.0, 2.0], 1, bounds=(0.0, 2.0), init=[[0.5, 1.5]])
        >>> pulse().detach()
        tensor([[0.5000, 1.5000]], dtype=torch.float64)
    """

    def __init__(
        self,
        times: QArrayLike,
        ncontrols: int,
        *,
        bounds: Bounds = None,
        init: QArrayLike | None = None,
        batch_shape: int | Sequence[int] = (),
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ):
        super().__init__(times, ncontrols, batch_shape, dtype=dtype, device=device)
        self._box = _Box(bounds, self.ncontrols, self.dtype, self.device)
        shape = (*self.batch_shape, self.ncontrols, self.nslices)
        if init is None:
            theta = torch.zeros(shape, dtype=self.dtype, device=self.device)
        else:
            u = _broadcast(_real(init, "init", self.dtype, self.device), shape, "init")
            theta = self._box.inverse(u, "init")
        self.theta = torch.nn.Parameter(theta)

    @classmethod
    def random(
        cls,
        times: QArrayLike,
        ncontrols: int,
        amplitude: float | Sequence[float],
        *,
        bounds: Bounds = None,
        batch_shape: int | Sequence[int] = (),
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> PWC:
        """Return a `PWC` with amplitudes drawn uniformly from `(-amplitude, amplitude)`.

        With bounds, each control draws from the intersection of that interval with its
        bounds. Every batch member gets its own draw (multi-start).

        Args:
            times: Slice boundaries, shape `(N + 1,)`.
            ncontrols: Number of controls.
            amplitude: Half-width (> 0) of the uniform distribution, one for all controls
                or one per control.
            bounds: As for `PWC`.
            batch_shape: Leading batch dimensions.
            generator: Random number generator (on the pulse's device), for reproducibility.
            dtype: Real (or complex) dtype; default from the global precision.
            device: Device; default from `qd.set_device`.

        Returns:
            A `PWC` pulse.

        Raises:
            ValueError: If `amplitude` is not positive or its interval misses the bounds.

        Examples:
            >>> import torch
            >>> from dynamics.control.pulses import PWC
            >>> g = torch.Generator().manual_seed(0)
            >>> pulse = PWC.random(torch.linspace(0, 1, 11), 2, 0.5, batch_shape=(3,), generator=g)
            >>> bool(pulse().abs().max() < 0.5)
            True
        """
        pulse = cls(
            times, ncontrols, bounds=bounds, batch_shape=batch_shape, dtype=dtype, device=device
        )
        amp = _broadcast(
            _real(amplitude, "amplitude", pulse.dtype, pulse.device),
            (pulse.ncontrols,),
            "amplitude",
        )
        if not bool((amp > 0).all()):
            raise ValueError(f"Argument `amplitude` must be positive, but is {amp.tolist()}.")
        box = pulse._box
        low = torch.where(box.bounded, torch.maximum(-amp[:, None], box.low), -amp[:, None])
        high = torch.where(box.bounded, torch.minimum(amp[:, None], box.high), amp[:, None])
        if not bool((low < high).all()):
            k = int((low >= high).nonzero()[0, 0])
            raise ValueError(
                f"Argument `amplitude` {float(amp[k]):g} gives an interval that misses "
                f"the bounds {pulse.bounds[k]} of control {k}."
            )
        shape = (*pulse.batch_shape, pulse.ncontrols, pulse.nslices)
        r = torch.rand(shape, generator=generator, dtype=pulse.dtype, device=pulse.device)
        u = low + (high - low) * r
        with torch.no_grad():
            pulse.theta.copy_(pulse._box.inverse(u, "amplitude"))
        return pulse

    def forward(self) -> torch.Tensor:
        """Return the amplitudes, shape `(*batch_shape, ncontrols, N)` (a new tensor)."""
        return self._box(self.theta)


class Fourier(Pulse):
    r"""Truncated Fourier series with learnable coefficients (CRAB).

    $$
        s_k(t) = c_k + \sum_{j=1}^{J} a_{kj} \sin\big(\omega_{kj}(t - t_0)\big)
            + b_{kj} \cos\big(\omega_{kj}(t - t_0)\big),
        \qquad u_k(t) = \Lambda(t)\, B_k(s_k(t)),
    $$

    sampled at the slice midpoints. By default $\omega_{kj} = 2\pi (j + r_{kj}) / T$ with
    $T = t_N - t_0$ and $r_{kj}$ uniform in `(-randomize/2, randomize/2)`, drawn for each
    batch member and control (`randomize=1` is CRAB's randomised basis of Caneva et al.,
    PRA 84, 022326 (2011)). $B_k$ is the identity, or $m + h\sin(\cdot)$ for a bounded
    control as in `PWC` (so the bound holds for any coefficients); $\Lambda$ is the
    optional `envelope` (the bounds then hold where $0 \le \Lambda \le 1$ and
    low ≤ 0 ≤ high).

    Args:
        times: Slice boundaries, shape `(N + 1,)`.
        ncontrols: Number of controls $K$.
        nfrequencies: Number of frequencies $J \ge 1$.
        frequencies: Angular frequencies, broadcastable to `(*batch_shape, ncontrols, J)`
            (default: the harmonics of $2\pi/T$, randomised by `randomize`).
        randomize: Width in `[0, 1]` of the random shifts $r_{kj}$ of the default frequencies.
        learn_frequencies: Make the frequencies learnable parameters too.
        envelope: Function $\Lambda$ mapping times `(M,)` to `(M,)` (e.g. `sin(π t/T)`).
        offset: Include the learnable constant $c_k$.
        amplitude: Coefficients $a, b$ start uniform in `(-amplitude, amplitude)` (0: zero).
        bounds: As for `PWC`.
        batch_shape: Leading batch dimensions.
        generator: Random number generator for `randomize` and `amplitude`.
        dtype: Real (or complex) dtype; default from the global precision.
        device: Device; default from `qd.set_device`.

    Attributes:
        a, b: Sine and cosine coefficients, `nn.Parameter`s `(*batch_shape, ncontrols, J)`.
        c: Offsets `(*batch_shape, ncontrols, 1)` (`nn.Parameter`), or None.
        frequencies: Angular frequencies `(*batch_shape, ncontrols, J)`.

    Examples:
        >>> import torch
        >>> from dynamics.control.pulses import Fourier
        >>> pulse = Fourier(torch.linspace(0, 1, 101), 2, 3, randomize=1.0, batch_shape=(5,))
        >>> pulse().shape, pulse.a.shape
        (torch.Size([5, 2, 100]), torch.Size([5, 2, 3]))
    """

    def __init__(
        self,
        times: QArrayLike,
        ncontrols: int,
        nfrequencies: int,
        *,
        frequencies: QArrayLike | None = None,
        randomize: float = 0.0,
        learn_frequencies: bool = False,
        envelope: Callable[[torch.Tensor], torch.Tensor] | None = None,
        offset: bool = True,
        amplitude: float = 0.0,
        bounds: Bounds = None,
        batch_shape: int | Sequence[int] = (),
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ):
        super().__init__(times, ncontrols, batch_shape, dtype=dtype, device=device)
        J = _positive_int(nfrequencies, "nfrequencies")
        if not 0 <= randomize <= 1:
            raise ValueError(f"Argument `randomize` must be in [0, 1], but is {randomize}.")
        if amplitude < 0:
            raise ValueError(f"Argument `amplitude` must be ≥ 0, but is {amplitude}.")
        if envelope is not None and not callable(envelope):
            raise TypeError(
                f"Argument `envelope` must be callable, but is of type {type(envelope).__name__}."
            )
        self._box = _Box(bounds, self.ncontrols, self.dtype, self.device)
        shape = (*self.batch_shape, self.ncontrols, J)
        options = {"dtype": self.dtype, "device": self.device}
        if frequencies is None:
            T = self._times[-1] - self._times[0]
            r = randomize * (torch.rand(shape, generator=generator, **options) - 0.5)
            omega = 2 * math.pi * (torch.arange(1, J + 1, **options) + r) / T
        elif randomize:
            raise ValueError(
                "Argument `randomize` applies to the default frequencies only; give 0 with `frequencies`."
            )
        else:
            omega = _broadcast(_real(frequencies, "frequencies", **options), shape, "frequencies")
        if learn_frequencies:
            self.frequencies = torch.nn.Parameter(omega.clone())
        else:
            self.register_buffer("frequencies", omega.clone())
        a, b = amplitude * (2 * torch.rand((2, *shape), generator=generator, **options) - 1)
        self.a, self.b = torch.nn.Parameter(a), torch.nn.Parameter(b)
        self.c = torch.nn.Parameter(torch.zeros((*shape[:-1], 1), **options)) if offset else None
        self.envelope = envelope

    def forward(self) -> torch.Tensor:
        """Return the series at the slice midpoints, shape `(*batch_shape, ncontrols, N)`."""
        return self._evaluate(self.midpoints)

    def _evaluate(self, t: torch.Tensor) -> torch.Tensor:
        phase = self.frequencies[..., None] * (t - self._times[0])  # (*b, K, J, M)
        s = (self.a[..., None] * phase.sin() + self.b[..., None] * phase.cos()).sum(-2)
        u = self._box(s if self.c is None else s + self.c)
        return u if self.envelope is None else u * self.envelope(t)


class Spline(Pulse):
    r"""Natural cubic spline through learnable knot values, sampled at the slice midpoints.

    `nknots` knots are equally spaced on $[t_0, t_N]$ (the first and last at the ends).
    The spline is the natural one: $C^2$, cubic between knots, zero second derivative at
    both ends (it reproduces straight lines exactly). With bounds, the spline $s_k(t)$
    of the raw knot parameters $\theta_k$ is mapped as in `PWC`,
    $u_k(t) = m + h\sin s_k(t)$, so the bounds hold everywhere, not only at the knots;
    $u$ at the knots equals `init`.

    Args:
        times: Slice boundaries, shape `(N + 1,)`.
        ncontrols: Number of controls $K$.
        nknots: Number of knots, at least 2.
        init: Initial knot values, broadcastable to `(*batch_shape, ncontrols, nknots)`,
            within the bounds; None gives $\theta = 0$ (zero or the middle of the bounds).
        bounds: As for `PWC`.
        batch_shape: Leading batch dimensions.
        dtype: Real (or complex) dtype; default from the global precision.
        device: Device; default from `qd.set_device`.

    Attributes:
        theta: Raw knot parameters, `nn.Parameter` `(*batch_shape, ncontrols, nknots)`.
        knots: Knot times, `(nknots,)`.

    Examples:
        >>> import torch
        >>> from dynamics.control.pulses import Spline
        >>> pulse = Spline(torch.linspace(0, 1, 5), 1, 3, init=[[0.0, 1.0, 2.0]])
        >>> pulse().detach()  # a straight line, sampled at the midpoints
        tensor([[0.2500, 0.7500, 1.2500, 1.7500]], dtype=torch.float64)
    """

    def __init__(
        self,
        times: QArrayLike,
        ncontrols: int,
        nknots: int,
        *,
        init: QArrayLike | None = None,
        bounds: Bounds = None,
        batch_shape: int | Sequence[int] = (),
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ):
        super().__init__(times, ncontrols, batch_shape, dtype=dtype, device=device)
        P = _positive_int(nknots, "nknots", minimum=2)
        self._box = _Box(bounds, self.ncontrols, self.dtype, self.device)
        self.register_buffer(
            "knots",
            torch.linspace(
                self._times[0], self._times[-1], P, dtype=self.dtype, device=self.device
            ),
        )
        self.register_buffer("_basis", _spline_basis(self.knots, self.midpoints))
        shape = (*self.batch_shape, self.ncontrols, P)
        if init is None:
            theta = torch.zeros(shape, dtype=self.dtype, device=self.device)
        else:
            u = _broadcast(_real(init, "init", self.dtype, self.device), shape, "init")
            theta = self._box.inverse(u, "init")
        self.theta = torch.nn.Parameter(theta)

    def forward(self) -> torch.Tensor:
        """Return the spline at the slice midpoints, shape `(*batch_shape, ncontrols, N)`."""
        return self._box(self.theta @ self._basis)

    def _evaluate(self, t: torch.Tensor) -> torch.Tensor:
        return self._box(self.theta @ _spline_basis(self.knots, t))


def _spline_basis(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Weights `W` `(P, M)` with `s(t) = y @ W` the natural cubic spline through `(x, y)`."""
    P, h = x.shape[0], x.diff()
    # second derivatives m = S y: interior rows of the tridiagonal system, m_0 = m_{P-1} = 0
    A = torch.eye(P, dtype=x.dtype, device=x.device)
    B = torch.zeros_like(A)
    i = torch.arange(1, P - 1, device=x.device)
    A[i, i - 1], A[i, i], A[i, i + 1] = h[:-1], 2 * (h[:-1] + h[1:]), h[1:]
    B[i, i - 1], B[i, i], B[i, i + 1] = 6 / h[:-1], -6 / h[:-1] - 6 / h[1:], 6 / h[1:]
    S = torch.linalg.solve(A, B)  # (P, P)
    k = (torch.searchsorted(x, t, right=True) - 1).clamp(0, P - 2)  # interval of each t
    hk = h[k]
    a = (x[k + 1] - t) / hk
    b = 1 - a
    Ek = F.one_hot(k, P).to(x.dtype).T  # (P, M)
    Ek1 = F.one_hot(k + 1, P).to(x.dtype).T
    return Ek * a + Ek1 * b + (S[k].T * (a**3 - a) + S[k + 1].T * (b**3 - b)) * hk**2 / 6


# ----------------------------------------------------------------------------- analytic shapes


class Gaussian(Pulse):
    r"""Truncated Gaussian on one control, zero at both ends of the grid.

    $$
        \Omega(t) = A\,\frac{g(t) - \ell(t)}{1 - \ell(t_c)},
        \qquad g(t) = e^{-(t - t_c)^2 / 2\sigma^2},
    $$

    where $\ell$ is the straight line through $(t_0, g(t_0))$ and $(t_N, g(t_N))$: the
    edge values are subtracted so that $\Omega(t_0) = \Omega(t_N) = 0$ for any centre,
    and $\Omega(t_c) = A$ (for a centred pulse $\ell$ is the constant edge value, the
    usual truncated Gaussian). Sampled at the slice midpoints; `values_at` is exact.

    Args:
        times: Slice boundaries, shape `(N + 1,)`.
        amplitude: Peak amplitude $A$, a scalar or broadcastable to `batch_shape`.
        center: Centre $t_c$ in $(t_0, t_N)$ (default: the middle of the grid).
        sigma: Width $\sigma > 0$ (default: $T/4$).
        learn: Names of the learnable parameters among `'amplitude'`, `'center'`, `'sigma'`.
        batch_shape: Leading batch dimensions.
        dtype: Real (or complex) dtype; default from the global precision.
        device: Device; default from `qd.set_device`.

    Attributes:
        amplitude, center, sigma: Tensors of shape `batch_shape` (`nn.Parameter` if learnt).

    Examples:
        >>> import torch
        >>> from dynamics.control.pulses import Gaussian
        >>> pulse = Gaussian(torch.linspace(0, 4, 41), amplitude=2.0, sigma=1.0)
        >>> pulse.values_at(2.0).item(), pulse.values_at(0.0).item()  # peak A, zero at the edge
        (2.0, 0.0)
    """

    def __init__(
        self,
        times: QArrayLike,
        *,
        amplitude: float | QArrayLike,
        center: float | QArrayLike | None = None,
        sigma: float | QArrayLike | None = None,
        learn: Sequence[str] = ("amplitude",),
        batch_shape: int | Sequence[int] = (),
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ):
        super().__init__(times, 1, batch_shape, dtype=dtype, device=device)
        _shape_parameters(self, {"amplitude": amplitude, "center": center, "sigma": sigma}, learn)

    def forward(self) -> torch.Tensor:
        r"""Return $\Omega$ at the slice midpoints, shape `(*batch_shape, 1, N)`."""
        return self._evaluate(self.midpoints)

    def _evaluate(self, t: torch.Tensor) -> torch.Tensor:
        return _gaussian(self, t)[0].unsqueeze(-2)


class DRAG(Pulse):
    r"""DRAG pulse: a truncated Gaussian on x and its scaled derivative on y.

    $$
        u_x(t) = \Omega(t), \qquad u_y(t) = \beta\, \dot\Omega(t),
    $$

    with $\Omega$ the truncated Gaussian of `Gaussian` (its derivative includes the
    subtracted line). $\beta$ absorbs the anharmonicity $\alpha$ and the sign
    convention: first-order DRAG of Motzoi et al., PRL 103, 110501 (2009) is
    $\beta = -1/\alpha$ (angular units). Controls are ordered `(x, y)`.

    Args:
        times: Slice boundaries, shape `(N + 1,)`.
        amplitude: Peak amplitude $A$ of $u_x$, a scalar or broadcastable to `batch_shape`.
        beta: DRAG coefficient $\beta$.
        center: Centre $t_c$ in $(t_0, t_N)$ (default: the middle of the grid).
        sigma: Width $\sigma > 0$ (default: $T/4$).
        learn: Learnable parameters among `'amplitude'`, `'beta'`, `'center'`, `'sigma'`.
        batch_shape: Leading batch dimensions.
        dtype: Real (or complex) dtype; default from the global precision.
        device: Device; default from `qd.set_device`.

    Attributes:
        amplitude, beta, center, sigma: Tensors of shape `batch_shape` (`nn.Parameter` if learnt).

    Examples:
        >>> import torch
        >>> from dynamics.control.pulses import DRAG
        >>> pulse = DRAG(torch.linspace(0, 20, 41), amplitude=0.3, beta=-0.5, sigma=5.0)
        >>> pulse().shape, pulse.values_at(10.0)[1].item()  # the derivative vanishes at the peak
        (torch.Size([2, 40]), 0.0)
    """

    def __init__(
        self,
        times: QArrayLike,
        *,
        amplitude: float | QArrayLike,
        beta: float | QArrayLike = 0.0,
        center: float | QArrayLike | None = None,
        sigma: float | QArrayLike | None = None,
        learn: Sequence[str] = ("amplitude", "beta"),
        batch_shape: int | Sequence[int] = (),
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ):
        super().__init__(times, 2, batch_shape, dtype=dtype, device=device)
        values = {"amplitude": amplitude, "center": center, "sigma": sigma, "beta": beta}
        _shape_parameters(self, values, learn)

    def forward(self) -> torch.Tensor:
        r"""Return $(\Omega, \beta\dot\Omega)$ at the midpoints, shape `(*batch_shape, 2, N)`."""
        return self._evaluate(self.midpoints)

    def _evaluate(self, t: torch.Tensor) -> torch.Tensor:
        omega, domega = _gaussian(self, t)
        return torch.stack([omega, self.beta[..., None] * domega], dim=-2)


def _gaussian(pulse: Gaussian | DRAG, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The truncated Gaussian and its time derivative at `t` `(M,)`, each `(*batch, M)`."""
    A, tc, s = (x[..., None] for x in (pulse.amplitude, pulse.center, pulse.sigma))
    t0, tN = pulse.times[0], pulse.times[-1]

    def g(x):
        return torch.exp(-((x - tc) ** 2) / (2 * s**2))

    g0, gN = g(t0), g(tN)
    slope = (gN - g0) / (tN - t0)
    norm = A / (1 - g0 - slope * (tc - t0))
    gt = g(t)
    return norm * (gt - g0 - slope * (t - t0)), norm * (-(t - tc) / s**2 * gt - slope)


def _shape_parameters(pulse: Pulse, values: dict, learn: Sequence[str]) -> None:
    """Register the shape parameters of `pulse`: `nn.Parameter` if in `learn`, else buffer."""
    if isinstance(learn, str) or not set(learn) <= set(values):
        raise ValueError(
            f"Argument `learn` must be a sequence of names among {tuple(values)}, but is {learn!r}."
        )
    t0, tN = float(pulse.times[0]), float(pulse.times[-1])
    defaults = {"center": (t0 + tN) / 2, "sigma": (tN - t0) / 4}
    for name, value in values.items():
        value = defaults[name] if value is None else value
        x = _broadcast(_real(value, name, pulse.dtype, pulse.device), pulse.batch_shape, name)
        if name == "sigma" and not bool((x > 0).all()):
            raise ValueError(f"Argument `sigma` must be positive, but is {x.tolist()}.")
        if name == "center" and not bool(((x > t0) & (x < tN)).all()):
            raise ValueError(
                f"Argument `center` must lie in ({t0:g}, {tN:g}), but is {x.tolist()}."
            )
        if name in learn:
            setattr(pulse, name, torch.nn.Parameter(x.clone()))
        else:
            pulse.register_buffer(name, x.clone())


# ----------------------------------------------------------------------------- wrappers


class Filtered(Pulse):
    r"""Another pulse convolved with a kernel along the slice axis (transfer function).

    $$
        \tilde u_{k,j} = \sum_{i=0}^{L-1} \kappa_i\, u_{k,\, j - i + c},
    $$

    with zero amplitudes outside the grid, $c = \lfloor (L-1)/2 \rfloor$ for
    `mode='centered'` and $c = 0$ for `mode='causal'` (the output at slice $j$ depends
    on slices $\le j$ only: a response that lags). A normalised non-negative kernel
    ($\kappa_i \ge 0$, $\sum_i \kappa_i = 1$) gives convex combinations of the inner
    values and zero, so the filtered pulse stays within $[\min(a, 0), \max(b, 0)]$ for
    inner bounds $[a, b]$ (within the bounds when $a \le 0 \le b$).

    Args:
        pulse: The pulse to filter.
        kernel: Real 1-D kernel $\kappa$ of length $L \ge 1$, in slices (e.g. `gaussian_kernel`).
        mode: `'centered'` or `'causal'`.

    Attributes:
        pulse: The inner pulse (its parameters are this module's parameters).
        kernel: The kernel, shape `(L,)`.

    Examples:
        >>> import torch
        >>> from dynamics.control.pulses import PWC, Filtered, gaussian_kernel
        >>> inner = PWC(torch.linspace(0, 1, 21), 2, bounds=(-1.0, 1.0))
        >>> Filtered(inner, gaussian_kernel(2.0))().shape
        torch.Size([2, 20])
    """

    def __init__(self, pulse: Pulse, kernel: QArrayLike, *, mode: str = "centered"):
        if not isinstance(pulse, Pulse):
            raise TypeError(
                f"Argument `pulse` must be a Pulse, but is of type {type(pulse).__name__}."
            )
        super().__init__(
            pulse.times, pulse.ncontrols, pulse.batch_shape, dtype=pulse.dtype, device=pulse.device
        )
        kernel = _real(kernel, "kernel", self.dtype, self.device)
        if kernel.ndim != 1 or kernel.shape[0] == 0:
            raise ValueError(
                f"Argument `kernel` must be 1-D and non-empty, but has shape {tuple(kernel.shape)}."
            )
        if mode not in ("centered", "causal"):
            raise ValueError(f"Argument `mode` must be 'centered' or 'causal', but is {mode!r}.")
        self.pulse = pulse
        self.register_buffer("kernel", kernel.detach().clone())
        self.mode = mode

    def forward(self) -> torch.Tensor:
        """Return the filtered amplitudes, shape `(*batch_shape, ncontrols, N)`."""
        u = self.pulse()
        L = self.kernel.shape[0]
        c = (L - 1) // 2 if self.mode == "centered" else 0
        x = F.pad(u.reshape(-1, 1, u.shape[-1]), (L - 1 - c, c))  # (b·K, 1, N + L - 1)
        return F.conv1d(x, self.kernel.flip(0).view(1, 1, L)).reshape(u.shape)


class Ramped(Pulse):
    r"""Another pulse multiplied by sin² rise and fall ramps, so it starts and ends at zero.

    $$
        \tilde u(t) = e(t)\, u(t), \qquad
        e(t) = \sin^2\Big(\frac{\pi}{2} \min\big(1, \tfrac{t - t_0}{\tau}, \tfrac{t_N - t}{\tau}\big)\Big),
    $$

    with rise time $\tau$. The slice amplitudes use $e$ at the slice midpoints;
    `values_at` is zero at $t_0$ and $t_N$. As $0 \le e \le 1$, bounds $[a, b]$ of the
    inner pulse still hold when $a \le 0 \le b$ (otherwise values lie in
    $[\min(a, 0), \max(b, 0)]$).

    Args:
        pulse: The pulse to ramp.
        rise: Rise (and fall) time $\tau$, in $(0, T/2]$.

    Attributes:
        pulse: The inner pulse (its parameters are this module's parameters).
        rise: The rise time.

    Examples:
        >>> import torch
        >>> from dynamics.control.pulses import PWC, Ramped
        >>> pulse = Ramped(PWC(torch.linspace(0, 1, 11), 1, init=torch.ones(1, 10)), rise=0.2)
        >>> pulse.values_at(torch.tensor([0.0, 0.1, 0.5, 1.0])).detach()
        tensor([[0.0000, 0.5000, 1.0000, 0.0000]], dtype=torch.float64)
    """

    def __init__(self, pulse: Pulse, rise: float):
        if not isinstance(pulse, Pulse):
            raise TypeError(
                f"Argument `pulse` must be a Pulse, but is of type {type(pulse).__name__}."
            )
        super().__init__(
            pulse.times, pulse.ncontrols, pulse.batch_shape, dtype=pulse.dtype, device=pulse.device
        )
        T = float(self._times[-1] - self._times[0])
        if not isinstance(rise, numbers.Real) or not 0 < rise <= T / 2:
            raise ValueError(
                f"Argument `rise` must be in (0, T/2] = (0, {T / 2:g}], but is {rise!r}."
            )
        self.pulse = pulse
        self.rise = float(rise)

    def envelope(self, t: float | torch.Tensor) -> torch.Tensor:
        """Return the ramp envelope $e(t)$ at times `t` (any shape), values in `[0, 1]`.

        Examples:
            >>> import torch
            >>> from dynamics.control.pulses import PWC, Ramped
            >>> Ramped(PWC([0.0, 1.0, 2.0], 1), rise=1.0).envelope(torch.tensor([0.0, 0.5, 1.0]))
            tensor([0.0000, 0.5000, 1.0000], dtype=torch.float64)
        """
        t = torch.as_tensor(t, dtype=self.dtype, device=self.device)
        x = torch.minimum(t - self._times[0], self._times[-1] - t) / self.rise
        return torch.sin(math.pi / 2 * x.clamp(0, 1)) ** 2

    def forward(self) -> torch.Tensor:
        """Return the ramped amplitudes, shape `(*batch_shape, ncontrols, N)`."""
        return self.pulse() * self.envelope(self.midpoints)

    def _evaluate(self, t: torch.Tensor) -> torch.Tensor:
        return self.pulse._evaluate(t) * self.envelope(t)


def gaussian_kernel(
    sigma: float,
    *,
    truncate: float = 4.0,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    r"""Normalised Gaussian kernel $\kappa_i \propto e^{-i^2/2\sigma^2}$ for $|i| \le \lceil r\sigma \rceil$.

    Here $r$ is `truncate`; pass the kernel to `Filtered`.

    Args:
        sigma: Width $\sigma > 0$, in slices.
        truncate: Half-width of the kernel in units of $\sigma$.
        dtype: Real (or complex) dtype; default from the global precision.
        device: Device; default from `qd.set_device`.

    Returns:
        Real tensor of odd length $2\lceil \text{truncate}\,\sigma\rceil + 1$ summing to 1.

    Raises:
        ValueError: If `sigma` or `truncate` is not positive.

    Examples:
        >>> from dynamics.control.pulses import gaussian_kernel
        >>> k = gaussian_kernel(1.0)
        >>> k.shape, round(k.sum().item(), 12)
        (torch.Size([9]), 1.0)
    """
    if not isinstance(sigma, numbers.Real) or not sigma > 0:
        raise ValueError(f"Argument `sigma` must be positive, but is {sigma!r}.")
    if not isinstance(truncate, numbers.Real) or not truncate > 0:
        raise ValueError(f"Argument `truncate` must be positive, but is {truncate!r}.")
    r = math.ceil(truncate * sigma)
    x = torch.arange(-r, r + 1, dtype=get_rdtype(dtype), device=get_device(device))
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


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
