"""The result of an integration."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["Solution"]


@dataclass(frozen=True)
class Solution:
    """What `integrate` returns.

    Attributes:
        ts: The save times, shape `(ntsave,)`.
        ys: The saved outputs: one tensor per output of the `save` function, each of
            shape `(ntsave, *output_shape)`.
        y_final: The state at the last save time.
        stats: Counters: `steps` (accepted), `rejected`, `nfev` (right-hand-side or
            step-map evaluations) and `wall_time` (seconds).

    Examples:
        >>> import torch
        >>> from solvers import ODETerm, Tsit5, integrate
        >>> term = ODETerm(lambda t, y: -y)
        >>> tsave = torch.linspace(0.0, 1.0, 5)
        >>> sol = integrate(term, Tsit5(), torch.ones(2), tsave, save=lambda y: (y, y.sum()))
        >>> [y.shape for y in sol.ys]  # one tensor per output of `save`, time first
        [torch.Size([5, 2]), torch.Size([5])]
        >>> sol.y_final
        tensor([0.3679, 0.3679])
        >>> sorted(sol.stats)
        ['nfev', 'rejected', 'steps', 'wall_time']
    """

    ts: torch.Tensor
    ys: tuple[torch.Tensor, ...]
    y_final: torch.Tensor
    stats: dict = field(default_factory=dict)
