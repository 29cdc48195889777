"""Free-form parametrisations: piecewise-constant (GRAPE), Fourier series (CRAB), cubic splines."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..._convert import QArrayLike
from ._base import Bounds, Pulse, _Box, _broadcast, _positive_int, _real


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
        self.theta = torch.nn.Parameter(self._box.initial(init, shape))

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
        self.theta = torch.nn.Parameter(self._box.initial(init, shape))

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
