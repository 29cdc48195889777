"""Expectation values over time."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes

from .._convert import QArrayLike
from ._inputs import labels_for, new_axes, to_array

__all__ = ["plot_expects"]


def plot_expects(
    tsave: QArrayLike,
    expects: QArrayLike,
    ax: Axes | None = None,
    labels: Sequence[str] | None = None,
) -> Axes:
    r"""Plot the real parts of expectation values $\mathrm{Re}\,\langle O_i\rangle(t)$ against time.

    Takes `result.tsave` and `result.expects` of an unbatched `sesolve` or `mesolve`
    result directly.

    Args:
        tsave: Save times, shape `(ntsave,)`.
        expects: Expectation values of shape `(nexp, ntsave)`, or `(ntsave,)` for one
            operator; real or complex (the real part is drawn); a tensor that requires
            grad is detached.
        ax: Axes to draw on (default: a new figure).
        labels: One legend label per operator (a legend is added when given).

    Returns:
        The axes, holding one line (`ax.lines`) per operator.

    Raises:
        ValueError: If `expects` is batched, its last dimension does not match
            `tsave`, an input is not finite, or `labels` does not have one entry per
            operator.
        TypeError: If `ax` is not matplotlib axes.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import torch, dynamics as qd
        >>> from dynamics.plot import plot_expects
        >>> tsave = torch.linspace(0.0, 3.0, 31)
        >>> res = qd.sesolve(qd.sigmax() / 2, qd.basis(2, 0), tsave, exp_ops=[qd.sigmaz()])
        >>> ax = plot_expects(res.tsave, res.expects, labels=[r"$\sigma_z$"])
        >>> len(ax.lines)
        1
    """
    tsave = to_array(tsave, "tsave", max_ndim=1).real
    expects = to_array(expects, "expects", max_ndim=2)
    expects = expects.reshape(1, -1) if expects.ndim == 1 else expects
    if tsave.ndim != 1 or expects.shape[-1] != tsave.shape[0]:
        raise ValueError(
            "Arguments `tsave` and `expects` must have shapes (ntsave,) and (nexp, ntsave), "
            f"but have shapes {tsave.shape} and {expects.shape}."
        )
    names = labels_for(labels, expects.shape[0])
    ax = new_axes(ax)
    for row, name in zip(expects, names):
        ax.plot(tsave, row.real, label=name)
    ax.set_xlabel(r"time $t$")
    ax.set_ylabel("expectation value")
    if labels is not None:
        ax.legend()
    return ax
