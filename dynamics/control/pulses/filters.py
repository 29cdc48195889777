"""Wrappers that transform another pulse: convolution filters and rise/fall ramps."""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from ..._config import get_device, get_rdtype
from ..._convert import QArrayLike
from ._base import Pulse, _real


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
        _check_inner(pulse)
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
        _check_inner(pulse)
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


def _check_inner(pulse: object) -> None:
    """Raise if the wrapped `pulse` is not a `Pulse`."""
    if not isinstance(pulse, Pulse):
        raise TypeError(f"Argument `pulse` must be a Pulse, but is of type {type(pulse).__name__}.")


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
