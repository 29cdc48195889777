"""Analytic pulse shapes with a few learnable parameters: truncated Gaussian and DRAG."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..._convert import QArrayLike
from ._base import Pulse, _broadcast, _real


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
