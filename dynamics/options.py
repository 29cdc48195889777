"""Options of the solve functions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._config import check_layout

__all__ = ["Options"]


@dataclass(frozen=True, kw_only=True)
class Options:
    """Options shared by the solve functions.

    Args:
        save_states: Save the state at every time of `tsave` (otherwise only the
            expectation values and the final state are kept, which saves memory).
        progress: Show a tqdm progress bar of the integration.
        t0: Initial time; default the first save time `tsave[0]`.
        layout: How constant operators are stored in the right-hand side: `'auto'`,
            `'dense'` or `'banded'` (see `qd.set_layout`); default the global setting.

    Examples:
        >>> import dynamics as qd
        >>> qd.Options(save_states=False, progress=True)
        Options(save_states=False, progress=True, t0=None, layout=None)
    """

    save_states: bool = True
    progress: bool = False
    t0: float | None = None
    layout: str | None = None

    def __post_init__(self):
        if self.layout is not None:
            check_layout(self.layout)
        if isinstance(self.t0, torch.Tensor) and self.t0.numel() == 1 and not self.t0.is_complex():
            object.__setattr__(self, "t0", float(self.t0))
        for name in ("save_states", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(
                    f"Argument `{name}` of Options must be a bool, but is {getattr(self, name)!r}."
                )
        if self.t0 is not None and (
            isinstance(self.t0, bool)
            or not isinstance(self.t0, (int, float))
            or not math.isfinite(self.t0)
        ):
            raise ValueError(
                f"Argument `t0` of Options must be a finite number, but is {self.t0!r}."
            )
