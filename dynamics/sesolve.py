"""The Schrödinger equation solve function."""

from __future__ import annotations

from solvers import AbstractGradient, AbstractMethod

from ._checks import to_ket
from ._config import get_layout
from ._convert import QArrayLike
from ._solve import batch_of, check_common, collect_params, expect_fn, run, to_exp_ops, to_tsave
from .equations import Schrodinger
from .options import Options
from .result import Result
from .time_operators import TimeOperator, as_time_operator

__all__ = ["sesolve"]


def sesolve(
    H: QArrayLike | TimeOperator,
    psi0: QArrayLike,
    tsave: QArrayLike,
    *,
    exp_ops: QArrayLike | list | None = None,
    method: AbstractMethod | None = None,
    gradient: AbstractGradient | None = None,
    options: Options | None = None,
) -> Result:
    r"""Solve the Schrödinger equation $\frac{d}{dt}|\psi(t)\rangle = -i H(t)|\psi(t)\rangle$.

    Batching follows torch broadcasting: the batch dimensions of `H` (including those
    of pulse values) and of `psi0` broadcast together, and the whole batch is
    integrated in one call.

    Args:
        H: Hamiltonian, shape `(..., n, n)`: a tensor-like (constant) or a
            time-dependent operator (`qd.constant`, `qd.pwc`, `qd.modulated`,
            `qd.timecallable` and their sums).
        psi0: Initial ket, shape `(..., n, 1)`.
        tsave: Strictly increasing save times, shape `(ntsave,)`.
        exp_ops: Operators whose expectation values are saved: a list of `(n, n)`
            tensor-likes or a tensor `(nexp, n, n)`.
        method: Integration method (default `qd.method.Tsit5()`); any generic method
            or `Expm`.
        gradient: Gradient mode (default: plain autograd when inputs require grad).
        options: `qd.Options` (`save_states`, `progress`, `t0`).

    Returns:
        A `Result` with `states` `(..., ntsave, n, 1)`, `expects` `(..., nexp, ntsave)`.

    Raises:
        ValueError: For shapes that do not fit, non-finite values, a bad `tsave` or a
            method that does not apply.
        TypeError: For arguments of the wrong type.

    Examples:
        >>> import torch, dynamics as qd
        >>> tsave = torch.linspace(0, torch.pi, 3)
        >>> res = qd.sesolve(qd.sigmax() / 2, qd.basis(2, 0), tsave, exp_ops=[qd.sigmaz()])
        >>> [round(x, 4) + 0.0 for x in res.expects[0].real.tolist()]  # ⟨σz⟩ = cos t
        [1.0, 0.0, -1.0]
    """
    method, options = check_common(method, gradient, options)
    H = as_time_operator(H, "H")
    n = H.shape[-1]
    psi0 = to_ket(psi0, "psi0", n).to(dtype=H.dtype, device=H.device)
    E = to_exp_ops(exp_ops, n)
    E = None if E is None else E.to(dtype=H.dtype, device=H.device)
    tsave = to_tsave(tsave, H.dtype)
    batch = batch_of(H, (), E, psi0=psi0)
    y0 = psi0.expand(*batch, n, 1)
    return run(
        Schrodinger(H, "sesolve"),
        y0,
        tsave,
        method=method,
        gradient=gradient,
        options=options,
        expect=None if E is None else expect_fn(E, ket=True, layout=get_layout(options.layout)),
        params=collect_params(H, psi0, E, tsave),
    )
