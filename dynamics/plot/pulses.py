"""Piecewise-constant control pulses as step curves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes

from .._convert import QArrayLike
from ._inputs import labels_for, new_axes, to_array

__all__ = ["plot_pulses"]


def plot_pulses(
    times: QArrayLike,
    values: QArrayLike,
    ax: Axes | None = None,
    labels: Sequence[str] | None = None,
) -> Axes:
    r"""Plot piecewise-constant pulses: control $j$ equals `values[j, k]` on $[t_k, t_{k+1})$.

    This is the convention of `qd.pwc(times, values, O)`. Complex values are drawn
    as two curves, real and imaginary parts (labelled `Re ...` and `Im ...`).

    Args:
        times: Strictly increasing times $t_0, \dots, t_N$, shape `(N + 1,)`.
        values: Pulse values of shape `(ncontrols, N)`, or `(N,)` for one control; a
            tensor that requires grad is detached.
        ax: Axes to draw on (default: a new figure).
        labels: One legend label per control (a legend is added when given).

    Returns:
        The axes, holding one step patch (`matplotlib.patches.StepPatch` in
        `ax.patches`) per control (two per complex control).

    Raises:
        ValueError: If `values` is batched, the shapes of `times` and `values` do not
            match, `times` is not strictly increasing, an input is not finite, or
            `labels` does not have one entry per control.
        TypeError: If `ax` is not matplotlib axes.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import torch
        >>> from dynamics.plot import plot_pulses
        >>> times = torch.linspace(0.0, 1.0, 11)
        >>> values = torch.stack([torch.sin(torch.pi * times[:-1]), torch.ones(10)])
        >>> ax = plot_pulses(times, values, labels=["x", "y"])
        >>> len(ax.patches)
        2
    """
    times = to_array(times, "times", max_ndim=1).real
    values = to_array(values, "values", max_ndim=2)
    values = values.reshape(1, -1) if values.ndim == 1 else values
    if times.ndim != 1 or values.shape[-1] != times.shape[0] - 1:
        raise ValueError(
            "Arguments `times` and `values` must have shapes (N + 1,) and (ncontrols, N), but "
            f"have shapes {times.shape} and {values.shape}."
        )
    if np.any(np.diff(times) <= 0):
        raise ValueError("Argument `times` must be strictly increasing.")
    names = labels_for(labels, values.shape[0])
    ax = new_axes(ax)
    complex_values = np.iscomplexobj(values) and np.any(values.imag != 0)
    for row, name in zip(values, names):
        if not complex_values:
            ax.stairs(row.real, times, baseline=None, label=name)
            continue
        re = ax.stairs(row.real, times, baseline=None, label=_part("Re", name))
        color = re.get_edgecolor()
        ax.stairs(row.imag, times, baseline=None, color=color, ls="--", label=_part("Im", name))
    ax.set_xlabel(r"time $t$")
    ax.set_ylabel("amplitude")
    if labels is not None:
        ax.legend()
    return ax


def _part(prefix: str, name: str | None) -> str | None:
    return None if name is None else f"{prefix} {name}"
