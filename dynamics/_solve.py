"""The pipeline shared by the solve functions: check, build the term, integrate, shape the result."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from solvers import AbstractGradient, AbstractMethod, Direct, integrate
from solvers.methods import Tsit5

from ._banded import Banded
from ._checks import broadcast_batch, to_operator
from ._config import get_layout, get_rdtype
from .equations import banded_offsets
from .options import Options
from .result import Result
from .time_operators import TimeOperator, as_time_operator

__all__ = [
    "batch_of",
    "check_common",
    "collect_params",
    "run",
    "to_exp_ops",
    "to_jump_ops",
    "to_tsave",
]


def to_tsave(tsave, dtype: torch.dtype) -> torch.Tensor:
    """Convert `tsave` to a real tensor (keeping a tensor's autograd graph)."""
    if isinstance(tsave, torch.Tensor):
        if tsave.is_complex():
            raise TypeError("Argument `tsave` must be real, but is complex.")
        return tsave.to(get_rdtype(dtype))
    try:
        return torch.as_tensor(tsave, dtype=get_rdtype(dtype))
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"Argument `tsave` must be a 1-D array of times, but is {type(tsave).__name__}."
        ) from err


def to_jump_ops(jump_ops, H: TimeOperator) -> list[TimeOperator]:
    """Convert `jump_ops` (a list of operators or time-dependent operators) like `H`."""
    n = H.shape[-1]
    if isinstance(jump_ops, (torch.Tensor, TimeOperator)) or not isinstance(jump_ops, Sequence):
        raise TypeError(
            "Argument `jump_ops` must be a list of operators (e.g. `[a]`), but is "
            f"{type(jump_ops).__name__}."
        )
    ops = [as_time_operator(L, f"jump_ops[{k}]") for k, L in enumerate(jump_ops)]
    for k, L in enumerate(ops):
        if L.shape[-1] != n:
            raise ValueError(
                f"Argument `jump_ops[{k}]` must have Hilbert dimension {n} like `H`, but has "
                f"shape {tuple(L.shape)}."
            )
    return [L.to(dtype=H.dtype, device=H.device) for L in ops]


def batch_of(
    H: TimeOperator, jump_ops=(), exp_ops: torch.Tensor | None = None, **states: torch.Tensor
) -> torch.Size:
    """Broadcast batch shape of `H`, the jump operators and the states (named as arguments).

    The batch of `exp_ops` must broadcast with it too (it does not extend it).
    """
    shapes = {"H": H.shape[:-2], **{k: x.shape[:-2] for k, x in states.items()}}
    shapes.update({f"jump_ops[{k}]": L.shape[:-2] for k, L in enumerate(jump_ops)})
    batch = broadcast_batch(**shapes)
    if exp_ops is not None:
        broadcast_batch(batch=batch, exp_ops=exp_ops.shape[:-3])
    return batch


def to_exp_ops(exp_ops, n: int) -> torch.Tensor | None:
    """Convert `exp_ops` (a list of operators or a `(nexp, n, n)` tensor) to `(nexp, n, n)`."""
    if exp_ops is None:
        return None
    if isinstance(exp_ops, (list, tuple)):
        if len(exp_ops) == 0:
            return None
        ops = [to_operator(E, f"exp_ops[{k}]", n) for k, E in enumerate(exp_ops)]
        if len(ops) == 1:  # a view: no copy of a large operator (nor a new tensor to check)
            return ops[0].unsqueeze(-3)
        broadcast_batch(**{f"exp_ops[{k}]": E.shape[:-2] for k, E in enumerate(ops)})
        return torch.stack(torch.broadcast_tensors(*ops), dim=-3)
    E = to_operator(exp_ops, "exp_ops", n)
    return E if E.ndim >= 3 else E.unsqueeze(0)


def check_common(method, gradient, options) -> tuple[AbstractMethod, Options]:
    """Check `method`, `gradient` and `options`; return the method and options to use."""
    method = Tsit5() if method is None else method
    if not isinstance(method, AbstractMethod):
        raise TypeError(
            f"Argument `method` must be a method such as `qd.method.Tsit5()`, but is {method!r}."
        )
    if gradient is not None and not isinstance(gradient, AbstractGradient):
        raise TypeError(
            f"Argument `gradient` must be a gradient mode such as `qd.gradient.Direct()`, "
            f"but is {gradient!r}."
        )
    options = Options() if options is None else options
    if not isinstance(options, Options):
        raise TypeError(f"Argument `options` must be a `qd.Options`, but is {options!r}.")
    return method, options


def collect_params(*items) -> list[torch.Tensor]:
    """Every tensor among the operators, states and time-dependent operators given."""
    out = []
    for x in items:
        if isinstance(x, TimeOperator):
            out.extend(x.tensors())
        elif isinstance(x, torch.Tensor):
            out.append(x)
        elif isinstance(x, (list, tuple)):
            out.extend(collect_params(*x))
    return out


def expect_fn(
    E: torch.Tensor, ket: bool, layout: str = "dense"
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return `x ↦ ⟨E⟩_x` of shape `(..., nexp)` for kets or density matrices.

    For kets, `layout` (see `qd.set_layout`) may store `E` banded: `⟨ψ|E|ψ⟩` then costs
    O(ndiag · n) instead of O(n²), which dominates a large spin chain's solve; for
    diagonal `E` (a total σz, a number operator) it is `Σ_i E_ii |ψ_i|²`.
    """
    if ket:
        with torch.no_grad():
            offsets = banded_offsets(layout, [E])
        if offsets == [(0,)]:
            d = E.diagonal(dim1=-2, dim2=-1).mT  # (n, nexp)
            return lambda psi: (psi.conj() * psi).real[..., 0].to(d.dtype) @ d
        if offsets is not None:
            B = Banded.from_dense(E, offsets[0])
            return lambda psi: (psi.conj().unsqueeze(-3) * B.matmul(psi.unsqueeze(-3))).sum(
                (-1, -2)
            )
        return lambda psi: (psi.mH.unsqueeze(-3) @ (E @ psi.unsqueeze(-3)))[..., 0, 0]
    Et = E.mT
    return lambda rho: (Et * rho.unsqueeze(-3)).sum((-1, -2))


def run(
    equation,
    y0: torch.Tensor,
    tsave: torch.Tensor,
    *,
    method: AbstractMethod,
    gradient: AbstractGradient | None,
    options: Options,
    decode: Callable[[torch.Tensor], torch.Tensor] | None = None,
    expect: Callable[[torch.Tensor], torch.Tensor] | None,
    params: list[torch.Tensor],
    result_cls: type[Result] = Result,
) -> Result:
    """Integrate `equation` from the encoded state `y0` and build the result.

    `decode` maps the engine's state back to the physical one (default: as is).
    """
    stacked = decode is None  # the expectations broadcast over stacked states
    decode = decode if decode is not None else _as_is
    if method.term_kind not in equation.kinds:
        raise ValueError(
            f"Argument `method`: {type(method).__name__} does not apply to "
            f"`{equation.solver_name}`; use a generic method such as `qd.method.Tsit5()`."
        )
    layout = get_layout(options.layout)
    # The layout suits the steps that will run: compiled ones only when no graph is
    # recorded through the steps (`term` bands only constant operators for them).
    compiled = bool(getattr(method, "compile", False)) and not _records_graph(
        gradient, (y0, tsave, *params)
    )
    term = equation.term(method.term_kind, layout=layout, compiled=compiled)
    save_states = options.save_states

    def save(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = decode(y)
        out = (x,) if save_states else ()
        return (*out, expect(x)) if expect is not None else out

    sol = integrate(
        term,
        method,
        y0,
        tsave,
        t0=options.t0,
        discontinuities=equation.discontinuities,
        save=save,
        save_stacked=stacked,
        event_ndim=2,
        gradient=gradient,
        params=params,
        progress=options.progress,
    )
    ys = list(sol.ys)
    states = ys.pop(0).movedim(0, -3) if save_states and ys else None
    expects = ys.pop(0).movedim(0, -1) if expect is not None and ys else None
    return result_cls(
        tsave=tsave,
        states=states,
        expects=expects,
        final_state=decode(sol.y_final),
        infos=sol.stats,
        solver=equation.solver_name,
        method=method,
        gradient=gradient,
    )


def _records_graph(gradient: AbstractGradient | None, tensors: Sequence[torch.Tensor]) -> bool:
    """Whether autograd records the steps (`Direct` on inputs that require grad)."""
    recorded = gradient is None or isinstance(gradient, Direct)
    return recorded and torch.is_grad_enabled() and any(x.requires_grad for x in tensors)


def _as_is(y: torch.Tensor) -> torch.Tensor:
    return y
