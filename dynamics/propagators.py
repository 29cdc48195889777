"""Propagators of the Schrödinger and Lindblad equations."""

from __future__ import annotations

import torch

from solvers import AbstractGradient, AbstractMethod

from ._convert import QArrayLike
from ._solve import batch_of, check_common, collect_params, run, to_jump_ops, to_tsave
from .equations import Lindblad, Schrodinger, superop_codec
from .options import Options
from .result import PropagatorResult
from .time_operators import TimeOperator, as_time_operator

__all__ = ["mepropagator", "sepropagator"]


def sepropagator(
    H: QArrayLike | TimeOperator,
    tsave: QArrayLike,
    *,
    method: AbstractMethod | None = None,
    gradient: AbstractGradient | None = None,
    options: Options | None = None,
) -> PropagatorResult:
    r"""Compute the propagator $U(t)$ of the Schrödinger equation, $\dot U = -iH(t)U$, $U(t_0) = I$.

    Args:
        H: Hamiltonian `(..., n, n)`, constant or time-dependent.
        tsave: Strictly increasing save times, shape `(ntsave,)`.
        method: Integration method (default `qd.method.Tsit5()`); `qd.method.Expm()` is
            exact for constant and piecewise-constant Hamiltonians.
        gradient: Gradient mode (default: plain autograd when inputs require grad).
        options: `qd.Options` (`save_states`, `progress`, `t0`).

    Returns:
        A `PropagatorResult` with `propagators` `(..., ntsave, n, n)`.

    Examples:
        >>> import torch, dynamics as qd
        >>> res = qd.sepropagator(qd.sigmax() * torch.pi / 2, [0.0, 1.0], method=qd.method.Expm())
        >>> U = res.final_propagator  # exp(-i π σx / 2) = -i σx
        >>> torch.allclose(U, -1j * qd.sigmax())
        True
    """
    method, options = check_common(method, gradient, options)
    H = as_time_operator(H, "H")
    n = H.shape[-1]
    tsave = to_tsave(tsave, H.dtype)
    y0 = torch.eye(n, dtype=H.dtype, device=H.device).expand(*H.shape[:-2], n, n)
    return run(
        Schrodinger(H, "sepropagator"),
        y0,
        tsave,
        method=method,
        gradient=gradient,
        options=options,
        expect=None,
        params=collect_params(H, tsave),
        result_cls=PropagatorResult,
    )


def mepropagator(
    H: QArrayLike | TimeOperator,
    jump_ops: list,
    tsave: QArrayLike,
    *,
    method: AbstractMethod | None = None,
    gradient: AbstractGradient | None = None,
    options: Options | None = None,
) -> PropagatorResult:
    r"""Compute the superoperator propagator $\mathcal{E}(t)$ of the Lindblad equation.

    $\mathrm{vec}(\rho(t)) = \mathcal{E}(t)\,\mathrm{vec}(\rho(t_0))$ with column
    stacking, QuTiP's convention (`qutip.operator_to_vector`).

    Args:
        H: Hamiltonian `(..., n, n)`, constant or time-dependent.
        jump_ops: List of jump operators, each `(..., n, n)`, constant or time-dependent.
        tsave: Strictly increasing save times, shape `(ntsave,)`.
        method: Integration method (default `qd.method.Tsit5()`): a generic method,
            `Expm` (exponential of the `n² × n²` Lindbladian), `Rouchon1`, `Rouchon2`.
        gradient: Gradient mode (default: plain autograd when inputs require grad).
        options: `qd.Options` (`save_states`, `progress`, `t0`).

    Returns:
        A `PropagatorResult` with `propagators` `(..., ntsave, n², n²)`.

    Examples:
        >>> import torch, dynamics as qd
        >>> res = qd.mepropagator(qd.sigmaz(), [qd.sigmam()], [0.0, 1.0])
        >>> res.final_propagator.shape
        torch.Size([4, 4])
    """
    method, options = check_common(method, gradient, options)
    H = as_time_operator(H, "H")
    n = H.shape[-1]
    Ls = to_jump_ops(jump_ops, H)
    tsave = to_tsave(tsave, H.dtype)
    batch = batch_of(H, Ls)
    eye = torch.eye(1, dtype=H.dtype, device=H.device)
    y0, decode = superop_codec(method.term_kind, batch, n, eye)
    return run(
        Lindblad(H, Ls, "mepropagator", hermitian=False),
        y0,
        tsave,
        method=method,
        gradient=gradient,
        options=options,
        decode=decode,
        expect=None,
        params=collect_params(H, Ls, tsave),
        result_cls=PropagatorResult,
    )
