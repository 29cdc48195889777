"""Compiled Runge–Kutta steps: a whole step as one compiled function on real planes.

Eager stepping pays a few µs per torch call, about fifty calls per Tsit5 step besides
the right-hand side. A compiled step traces all stages, their combinations and the
error norm into one graph, which TorchInductor fuses into a few kernels. TorchInductor
generates no code for complex dtypes, so the compiled region works on the real form
of a complex state, its real and imaginary planes `(2, ...)`, and the term supplies
its vector field on them (`AbstractTerm.real_form`). The compiled functions take and
return the real view (`torch.view_as_real`, free) and convert to planes inside: the
interleaved view makes every load a strided one, which TorchInductor's CPU code does
not vectorise (a banded product of the Ising chain at N = 12: 2× slower).

Two ways to compile, both cached per tableau, vector field and settings:

- *Traced* (CPU, TorchInductor or the `eager` backend, a term whose real form is pure:
  `AbstractTerm.pure_real_form`): the step is traced once per input shape to a graph
  of torch operations (`make_fx` on fake tensors) and compiled without guards
  (`torch._inductor.standalone_compile`). A call runs the generated code directly:
  TorchDynamo's guard check and frame handling cost 130–150 µs per step here, as much
  as the whole step of a 16-level Kerr oscillator.
- *Guarded* (`torch.compile`): any other backend, terms whose real form may capture
  tensors (`ODETerm`), torch versions without `standalone_compile`, and CUDA, where
  mode `reduce-overhead` replays the step as a CUDA graph.

It serves constant terms with a real form, when no autograd graph is recorded through
the step (solves without gradient, the forward and replay passes of the replaying
gradient modes). Anything else steps eagerly. Compilation costs seconds to a minute
per problem shape (then cached on disk by TorchInductor): opt-in, by the method's
`compile` argument.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch

__all__ = [
    "CompiledStep",
    "compiled_step",
    "dense_matrix",
    "host_dense_weights",
    "pairs_of",
    "planes",
]

_COMPILED: dict = {}  # key -> guarded (`torch.compile`) step function
_TRACED: OrderedDict = OrderedDict()  # key with input shapes -> traced, compiled step
_MAX_TRACED = 64  # least recently used traced steps beyond this are dropped


def _combine(y, coeffs, ks, h):
    """`y + h Σ_j coeffs[j] k_j` (`y = None` means zero), skipping zero coefficients."""
    out = y
    for c, k in zip(coeffs, ks):
        if c != 0.0:
            out = k * (h * c) if out is None else out + k * (h * c)
    return torch.zeros_like(ks[0]) if out is None else out


def planes(x: torch.Tensor) -> torch.Tensor:
    """The real and imaginary planes `(2, ...)` of a real view `(..., 2)` (a view)."""
    return x.movedim(-1, 0)


def pairs_of(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """The contiguous real view `(..., 2)` of planes stacked at `dim`."""
    return x.movedim(dim, -1).contiguous()


def _make_step(tab, fn: Callable, event_ndim: int, pairs: bool, rtol: float, atol: float):
    """The step function for one tableau and vector field, on real planes if `pairs`."""
    nb = len(tab.b)

    def modulus(x):
        return torch.linalg.vector_norm(x, dim=0) if pairs else x.abs()

    def rms(x, scale):
        x = x / scale
        if event_ndim == 0:
            return modulus(x)
        dims = tuple(range(-event_ndim, 0)) + ((0,) if pairs else ())
        size = math.prod(x.shape[x.ndim - event_ndim :])
        return torch.linalg.vector_norm(x, dim=dims) / math.sqrt(size)

    def step(static, ops, y, k0, h, adaptive: bool, extra: bool):
        ks = [k0]
        y1 = None
        for i in range(1, tab.stages):
            yi = _combine(y, tab.a[i], ks, h)
            ks.append(fn(static, ops, yi))
            if tab.fsal and i == tab.stages - 1:
                y1 = yi
        if y1 is None:
            y1 = _combine(y, tab.b, ks[:nb], h)
        if extra:
            for row in tab.a_extra:
                ks.append(fn(static, ops, _combine(y, row, ks, h)))
        K = torch.stack(ks)
        if not adaptive:
            return y1, K, None
        scale = torch.maximum(modulus(y), modulus(y1)) * rtol + atol
        e = rms(_combine(None, tab.b_err, ks, 1.0), scale)
        if tab.b_err_low is None:
            err = h.abs() * e
        else:  # DOP853's combination of its order-5 and order-3 estimates
            e3 = rms(_combine(None, tab.b_err_low, ks, 1.0), scale)
            denom = torch.sqrt(e * e + 0.01 * e3 * e3)
            err = h.abs() * e * e / torch.where(denom > 0, denom, torch.ones_like(denom))
        return y1, K, err.max()

    return step


def _on_pairs(step: Callable) -> Callable:
    """`step` taking and returning real views `(..., 2)`, on planes inside."""

    def on_pairs(static, ops, y, k0, h, adaptive: bool, extra: bool):
        y1, K, err = step(static, ops, planes(y), planes(k0), h, adaptive, extra)
        return pairs_of(y1), pairs_of(K, 1), err

    return on_pairs


class CompiledStep:
    """A compiled step of `method` on `term`, for states like `y0` (see the module doc).

    Call it with the complex (or real) state, the first stage and the step size; it
    returns the new state, the last stage and the error norm of the step (a 0-d
    tensor, `None` for fixed steps), all in the state's dtype, and keeps the real view
    of the stages (`K_real`, `(S, *y.shape[, 2])`) for the dense output.
    """

    def __init__(self, method, form, y0: torch.Tensor, event_ndim: int, pure: bool = False):
        fn, static, ops = form
        self.static, self.ops = static, ops
        self.pairs = y0.is_complex()
        self.adaptive = method.adaptive
        self.cuda = y0.device.type == "cuda"
        backend = "inductor" if method.compile is True else method.compile
        rtol, atol = (method.rtol, method.atol) if method.adaptive else (0.0, 0.0)
        tab = method.tableau
        self.key = (method.tableau, fn, event_ndim, self.pairs, rtol, atol, backend, self.cuda)
        # the step on planes (compiled loops), and on real views (one call per step)
        self.make_planes = lambda: _make_step(tab, fn, event_ndim, self.pairs, rtol, atol)
        self.make = lambda: _on_pairs(self.make_planes()) if self.pairs else self.make_planes()
        self.traced = pure and not self.cuda and _can_trace(backend)
        self.fn = None if self.traced else self._guarded()
        self.h = torch.zeros((), dtype=y0.real.dtype if self.pairs else y0.dtype, device=y0.device)
        self.K_real = None
        self.stages = method.tableau.stages
        self.last: tuple = ()  # (complex output, its real view) of the last step
        self.fns: dict = {}  # extra -> traced function, for these inputs

    def _guarded(self):
        """The step compiled by `torch.compile` (guards on every input, shared by shapes)."""
        if self.key not in _COMPILED:
            backend = self.key[6]
            mode = "reduce-overhead" if self.cuda and backend == "inductor" else None
            _COMPILED[self.key] = torch.compile(
                self.make(), backend=backend, mode=mode, dynamic=False
            )
        return _COMPILED[self.key]

    def _traced(self, args: tuple, extra: bool):
        """The step traced for these inputs and compiled without guards.

        Guarded if it cannot be traced. The inputs of one `CompiledStep` keep their
        shapes, so the function is looked up once per `extra`.
        """
        if extra in self.fns:
            return self.fns[extra]
        sig = tuple((x.shape, x.stride(), x.dtype, x.device) for x in args)
        key = (*self.key, self.static, self.adaptive, extra, sig)
        fn = _TRACED.get(key)
        if fn is None:
            fn = _trace(self.make(), self.static, self.adaptive, extra, args, self.key[6])
            if fn is None:  # not traceable after all: TorchDynamo handles it
                guarded = self._guarded()
                static = self.static

                def fn(*a, adaptive=self.adaptive):
                    y1, K, err = guarded(static, a[3:], a[0], a[1], a[2], adaptive, extra)
                    return (y1, K) if err is None else (y1, K, err)

            _TRACED[key] = fn
            while len(_TRACED) > _MAX_TRACED:
                _TRACED.popitem(last=False)
        else:
            _TRACED.move_to_end(key)
        self.fns[extra] = fn
        return fn

    def _real(self, x: torch.Tensor) -> torch.Tensor:
        """The contiguous real view of `x` (that of the last outputs without a torch call)."""
        for out, real in self.last:
            if x is out:
                return real
        x = x.contiguous()  # one layout: no recompilation
        return torch.view_as_real(x) if self.pairs else x

    def __call__(self, y, k0, h: float, extra: bool):
        """Return `(y1, k_last, err)` of a step of size `h` from `y` with first stage `k0`.

        `k_last` is the last stage (the first of the next step for FSAL tableaus).
        """
        self.h.fill_(h)
        if self.cuda:  # a CUDA graph reuses its output buffers on the next replay
            torch.compiler.cudagraph_mark_step_begin()
        y, k0 = self._real(y), self._real(k0)
        if self.traced:
            args = (y, k0, self.h, *self.ops)
            y1, K, *err = self._traced(args, extra)(*args)
            err = err[0] if err else None
        else:
            y1, K, err = self.fn(self.static, self.ops, y, k0, self.h, self.adaptive, extra)
        if self.cuda:
            y1, K = y1.clone(), K.clone()
        self.K_real = K
        k_last = K[self.stages - 1]
        if not self.pairs:
            self.last = ()
            return y1, k_last, err
        out = torch.view_as_complex(y1), torch.view_as_complex(k_last)
        self.last = ((out[0], y1), (out[1], k_last))  # handed back as the next y and k0
        return *out, err

    def dense(self, y: torch.Tensor, weights: np.ndarray) -> torch.Tensor:
        """Return `y + Σ_s w[:, s] k_s` for the stages of the last step, `(m, *y.shape)`.

        `weights` (host, `m × S`): one matrix product on the real view.
        """
        w = torch.from_numpy(weights).to(dtype=self.h.dtype, device=y.device)
        yr = torch.view_as_real(y) if self.pairs else y
        S = w.shape[1]
        out = torch.addmm(yr.reshape(1, -1), w, self.K_real[:S].reshape(S, -1))
        out = out.view(len(weights), *yr.shape)
        return torch.view_as_complex(out) if self.pairs else out


def host_dense_weights(tab, t: float, h: float, tq: list[float]) -> np.ndarray:
    """Dense-output weights `(m, S)` at save times `tq` (floats) in a step, on the host."""
    P = dense_matrix(tab)  # (S, p)
    theta = (np.asarray(tq) - t) / h
    return ((theta[:, None] ** np.arange(1, P.shape[1] + 1)) @ P.T) * h


@functools.lru_cache(maxsize=32)
def dense_matrix(tab) -> np.ndarray:
    """`tab.dense` as an `(S, p)` array, rows of lower degree padded with zeros."""
    p = max(map(len, tab.dense))
    return np.array([[*row, *(0.0,) * (p - len(row))] for row in tab.dense], dtype=np.float64)


def _can_trace(backend) -> bool:
    """Whether steps are traced and compiled without guards for `backend`."""
    if backend == "eager":
        return True
    try:
        from torch._inductor import standalone_compile  # noqa: F401 - torch >= 2.8
    except ImportError:
        return False
    return backend == "inductor"


def _trace(step: Callable, static, adaptive: bool, extra: bool, args: tuple, backend: str):
    """Trace `step` on fake tensors shaped like `args` and compile the graph.

    Returns the compiled function of `(y, k0, h, *ops)` giving `(y1, K[, err])`, or
    `None` if the step cannot be traced (data-dependent Python control flow).
    """

    def flat(y, k0, h, *ops):
        y1, K, err = step(static, ops, y, k0, h, adaptive, extra)
        return (y1, K) if err is None else (y1, K, err)

    return trace_and_compile(flat, args, backend)


def trace_and_compile(fn: Callable, args: tuple, backend: str):
    """Trace `fn` on fake tensors shaped like `args`; compile it without guards.

    Returns the compiled function (the traced graph itself for the `eager` backend),
    or `None` if `fn` cannot be traced or compiled (its callers fall back).
    """
    from torch.fx.experimental.proxy_tensor import make_fx

    try:
        gm = make_fx(fn, tracing_mode="fake")(*args)
    except Exception:  # any tracing failure: the caller copes instead
        return None
    if backend == "eager":  # the traced graph as it is (tests: tracing without codegen)
        return gm
    from torch._inductor import standalone_compile

    # A C++ wrapper: the Python one costs ~50 µs per call in buffer allocations here.
    options = {"config_patches": {"cpp_wrapper": True}}
    # It logs a warning when it cannot serialise a graph with a loop: nothing is saved.
    log = logging.getLogger("torch._inductor.standalone_compile")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        return standalone_compile(
            gm, list(args), dynamic_shapes="from_example_inputs", options=options
        )
    except Exception as error:  # a toolchain problem: the caller's fallback may still work
        warnings.warn(f"compiling a traced step failed ({error!r}).", stacklevel=5)
        return None
    finally:
        log.setLevel(level)


def compiled_step(
    method, term, y0: torch.Tensor, event_ndim: int, recorded: bool
) -> CompiledStep | None:
    """Return a `CompiledStep` if `method` asks to compile and `term` allows it, else `None`.

    A method that asks (`compile` set) but cannot be served (a time-dependent term, a
    term without a real form, a recorded autograd graph: `recorded` says whether the
    state carries one) warns and steps eagerly.
    """
    if not getattr(method, "compile", False):
        return None
    why, form = None, None
    if not term.is_constant:
        why = "the vector field depends on time"
    elif (form := term.real_form(y0.is_complex())) is None:
        why = f"{type(term).__name__} has no real form"
    elif torch.is_grad_enabled() and (recorded or any(x.requires_grad for x in form[2])):
        why = "an autograd graph is recorded through the steps (use Adjoint or Checkpointed)"
    if why is not None:
        warnings.warn(f"compile={method.compile!r} ignored, stepping eagerly: {why}.", stacklevel=4)
        return None
    return CompiledStep(method, form, y0, event_ndim, term.pure_real_form)
