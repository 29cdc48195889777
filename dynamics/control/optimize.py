r"""The pulse-optimisation driver: `optimize`, its `OptimizeResult` and `History`, and `robust`.

`optimize` minimises $\sum_m (1 - F_m) + \sum_j w_j P_j$ over the parameters of any
`torch.nn.Module` with any `torch.optim` optimiser, one `optimizer.step` per iteration.
The members $m$ (multi-start) are a batch dimension of the fidelity: their gradients do
not mix, and the best member is returned.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import time
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

__all__ = ["History", "OptimizeResult", "optimize", "robust"]

Fidelity = Callable[[nn.Module], torch.Tensor]
OptimizerFactory = Callable[[list[torch.Tensor]], torch.optim.Optimizer]
_NAMED = ("lbfgs", "adam")
_RESERVED = ("infidelity", "total")
_INFIDELITIES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda F: 1 - F,
    "sqrt": lambda F: 1 - F.clamp(min=torch.finfo(F.dtype).tiny).sqrt(),
    "log": lambda F: -F.clamp(min=torch.finfo(F.dtype).tiny).log(),
}


def robust(
    F: torch.Tensor, dim: int = -1, mode: str = "mean", *, temperature: float | None = None
) -> torch.Tensor:
    r"""Reduce an ensemble axis of fidelities: the mean, or the worst case.

    `mode="worst"` takes the minimum, whose (sub)gradient flows to the worst member
    only; with a `temperature` $\tau$ it takes the soft minimum
    $-\tau \log\big(\frac1K \sum_k e^{-F_k/\tau}\big)$ instead, which lies between the
    minimum ($\tau \to 0$) and the mean ($\tau \to \infty$) and spreads the gradient
    over the nearly-worst members. The worst case is not smooth: from a random start
    it tends to stall on whichever member is worst; optimising the mean first and then
    the (soft) worst case from there works better.

    Args:
        F: Real fidelities with an ensemble axis, e.g. `(*starts, K)`.
        dim: The ensemble axis.
        mode: `"mean"` or `"worst"`.
        temperature: Soft-minimum temperature $\tau > 0$ (only with `mode="worst"`).

    Returns:
        `F` reduced over `dim`.

    Raises:
        TypeError: If `F` is not a real tensor.
        ValueError: If `mode` is unknown, `temperature` is not positive or given with
            `mode="mean"`, or `dim` is out of range.

    Examples:
        >>> import torch
        >>> from dynamics.control.optimize import robust
        >>> F = torch.tensor([[0.9, 0.99], [0.95, 0.96]])
        >>> robust(F, mode="worst")
        tensor([0.9000, 0.9500])
        >>> robust(F).round(decimals=3)
        tensor([0.9450, 0.9550])
    """
    if not isinstance(F, torch.Tensor) or F.is_complex() or not F.is_floating_point():
        raise TypeError(f"Argument `F` must be a real floating-point tensor, but is {_kind(F)}.")
    if mode not in ("mean", "worst"):
        raise ValueError(f"Argument `mode` must be 'mean' or 'worst', but is {mode!r}.")
    if not -F.ndim <= dim < max(F.ndim, 1):
        raise ValueError(
            f"Argument `dim` must index a dimension of `F` {tuple(F.shape)}, but is {dim}."
        )
    if temperature is not None:
        if mode != "worst" or not _is_real(temperature) or not temperature > 0:
            raise ValueError(
                f"Argument `temperature` must be a positive number used with mode='worst', but is "
                f"{temperature!r} with mode={mode!r}."
            )
        logn = math.log(F.shape[dim])
        return -temperature * (torch.logsumexp(-F / temperature, dim) - logn)
    return F.mean(dim) if mode == "mean" else F.amin(dim)


@dataclasses.dataclass(frozen=True, repr=False)
class History:
    r"""Per-iteration record of an optimisation; entry 0 is the initial guess.

    Every attribute has one entry per iteration plus one (the initial guess first).

    Attributes:
        fidelity: Best member's fidelity, `(niter + 1,)`.
        fidelities: Every member's fidelity, `(niter + 1, *starts)`.
        losses: Loss terms, name -> `(niter + 1,)`: `"infidelity"` ($\sum_m \ell(F_m)$),
            each penalty (weighted, summed over members) and `"total"`.
        grad_norm: Euclidean norm of the gradient of the total loss, `(niter + 1,)`.
        wall_s: Wall time of each iteration in seconds (entry 0: from the call to the
            evaluation of the initial guess), `(niter + 1,)`.
        evaluations: Cumulative count of loss-and-gradient evaluations, `(niter + 1,)`.

    Examples:
        >>> import numpy as np
        >>> from dynamics.control.optimize import History
        >>> h = History(np.array([0.5, 0.9]), np.array([0.5, 0.9]), {}, np.ones(2), np.ones(2), np.array([1, 3]))
        >>> len(h)
        2
    """

    fidelity: np.ndarray
    fidelities: np.ndarray
    losses: dict[str, np.ndarray]
    grad_norm: np.ndarray
    wall_s: np.ndarray
    evaluations: np.ndarray

    def __len__(self) -> int:
        return len(self.fidelity)

    def __repr__(self) -> str:
        return f"History({len(self)} entries, losses={list(self.losses)})"


@dataclasses.dataclass(frozen=True, repr=False)
class OptimizeResult:
    """Outcome of `optimize`.

    Attributes:
        pulse: The optimised module (the one passed in, updated in place).
        values: `pulse()` detached, best member selected (`None` if the module cannot be
            called without arguments).
        fidelity: Best member's final fidelity.
        fidelities: Every member's final fidelity, shape `(*starts,)`.
        best_index: Index of the best member in `(*starts,)` (`()` for a single start).
        iterations: Optimiser steps taken.
        evaluations: Loss-and-gradient evaluations (LBFGS line-search calls included).
        reason: `"target reached"`, `"max_iter"`, `"converged"` (gradient norm below
            `tol` or a step that left the parameters unchanged), `"callback"` or
            `"non-finite loss"`.
        history: The per-iteration `History`.
        wall_s: Wall time of the whole call in seconds.

    Examples:
        >>> import torch
        >>> from dynamics.control.optimize import optimize
        >>> x = torch.nn.Linear(1, 1, bias=False)
        >>> res = optimize(x, lambda m: torch.cos(m.weight).squeeze() ** 2, target=0.999, progress=False)
        >>> res.reason, res.fidelity > 0.999
        ('target reached', True)
    """

    pulse: nn.Module
    values: torch.Tensor | None
    fidelity: float
    fidelities: torch.Tensor
    best_index: tuple[int, ...]
    iterations: int
    evaluations: int
    reason: str
    history: History
    wall_s: float

    def __repr__(self) -> str:
        return (
            f"OptimizeResult(fidelity={self.fidelity:.10g}, reason={self.reason!r}, "
            f"iterations={self.iterations}, evaluations={self.evaluations}, "
            f"best_index={self.best_index}, nmembers={self.fidelities.numel()}, "
            f"wall_s={self.wall_s:.3g})"
        )

    def plot(self, axes=None):
        """Plot the best member's pulses and the history of the loss terms.

        Args:
            axes: Two matplotlib axes (default: a new figure with two panels).

        Returns:
            The two axes: pulses (step curves over `pulse.times` when the module has
            them, else over slice indices) and history (`1 - F` and each loss term,
            log scale).

        Examples:
            >>> import matplotlib
            >>> matplotlib.use("Agg")
            >>> import torch
            >>> from dynamics.control.optimize import optimize
            >>> x = torch.nn.Linear(1, 1, bias=False)
            >>> res = optimize(x, lambda m: torch.cos(m.weight).squeeze() ** 2, max_iter=2, progress=False)
            >>> ax_pulses, ax_history = res.plot()
        """
        from ..plot import plot_pulses

        if axes is None:
            import matplotlib.pyplot as plt  # late: pyplot picks a backend on import

            axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")[1]
        ax_pulses, ax_history = axes
        values = self.values
        if values is not None and 1 <= values.ndim <= 2 and not values.is_complex():
            times = getattr(self.pulse, "times", None)
            times = torch.arange(values.shape[-1] + 1) if times is None else times
            labels = [f"$u_{k}$" for k in range(values.shape[0])] if values.ndim == 2 else None
            plot_pulses(times, values, ax=ax_pulses, labels=labels)
        ax_pulses.set_title("pulses (best member)")
        h = self.history
        steps = np.arange(len(h))
        ax_history.semilogy(steps, np.maximum(1 - h.fidelity, 1e-16), label="$1 - F$ (best)")
        for name, values_ in h.losses.items():
            if name != "infidelity" and len(h.losses) > 2:  # penalties and their total
                ax_history.semilogy(steps, np.maximum(np.abs(values_), 1e-16), label=name, ls="--")
        ax_history.set_xlabel("iteration")
        ax_history.legend()
        return ax_pulses, ax_history


def optimize(
    pulse: nn.Module,
    fidelity: Fidelity,
    *,
    penalties: Mapping[str, tuple[float, Fidelity]] | None = None,
    optimizer: str | type[torch.optim.Optimizer] | OptimizerFactory = "lbfgs",
    lr: float | None = None,
    target: float | None = None,
    max_iter: int = 500,
    tol: float = 0.0,
    callback: Callable[[nn.Module, dict], bool | None] | None = None,
    progress: bool = True,
    infidelity: str = "linear",
) -> OptimizeResult:
    r"""Optimise the parameters of `pulse` to maximise `fidelity`.

    Minimises $\mathcal L = \sum_m \ell(F_m) + \sum_j w_j \sum_m P_{j,m}$, with
    $\ell(F) = 1 - F$ unless `infidelity` says otherwise, where
    $F = $ `fidelity(pulse)` has shape `(*starts,)` (members optimised together as a
    batch: multi-start; a scalar for one start) and each penalty $P_j$ has shape
    `(*starts,)` or `()`. One iteration is one `optimizer.step`. With `"lbfgs"` that is
    one L-BFGS iteration with a strong-Wolfe line search (several evaluations); its
    direction and step length are shared by all members, so with many starts `"adam"`,
    which treats every parameter separately, keeps them fully independent. The first
    evaluation of each step reuses the one at the current parameters when there is one.

    Bounds, smoothness of the parametrisation and physics live in `pulse` and
    `fidelity`; `optimize` only sees parameters and scalars.

    Args:
        pulse: Any module; its parameters with `requires_grad` are optimised in place.
        fidelity: `pulse -> F`, real, shape `(*starts,)` or `()`, higher is better
            (values in [0, 1] for `target` to make sense).
        penalties: Name -> `(weight, pulse -> P)`, added to the loss.
        optimizer: `"lbfgs"` (default: `lr=1`, strong Wolfe), `"adam"` (default
            `lr=1e-2`), a `torch.optim.Optimizer` subclass (built as `cls(params, lr=lr)`)
            or a factory `params -> optimizer`.
        lr: Learning rate for a named optimiser or an optimiser class.
        target: Stop when the best member's fidelity is at least `target`, in (0, 1].
        max_iter: Iteration budget (optimiser steps), at least 1.
        tol: Stop as converged when the gradient norm is at most `tol` (a step that
            leaves the parameters unchanged also counts as converged).
        callback: Called as `callback(pulse, record)` after the initial evaluation and
            every iteration; `record` holds `iteration`, `fidelity`, `fidelities`,
            `losses`, `grad_norm`, `evaluations`, `wall_s`. Returning `True` stops.
        progress: Show a tqdm progress bar with the best fidelity.
        infidelity: The loss term of each member: `"linear"`, $1 - F$ (default);
            `"sqrt"`, $1 - \sqrt{F}$, for a gate fidelity $|g|^2$ the error of the
            overlap's modulus $|g|$, which GRAPE codes minimise (qutip-qtrl's "PSU"):
            flatter near the optimum, it often needs fewer quasi-Newton iterations;
            `"log"`, $-\log F$. The stop at `target` always compares $F$ itself.

    Returns:
        An `OptimizeResult`; the module holds the final parameters.

    Raises:
        TypeError: If `pulse` is not a module, `fidelity`, a penalty or `callback` is not
            callable, `optimizer` is not a name, class or factory, or `fidelity` does not
            return a real tensor.
        ValueError: If `pulse` has no trainable parameter, `optimizer` is an unknown name,
            `lr` is not positive or given with a factory, `target` is outside (0, 1],
            `max_iter` < 1, `tol` < 0, `infidelity` is unknown, a penalty is malformed,
            or `fidelity` returns a
            tensor that does not depend on the parameters.

    Examples:
        >>> import torch
        >>> import dynamics as qd
        >>> from dynamics.control.optimize import optimize
        >>> theta = torch.nn.ParameterList([torch.nn.Parameter(torch.tensor(0.3, dtype=torch.float64))])
        >>> def fid(m):  # population transferred by the rotation exp(-i θ σx / 2)
        ...     U = torch.linalg.matrix_exp(-0.5j * m[0] * qd.sigmax())
        ...     return U[1, 0].abs() ** 2
        >>> res = optimize(theta, fid, target=1 - 1e-10, progress=False)
        >>> res.reason, round(theta[0].item(), 6)
        ('target reached', 3.141593)
    """
    start = time.perf_counter()
    params = _check_pulse(pulse)
    _check_callable(fidelity, "fidelity")
    penalties = _check_penalties(penalties)
    _check_options(target, max_iter, tol, callback)
    if infidelity not in _INFIDELITIES:
        raise ValueError(
            f"Argument `infidelity` must be one of {tuple(_INFIDELITIES)}, but is {infidelity!r}."
        )
    opt = _make_optimizer(optimizer, params, lr)
    objective = _Objective(pulse, fidelity, penalties, params, _INFIDELITIES[infidelity])
    log = _Log(start)
    iteration, stalled = 0, False
    with tqdm(total=max_iter, disable=not progress, desc="optimize", leave=False) as bar:
        while True:
            objective.evaluate()
            record = log.add(objective, iteration)
            bar.set_postfix_str(f"F={record['fidelity']:.8f}", refresh=False)
            reason = _stop_reason(record, target, tol, iteration, max_iter, stalled)
            if callback is not None and callback(pulse, record) is True:
                reason = reason or "callback"
            if reason is not None:
                break
            before = [p.detach().clone() for p in params]
            opt.step(objective.closure)
            iteration += 1
            bar.update(1)
            stalled = all(torch.equal(b, p) for b, p in zip(before, params))
    return _result(pulse, objective, log, iteration, reason, start)


# ------------------------------------------------------------------ the objective


class _Objective:
    """Loss and gradient with a one-point cache, so a step never re-evaluates its start."""

    def __init__(self, pulse, fidelity, penalties, params, infidelity):
        self.pulse, self.fidelity, self.penalties, self.params = pulse, fidelity, penalties, params
        self.infidelity = infidelity
        self.evaluations = 0
        self._x = None  # parameters of the cached evaluation

    def closure(self) -> torch.Tensor:
        """The optimiser's closure: the total loss, with `.grad` set on every parameter."""
        if self._x is None or not all(torch.equal(x, p) for x, p in zip(self._x, self.params)):
            self._compute()
        for p, g in zip(self.params, self._grads):
            p.grad = g.clone()
        return self.loss

    def evaluate(self) -> None:
        """Make sure the cache holds the current parameters."""
        self.closure()

    def _compute(self) -> None:
        for p in self.params:
            p.grad = None
        with torch.enable_grad():
            F = self.fidelity(self.pulse)
            _check_fidelity_output(F, self.evaluations == 0)
            terms = {"infidelity": self.infidelity(F).sum()}
            for name, (weight, penalty) in self.penalties.items():
                terms[name] = weight * _penalty_value(penalty(self.pulse), name, F)
            loss = torch.stack(list(terms.values())).sum()
        grads = torch.autograd.grad(loss, self.params, allow_unused=True)
        self._grads = [torch.zeros_like(p) if g is None else g for p, g in zip(self.params, grads)]
        self._x = [p.detach().clone() for p in self.params]
        self.evaluations += 1
        self.F = F.detach()
        self.terms = {k: v.detach() for k, v in terms.items()} | {"total": loss.detach()}
        self.loss = loss.detach()
        self.grad_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in self._grads]))


def _penalty_value(P: object, name: str, F: torch.Tensor) -> torch.Tensor:
    if not isinstance(P, torch.Tensor) or P.is_complex():
        raise TypeError(f"Penalty `{name}` must return a real tensor, but returned {_kind(P)}.")
    if P.ndim and P.shape != F.shape:
        raise ValueError(
            f"Penalty `{name}` must return shape () or the fidelity's shape {tuple(F.shape)}, but "
            f"returned shape {tuple(P.shape)}."
        )
    return P.sum()


def _check_fidelity_output(F: object, first: bool) -> None:
    if not isinstance(F, torch.Tensor) or F.is_complex() or not F.is_floating_point():
        raise TypeError(
            f"Argument `fidelity` must return a real floating-point tensor, but returned {_kind(F)}."
        )
    if first and not F.requires_grad:
        raise ValueError(
            "Argument `fidelity` must return a tensor that depends on the parameters of `pulse`, "
            "but its result does not require grad."
        )


# ------------------------------------------------------------------ bookkeeping


class _Log:
    """Host-side history: one device-to-host copy per iteration."""

    def __init__(self, start: float):
        self.start, self.last = start, start
        self.rows: list[dict] = []

    def add(self, objective: _Objective, iteration: int) -> dict:
        names = list(objective.terms)
        F = objective.F.reshape(-1)
        packed = torch.cat([F, torch.stack([*objective.terms.values(), objective.grad_norm])])
        host = packed.double().cpu().numpy()  # the one sync of the iteration
        now = time.perf_counter()
        fidelities = host[: F.numel()].reshape(tuple(objective.F.shape))
        row = {
            "iteration": iteration,
            "fidelity": float(fidelities.max()),
            "fidelities": fidelities,
            "losses": dict(zip(names, host[F.numel() : -1].tolist())),
            "grad_norm": float(host[-1]),
            "evaluations": objective.evaluations,
            "wall_s": now - self.last,
        }
        self.last = now
        self.rows.append(row)
        return row

    def history(self) -> History:
        rows = self.rows
        column = lambda key: np.array([r[key] for r in rows])  # noqa: E731
        losses = {k: np.array([r["losses"][k] for r in rows]) for k in rows[0]["losses"]}
        return History(
            fidelity=column("fidelity"),
            fidelities=np.stack([r["fidelities"] for r in rows]),
            losses=losses,
            grad_norm=column("grad_norm"),
            wall_s=column("wall_s"),
            evaluations=column("evaluations"),
        )


def _stop_reason(record: dict, target, tol, iteration, max_iter, stalled: bool) -> str | None:
    if not math.isfinite(record["losses"]["total"]):
        return "non-finite loss"
    if target is not None and record["fidelity"] >= target:
        return "target reached"
    if stalled or record["grad_norm"] <= tol:
        return "converged"
    return "max_iter" if iteration >= max_iter else None


def _result(pulse, objective: _Objective, log: _Log, iteration: int, reason: str, start: float):
    F = objective.F
    best = tuple(int(i) for i in np.unravel_index(int(F.argmax()), tuple(F.shape)))
    return OptimizeResult(
        pulse=pulse,
        values=_best_values(pulse, best, F.shape),
        fidelity=float(F[best]),
        fidelities=F.cpu(),
        best_index=best,
        iterations=iteration,
        evaluations=objective.evaluations,
        reason=reason,
        history=log.history(),
        wall_s=time.perf_counter() - start,
    )


def _best_values(pulse: nn.Module, best: tuple[int, ...], shape: torch.Size):
    """`pulse()` detached, best member selected; `None` unless `forward` takes no argument."""
    if type(pulse).forward is nn.Module.forward or not _takes_no_arguments(pulse.forward):
        return None
    with torch.no_grad():
        out = pulse()
    if not isinstance(out, torch.Tensor):
        return None
    out = out.detach()
    return out[best] if out.shape[: len(shape)] == shape else out


def _takes_no_arguments(f: Callable) -> bool:
    try:
        parameters = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return False
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return all(p.default is not p.empty or p.kind in variadic for p in parameters)


# ------------------------------------------------------------------ validation


def _check_pulse(pulse: object) -> list[torch.Tensor]:
    if not isinstance(pulse, nn.Module):
        raise TypeError(f"Argument `pulse` must be a torch.nn.Module, but is {_kind(pulse)}.")
    params = [p for p in pulse.parameters() if p.requires_grad]
    if not params:
        raise ValueError("Argument `pulse` must have at least one parameter that requires grad.")
    return params


def _check_penalties(penalties: object) -> dict[str, tuple[float, Fidelity]]:
    if penalties is None:
        return {}
    if not isinstance(penalties, Mapping):
        raise TypeError(
            f"Argument `penalties` must be a dict name -> (weight, callable), but is {_kind(penalties)}."
        )
    out = {}
    for name, entry in penalties.items():
        ok = isinstance(entry, tuple) and len(entry) == 2 and _is_real(entry[0])
        if not ok or not math.isfinite(entry[0]) or not isinstance(name, str) or name in _RESERVED:
            raise ValueError(
                f"Argument `penalties` must map names other than {_RESERVED} to pairs (finite "
                f"weight, callable), but has {name!r}: {entry!r}."
            )
        _check_callable(entry[1], f"penalties[{name!r}]")
        out[name] = (float(entry[0]), entry[1])
    return out


def _check_options(target, max_iter, tol, callback) -> None:
    if target is not None and not (_is_real(target) and 0 < target <= 1):
        raise ValueError(f"Argument `target` must be a number in (0, 1], but is {target!r}.")
    if not isinstance(max_iter, numbers.Integral) or isinstance(max_iter, bool) or max_iter < 1:
        raise ValueError(f"Argument `max_iter` must be an integer >= 1, but is {max_iter!r}.")
    if not _is_real(tol) or not tol >= 0:
        raise ValueError(f"Argument `tol` must be a number >= 0, but is {tol!r}.")
    if callback is not None:
        _check_callable(callback, "callback")


def _make_optimizer(spec, params: list[torch.Tensor], lr) -> torch.optim.Optimizer:
    if lr is not None and not (_is_real(lr) and lr > 0):
        raise ValueError(f"Argument `lr` must be a positive number, but is {lr!r}.")
    if isinstance(spec, str):
        if spec.lower() not in _NAMED:
            raise ValueError(
                f"Argument `optimizer` must be one of {_NAMED}, an optimizer class or a factory, "
                f"but is {spec!r}."
            )
        if spec.lower() == "adam":
            return torch.optim.Adam(params, lr=1e-2 if lr is None else lr)
        return torch.optim.LBFGS(
            params,
            lr=1.0 if lr is None else lr,
            max_iter=1,
            max_eval=25,
            line_search_fn="strong_wolfe",
        )
    if isinstance(spec, type) and issubclass(spec, torch.optim.Optimizer):
        return spec(params) if lr is None else spec(params, lr=lr)
    if isinstance(spec, type) or not callable(spec):
        raise TypeError(
            "Argument `optimizer` must be a name, a torch.optim.Optimizer subclass or a factory "
            f"params -> optimizer, but is {_kind(spec)}."
        )
    if lr is not None:
        raise ValueError("Argument `lr` must be None when `optimizer` is a factory (set it there).")
    opt = spec(params)
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(
            f"Argument `optimizer` must return a torch.optim.Optimizer, but returned {_kind(opt)}."
        )
    return opt


def _check_callable(f: object, name: str) -> None:
    if not callable(f):
        raise TypeError(f"Argument `{name}` must be callable, but is {_kind(f)}.")


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _kind(x: object) -> str:
    return f"a tensor of dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
