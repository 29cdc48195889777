"""The Lindblad master equation solve function."""

from __future__ import annotations

from solvers import AbstractGradient, AbstractMethod

from ._checks import to_dm
from ._convert import QArrayLike
from ._solve import (
    batch_of,
    check_common,
    collect_params,
    expect_fn,
    run,
    to_exp_ops,
    to_jump_ops,
    to_tsave,
)
from .equations import Lindblad, dm_codec
from .options import Options
from .result import Result
from .time_operators import TimeOperator, as_time_operator

__all__ = ["mesolve"]


def mesolve(
    H: QArrayLike | TimeOperator,
    jump_ops: list,
    rho0: QArrayLike,
    tsave: QArrayLike,
    *,
    exp_ops: QArrayLike | list | None = None,
    method: AbstractMethod | None = None,
    gradient: AbstractGradient | None = None,
    options: Options | None = None,
) -> Result:
    r"""Solve the Lindblad master equation.

    $$
    \frac{d\rho}{dt} = -i[H(t), \rho]
        + \sum_k L_k(t) \rho L_k^\dagger(t) - \frac12 \{L_k^\dagger(t) L_k(t), \rho\}
    $$

    Batching follows torch broadcasting over the batch dimensions of `H`, of each
    jump operator and of `rho0`; the batch is integrated in one call.

    Args:
        H: Hamiltonian, shape `(..., n, n)`: a tensor-like (constant) or a
            time-dependent operator.
        jump_ops: List of jump operators `L_k`, each `(..., n, n)`, constant or
            time-dependent (may be empty).
        rho0: Initial density matrix `(..., n, n)`, or a ket `(..., n, 1)` (converted
            to `|ψ⟩⟨ψ|`).
        tsave: Strictly increasing save times, shape `(ntsave,)`.
        exp_ops: Operators whose expectation values are saved: a list of `(n, n)`
            tensor-likes or a tensor `(nexp, n, n)`.
        method: Integration method (default `qd.method.Tsit5()`): a generic method,
            `Expm`, `Rouchon1` or `Rouchon2`.
        gradient: Gradient mode (default: plain autograd when inputs require grad).
        options: `qd.Options` (`save_states`, `progress`, `t0`).

    Returns:
        A `Result` with `states` `(..., ntsave, n, n)`, `expects` `(..., nexp, ntsave)`.

    Raises:
        ValueError: For shapes that do not fit, non-finite values or a bad `tsave`.
        TypeError: For arguments of the wrong type.

    Examples:
        >>> import torch, dynamics as qd
        >>> a = qd.destroy(8)
        >>> res = qd.mesolve(0 * a, [a], qd.coherent(8, 1.0), torch.tensor([0.0, 1.0]),
        ...                  exp_ops=[qd.number(8)])
        >>> round(res.expects[0, -1].real.item(), 4)  # |α|² e^{-t}
        0.3679
    """
    method, options = check_common(method, gradient, options)
    H = as_time_operator(H, "H")
    n = H.shape[-1]
    Ls = to_jump_ops(jump_ops, H)
    rho0 = to_dm(rho0, "rho0", n).to(dtype=H.dtype, device=H.device)
    E = to_exp_ops(exp_ops, n)
    E = None if E is None else E.to(dtype=H.dtype, device=H.device)
    tsave = to_tsave(tsave, H.dtype)
    batch = batch_of(H, Ls, E, rho0=rho0)
    y0, decode = dm_codec(method.term_kind, rho0.expand(*batch, n, n))
    return run(
        Lindblad(H, Ls, "mesolve", hermitian=True),
        y0,
        tsave,
        method=method,
        gradient=gradient,
        options=options,
        decode=decode,
        expect=None if E is None else expect_fn(E, ket=False),
        params=collect_params(H, Ls, rho0, E, tsave),
    )
