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
    """

    ts: torch.Tensor
    ys: tuple[torch.Tensor, ...]
    y_final: torch.Tensor
    stats: dict = field(default_factory=dict)
