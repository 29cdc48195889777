"""Compiled steps (`compile=` of the Runge–Kutta methods) change nothing but speed.

Compiled with TorchDynamo's `eager` backend (the same traced step, no code
generation, seconds instead of a minute per problem); one slow test compiles with
TorchInductor. The results must be those of the eager steps to rounding, with the
same steps and evaluations, and anything a compiled step cannot serve must fall back
to eager steps with a warning.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import solvers.compiled as compiled
import solvers.compiled_loop as compiled_loop
from solvers import (
    RK4,
    AbstractTerm,
    Dopri5,
    Dopri8,
    Euler,
    ODETerm,
    SolverError,
    Tsit5,
    integrate,
)
from solvers.compiled import host_dense_weights
from solvers.gradients import Adjoint
from solvers.rk_loop import _dense_weights

F64 = torch.float64


def _linear(dtype=F64):
    g = torch.Generator().manual_seed(3)
    A = torch.randn(5, 5, dtype=F64, generator=g) * 0.6
    if dtype.is_complex:
        A = -1j * (A + A.mT) + 0.1 * A.to(dtype)
    return ODETerm(lambda t, y: A @ y, is_constant=True), A


def _assert_same(got, ref, extra_nfev=0):
    """Same steps and evaluations (`extra_nfev` more), same results to rounding."""
    assert got.stats["steps"] == ref.stats["steps"]
    assert got.stats["nfev"] == ref.stats["nfev"] + extra_nfev
    torch.testing.assert_close(got.ys[0], ref.ys[0], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    "method", [Tsit5(), Dopri8(rtol=1e-8), RK4(dt=0.05)], ids=["Tsit5", "Dopri8", "RK4"]
)
def test_compiled_equals_eager_on_a_batch(method):
    # Dopri8: the second error estimate and the extra stages of its dense output.
    term, _ = _linear()
    y0 = torch.randn(3, 5, 1, dtype=F64)  # a batch of three: the largest error decides
    tsave = torch.linspace(0.0, 2.0, 9, dtype=F64)
    ref = integrate(term, method, y0, tsave)
    compiled = dataclasses.replace(method, compile="eager")
    _assert_same(integrate(term, compiled, y0, tsave), ref)


def test_compiled_complex_state_goes_through_real_pairs():
    term, A = _linear(torch.complex128)
    y0 = torch.randn(5, 2, dtype=torch.complex128)
    tsave = torch.linspace(0.0, 1.0, 5, dtype=F64)
    ref = integrate(term, Tsit5(), y0, tsave)
    got = integrate(term, Tsit5(compile="eager"), y0, tsave)
    _assert_same(got, ref)
    exact = torch.linalg.matrix_exp(A) @ y0
    torch.testing.assert_close(got.y_final, exact, rtol=1e-5, atol=1e-6)


def test_compiled_forward_pass_of_the_adjoint_gives_the_same_gradient():
    w = torch.tensor(0.7, dtype=F64, requires_grad=True)
    term = ODETerm(lambda t, y: torch.stack((y[1], -(w**2) * y[0])), is_constant=True)
    y0 = torch.tensor([1.0, 0.0], dtype=F64)
    tsave = torch.tensor([0.0, 2.0], dtype=F64)
    grads = []
    for method in (Tsit5(), Tsit5(compile="eager")):
        sol = integrate(term, method, y0, tsave, gradient=Adjoint(), params=(w,))
        grads.append(torch.autograd.grad(sol.y_final[0], w)[0])
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-12)
    exact = torch.tensor(-2.0 * math.sin(1.4), dtype=F64)  # d/dw cos(2 w)
    torch.testing.assert_close(grads[1], exact, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "case", ["time-dependent", "recorded graph"], ids=["time-dependent", "recorded-graph"]
)
def test_what_a_compiled_step_cannot_serve_steps_eagerly_with_a_warning(case):
    term, _ = _linear()
    y0 = torch.randn(5, 1, dtype=F64)
    if case == "time-dependent":
        term = ODETerm(lambda t, y: -t * y)
    else:
        y0.requires_grad_()
    tsave = torch.linspace(0.0, 1.0, 3, dtype=F64)
    with pytest.warns(UserWarning, match="compile='eager' ignored"):
        got = integrate(term, Tsit5(compile="eager"), y0, tsave)
    _assert_same(got, integrate(term, Tsit5(), y0, tsave))


def test_compile_argument_is_checked():
    with pytest.raises(TypeError, match="Argument `compile` of Tsit5 must be a bool"):
        Tsit5(compile=1)
    with pytest.raises(TypeError, match="Argument `compile` of RK4 must be a bool"):
        RK4(dt=0.1, compile=None)


@pytest.mark.slow
def test_inductor_compiled_step_equals_eager():
    # TorchInductor generates C++ for the real-pair step (tens of seconds here).
    term, _ = _linear()
    y0 = torch.randn(2, 5, 1, dtype=F64)
    tsave = torch.linspace(0.0, 2.0, 5, dtype=F64)
    _assert_same(
        integrate(term, Tsit5(compile=True), y0, tsave), integrate(term, Tsit5(), y0, tsave)
    )


def _matvec(static, ops, y):
    """`A @ y` (module level: a pure real form, traced once per shape)."""
    (scale,) = static
    return scale * (ops[0] @ y)


class _PureLinear(AbstractTerm):
    """`dy/dt = A y` with a pure real form (`branch`: one that cannot be traced)."""

    is_constant = True
    pure_real_form = True

    def __init__(self, A, branch=False):
        self.A, self.branch = A, branch

    def vf(self, t, y):
        return self.A @ y

    def real_form(self, pairs):
        if pairs:  # `y` as real and imaginary planes: `(2, ...)`
            return _pair_matvec, (1.0,), (self.A.real.contiguous(), self.A.imag.contiguous())
        return (_branching if self.branch else _matvec), (1.0,), (self.A,)


def _pair_matvec(static, ops, y):
    """`A @ y` on the planes of a complex `y` (`ops`: real and imaginary parts of `A`)."""
    re, im = y[0], y[1]
    Ar, Ai = ops
    return torch.stack((Ar @ re - Ai @ im, Ar @ im + Ai @ re))


def _branching(static, ops, y):
    # Data-dependent Python control flow: fake tensors cannot trace it.
    return ops[0] @ y if bool(y.abs().sum() >= 0) else -(ops[0] @ y)


@pytest.fixture
def per_step(monkeypatch):
    """Compiled steps one call per step: no state is small enough for a compiled loop."""
    monkeypatch.setattr(compiled_loop, "_MAX_NUMEL", 0)


@pytest.mark.parametrize("branch", [False, True], ids=["traced", "untraceable"])
def test_pure_real_forms_are_traced_once_per_shape(branch, per_step):
    # A pure real form is traced to a graph on fake tensors and run without guards;
    # one that cannot be traced (data-dependent branch) goes through TorchDynamo.
    _, A = _linear()
    term = _PureLinear(A, branch)
    y0 = torch.randn(3, 5, 1, dtype=F64)
    tsave = torch.linspace(0.0, 2.0, 9, dtype=F64)
    ref = integrate(term, Tsit5(), y0, tsave)
    before = set(compiled._TRACED)
    _assert_same(integrate(term, Tsit5(compile="eager"), y0, tsave), ref)
    new = [compiled._TRACED[k] for k in set(compiled._TRACED) - before]
    assert len(new) == 1  # Tsit5 has no extra dense-output stages: one step function
    assert isinstance(new[0], torch.fx.GraphModule) == (not branch)
    after = set(compiled._TRACED)
    y1 = y0 + 1.0  # new values, same shapes: nothing is traced again
    got = integrate(term, Tsit5(compile="eager"), y1, tsave)
    _assert_same(got, integrate(term, Tsit5(), y1, tsave))
    assert set(compiled._TRACED) == after


@pytest.mark.parametrize("method", [Tsit5(), Dopri5(), Dopri8(), RK4(dt=0.1), Euler(dt=0.1)])
def test_host_dense_weights_equal_the_device_ones(method):
    # Compiled steps weigh their stages for the dense output with host floats.
    tab = method.tableau
    tq = [0.31, 0.4, 0.52]
    got = torch.tensor(host_dense_weights(tab, 0.3, 0.25, tq), dtype=F64)
    ref = _dense_weights(tab, 0.3, 0.25, torch.tensor(tq, dtype=F64))
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-13)  # Dopri8: 7e-15 apart


@pytest.mark.slow
def test_inductor_traced_step_equals_eager(per_step):
    # The traced step compiled by TorchInductor without guards (C++ wrapper).
    _, A = _linear()
    term = _PureLinear(A)
    y0 = torch.randn(2, 5, 1, dtype=F64)
    tsave = torch.linspace(0.0, 2.0, 5, dtype=F64)
    before = set(compiled._TRACED)
    got = integrate(term, Tsit5(compile=True), y0, tsave)
    _assert_same(got, integrate(term, Tsit5(), y0, tsave))
    new = [compiled._TRACED[k] for k in set(compiled._TRACED) - before]
    assert new and not any(isinstance(fn, torch.fx.GraphModule) for fn in new)


# Compiled loops: many steps per call (`solvers.compiled_loop`), for pure real forms.

LOOP_METHODS = [Tsit5(), Dopri5(rtol=1e-8), RK4(dt=0.07), Euler(dt=0.01)]


def _loop_solve(method, y0, tsave, term=None, **kwargs):
    """The solve with `compile="eager"`, and whether a compiled loop ran it.

    Also the new entries of the loop cache (the loops traced for it).
    """
    term = term or _PureLinear(_linear(y0.dtype)[1].to(y0.dtype))
    before = set(compiled_loop._LOOPS)
    runs = []
    integrate_loop = compiled_loop.CompiledLoop.integrate

    def spy(self, *args):
        out = integrate_loop(self, *args)
        runs.append(out is not None)
        return out

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compiled_loop.CompiledLoop, "integrate", spy)
        method = dataclasses.replace(method, compile="eager")
        sol = integrate(term, method, y0, tsave, **kwargs)
    new = [compiled_loop._LOOPS[k] for k in set(compiled_loop._LOOPS) - before]
    return sol, runs == [True], new


@pytest.mark.parametrize("method", LOOP_METHODS, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize(
    "times",
    ["sparse", "dense", "late-start", "complex"],
)
def test_compiled_loop_takes_the_steps_of_the_eager_loop(method, times):
    # "dense": tens of save times per step (filled by the caller past the loop's two
    # per step) and several windows; "late-start": t0 before tsave[0].
    dtype = torch.complex128 if times == "complex" else F64
    y0 = torch.randn(3, 5, 1, dtype=dtype, generator=torch.Generator().manual_seed(1))
    n = 400 if times == "dense" else 9
    tsave = torch.linspace(0.5 if times == "late-start" else 0.0, 2.0, n, dtype=F64)
    term = _PureLinear(_linear(dtype)[1].to(dtype))
    ref = integrate(term, method, y0, tsave, t0=0.0)
    got, looped, new = _loop_solve(method, y0, tsave, term, t0=0.0)
    assert looped and all(isinstance(fn, torch.fx.GraphModule) for fn in new)
    # Without FSAL the loop evaluates the first stage of a next step after the last.
    _assert_same(got, ref, extra_nfev=0 if method.tableau.fsal else 1)
    assert got.stats["rejected"] == ref.stats["rejected"]
    assert len(got.ys[0]) == n


def test_compiled_loop_is_traced_once_per_shape_and_not_for_what_it_cannot_serve():
    y0 = torch.randn(2, 5, 1, dtype=F64)
    tsave = torch.linspace(0.0, 1.0, 5, dtype=F64)
    _loop_solve(Tsit5(), y0, tsave)
    _, looped, new = _loop_solve(Tsit5(), y0 + 1.0, tsave + 0.5)  # same shapes
    assert looped and new == []
    # Extra dense-output stages (Dopri8), discontinuities, recorded steps: per step.
    _, looped, _ = _loop_solve(Dopri8(), y0, tsave)
    assert not looped
    _, looped, _ = _loop_solve(Tsit5(), y0, tsave, discontinuities=[0.5])
    assert not looped
    w = torch.tensor(0.3, dtype=F64, requires_grad=True)
    term = _PureLinear(w * _linear()[1])
    sol, looped, _ = _loop_solve(Tsit5(), y0, tsave, term, gradient=Adjoint(), params=(w,))
    assert not looped
    ref = integrate(term, Tsit5(), y0, tsave, gradient=Adjoint(), params=(w,))
    torch.testing.assert_close(sol.ys[0], ref.ys[0], rtol=1e-12, atol=1e-13)


def test_untraceable_forms_step_per_call_without_a_loop():
    term = _PureLinear(_linear()[1], branch=True)
    y0 = torch.randn(2, 5, 1, dtype=F64)
    tsave = torch.linspace(0.0, 1.0, 5, dtype=F64)
    got, looped, new = _loop_solve(Tsit5(), y0, tsave, term)
    assert not looped and new == [None]  # the failed trace is remembered
    _assert_same(got, integrate(term, Tsit5(), y0, tsave))
    _, looped, new = _loop_solve(Tsit5(), y0, tsave, term)
    assert not looped and new == []


@pytest.mark.parametrize(
    "method, A, match",
    [
        (Tsit5(max_steps=7), None, "reached `max_steps` = 7 of Tsit5"),
        (Tsit5(), 400.0, "the state is not finite"),
        (RK4(dt=0.1), 1e200, "the state is not finite"),
    ],
    ids=["max-steps", "overflow-adaptive", "overflow-fixed"],
)
def test_compiled_loop_fails_as_the_eager_loop(method, A, match):
    y0 = torch.randn(2, 5, 1, dtype=F64)
    tsave = torch.linspace(0.0, 2.0, 5, dtype=F64)
    term = _PureLinear(_linear()[1] if A is None else A * torch.eye(5, dtype=F64))
    with pytest.raises(SolverError, match=match) as eager:
        integrate(term, method, y0, tsave)
    with pytest.raises(SolverError, match=match) as loop:
        _loop_solve(method, y0, tsave, term)
    assert str(loop.value) == str(eager.value)


def test_compiled_loop_shows_progress():
    y0 = torch.randn(2, 5, 1, dtype=F64)
    tsave = torch.linspace(0.0, 1.0, 40, dtype=F64)
    got, looped, _ = _loop_solve(Tsit5(), y0, tsave, progress=True)
    assert looped
    _assert_same(got, integrate(_PureLinear(_linear()[1]), Tsit5(), y0, tsave))


@pytest.mark.slow
def test_inductor_compiled_loop_equals_eager():
    # The loop compiled by TorchInductor (a while loop in the C++ wrapper).
    dtype = torch.complex128
    term = _PureLinear(_linear(dtype)[1].to(dtype))
    y0 = torch.randn(2, 5, 1, dtype=dtype)
    tsave = torch.linspace(0.0, 2.0, 40, dtype=F64)
    before = set(compiled_loop._LOOPS)
    got = integrate(term, Tsit5(compile=True), y0, tsave)
    new = [compiled_loop._LOOPS[k] for k in set(compiled_loop._LOOPS) - before]
    assert len(new) == 1 and not isinstance(new[0], torch.fx.GraphModule)
    _assert_same(got, integrate(term, Tsit5(), y0, tsave))


@pytest.mark.parametrize("stacked", [False, True])
def test_compiled_loop_calls_a_stacked_save_once_per_window(stacked):
    y0 = torch.randn(2, 5, 1, dtype=F64)
    tsave = torch.linspace(0.0, 2.0, 40, dtype=F64)
    calls = []

    def save(y):  # the norm and the first component: broadcasts over stacked states
        calls.append(y.shape)
        return torch.linalg.vector_norm(y, dim=(-1, -2)), y[..., 0, 0]

    got, looped, _ = _loop_solve(Tsit5(), y0, tsave, save=save, save_stacked=stacked)
    assert looped
    ref = integrate(_PureLinear(_linear()[1]), Tsit5(), y0, tsave, save=save)
    for g, r in zip(got.ys, ref.ys):
        torch.testing.assert_close(g, r, rtol=1e-12, atol=1e-13)
    loop_calls = calls[: len(calls) - len(tsave)]  # the eager solve saves once per time
    assert (len(loop_calls) < len(tsave)) == stacked
    assert all(len(shape) == (4 if stacked else 3) for shape in loop_calls[1:])
