"""Gradients through `integrate`: gradcheck, analytic values, agreement of the modes.

Every method of `ALL_METHODS` meets every mode of `ALL_GRADIENTS` it declares in
`supported_gradients`. Analytic values come from `y' = -k y`:
`y(t) = y0 e^{-k t}`, `∂y/∂y0 = e^{-k t}`, `∂y/∂k = -t y`, `∂²y/∂k² = t² y`, and
`∂y(T)/∂T = f(T, y(T)) = -k y(T)`.
"""

from __future__ import annotations

import math

import pytest
import torch

from solvers import Direct, LinearTerm, integrate

F64 = torch.float64
C128 = torch.complex128
TSAVE = torch.tensor([0.0, 0.35, 0.6], dtype=F64)


def fast(gradient) -> bool:
    """gradcheck's fast mode checks `v^T J u` for random `u`, `v` instead of every column
    of the Jacobian: as discriminating for a wrong vjp, at a fraction of the cost. Direct
    (plain autograd, the reference of the other modes) gets the full check."""
    return not isinstance(gradient, Direct)


def _supported(gradients, method_cls, gradient_cls):
    if not gradients.supported(method_cls, gradient_cls):
        pytest.skip(f"{method_cls.__name__} does not support {gradient_cls.__name__}")


def generator(theta: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A 2x2 generator depending on two real parameters (a damped rotation, or a
    Schrödinger generator `-iH` with a decay for complex states)."""
    if dtype.is_complex:
        sx = torch.tensor([[0, 1], [1, 0]], dtype=C128)
        sz = torch.tensor([[1, 0], [0, -1]], dtype=C128)
        eye = torch.eye(2, dtype=C128)
        return -1j * (theta[0] * sx + theta[1] * sz) - 0.2 * theta[0] * eye
    row0 = torch.stack([-theta[0], theta[1]])
    row1 = torch.stack([-theta[1], -0.5 * theta[0]])
    return torch.stack([row0, row1])


def linear_term(theta: torch.Tensor, dtype: torch.dtype) -> LinearTerm:
    return LinearTerm(
        lambda t: generator(theta, dtype), is_constant=True, is_piecewise_constant=True
    )


def decay(k: torch.Tensor) -> LinearTerm:
    """`y' = -k y` on states of shape (1, 1), as a linear term every method accepts."""
    eye = torch.eye(1, dtype=F64)
    return LinearTerm(lambda t: -k * eye, is_constant=True, is_piecewise_constant=True)


# -------------------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("dtype", [F64, C128], ids=["float64", "complex128"])
def test_gradcheck(methods, gradients, method_cls, gradient_cls, dtype):
    _supported(gradients, method_cls, gradient_cls)
    method = methods.fixed(method_cls, dt=0.15)  # fixed steps: a smooth function of the inputs
    theta = torch.tensor([0.7, 0.3], dtype=F64, requires_grad=True)
    y0 = torch.tensor([[1.0], [0.5]], dtype=dtype, requires_grad=True)
    for gradient in gradients.variants(gradient_cls):

        def run(theta, y0, gradient=gradient):
            term = linear_term(theta, dtype)
            sol = integrate(term, method, y0, TSAVE, gradient=gradient, params=(theta,))
            return sol.ys[0], sol.y_final

        assert torch.autograd.gradcheck(run, (theta, y0), fast_mode=fast(gradient)), gradient


@pytest.mark.parametrize("dtype", [F64, C128], ids=["float64", "complex128"])
def test_gradcheck_with_a_save_function(methods, gradients, rk_cls, gradient_cls, dtype):
    # Several outputs per save time, one of them not the state, and no save at t0.
    _supported(gradients, rk_cls, gradient_cls)
    method = methods.fixed(rk_cls, dt=0.15)
    theta = torch.tensor([0.7, 0.3], dtype=F64, requires_grad=True)
    y0 = torch.tensor([[1.0], [0.5]], dtype=dtype, requires_grad=True)
    tsave = torch.tensor([0.2, 0.5, 0.7], dtype=F64)

    def save(y):
        return (y.abs() ** 2).sum(), y[0]

    for gradient in gradients.variants(gradient_cls):

        def run(theta, y0, gradient=gradient):
            term = linear_term(theta, dtype)
            sol = integrate(
                term, method, y0, tsave, t0=0.0, save=save, gradient=gradient, params=(theta,)
            )
            return sol.ys

        assert torch.autograd.gradcheck(run, (theta, y0), fast_mode=fast(gradient)), gradient


# -------------------------------------------------------------------- analytic gradients

TS = torch.tensor([0.0, 0.5, 1.3, 2.0], dtype=F64)
WEIGHTS = torch.tensor([1.0, 2.0, -1.0, 0.5], dtype=F64)


def _decay_gradients(method, gradient, k_value=0.8, y0_value=2.0):
    k = torch.tensor(k_value, dtype=F64, requires_grad=True)
    y0 = torch.full((1, 1), y0_value, dtype=F64, requires_grad=True)
    sol = integrate(decay(k), method, y0, TS, gradient=gradient, params=(k,))
    loss = (WEIGHTS * sol.ys[0].flatten()).sum() + sol.y_final.sum()
    g_k, g_y0 = torch.autograd.grad(loss, (k, y0))
    return float(g_k), float(g_y0)


def test_gradient_matches_analytic(methods, gradients, method_cls, gradient_cls):
    _supported(gradients, method_cls, gradient_cls)
    method = methods.accurate(method_cls)
    k, y0 = 0.8, 2.0
    e = torch.exp(-k * TS)
    w = WEIGHTS.clone()
    w[-1] += 1.0  # the final state counts once more
    want_k = float((w * -TS * y0 * e).sum())
    want_y0 = float((w * e).sum())
    tol = 10 * methods.accuracy(method)
    for gradient in gradients.variants(gradient_cls):
        g_k, g_y0 = _decay_gradients(method, gradient, k, y0)
        assert g_k == pytest.approx(want_k, rel=tol, abs=tol), gradient
        assert g_y0 == pytest.approx(want_y0, rel=tol, abs=tol), gradient


def test_modes_agree_with_direct(methods, gradients, method_cls, gradient_cls):
    """Every mode differentiates the same discrete steps: it must give Direct's numbers."""
    _supported(gradients, method_cls, gradient_cls)
    candidates = [methods.fixed(method_cls, dt=0.07)]
    if getattr(method_cls, "tableau", None) is not None and method_cls.tableau.adaptive:
        candidates.append(methods.adaptive(method_cls, 1e-7, 1e-9))
    for method in candidates:
        want = _decay_gradients(method, Direct())
        for gradient in gradients.variants(gradient_cls):
            got = _decay_gradients(method, gradient)
            assert got == pytest.approx(want, rel=1e-11, abs=1e-13), (method, gradient)


def test_gradient_with_discontinuity(methods, gradients, rk_cls, gradient_cls):
    # y' = -k y for t < 1 and -2k y after: y(2) = y0 e^{-3k}, dy(2)/dk = -3 y(2).
    _supported(gradients, rk_cls, gradient_cls)
    method = methods.accurate(rk_cls)
    tsave = torch.tensor([0.0, 2.0], dtype=F64)
    for gradient in gradients.variants(gradient_cls):
        k = torch.tensor(0.4, dtype=F64, requires_grad=True)
        term = LinearTerm(lambda t, k=k: -k * (1.0 if t < 1.0 else 2.0) * torch.eye(1, dtype=F64))
        y0 = torch.ones(1, 1, dtype=F64)
        sol = integrate(
            term, method, y0, tsave, discontinuities=[1.0], gradient=gradient, params=(k,)
        )
        (g,) = torch.autograd.grad(sol.ys[0][-1].sum(), k)
        tol = 10 * methods.accuracy(method)
        assert float(g) == pytest.approx(-3 * math.exp(-1.2), rel=tol), gradient


def test_params_of_the_gradient_mode(methods, gradients, method_cls, gradient_cls):
    # A mode with a `params` setting takes the closure's tensors there too.
    _supported(gradients, method_cls, gradient_cls)
    if "params" not in {f.name for f in gradient_cls.__dataclass_fields__.values()}:
        pytest.skip("the mode takes no params")
    method = methods.accurate(method_cls)
    k = torch.tensor(0.8, dtype=F64, requires_grad=True)
    gradient = gradients.make(gradient_cls, params=(k,))
    sol = integrate(decay(k), method, torch.ones(1, 1, dtype=F64), TS, gradient=gradient)
    (g,) = torch.autograd.grad(sol.ys[0][-1].sum(), k)
    tol = 10 * methods.accuracy(method)
    assert float(g) == pytest.approx(-2.0 * math.exp(-1.6), rel=tol)


# ---------------------------------------------------------------------- save times


def _tsave_tolerance(methods, method) -> float:
    """How well the derivative of the dense output approximates f: O(h^q)."""
    if getattr(method, "adaptive", False):
        return 1e-7
    tab = getattr(type(method), "tableau", None)
    q = len(tab.dense[0]) if tab is not None and tab.dense is not None else 1
    return max(1e-9, 10 * method.dt**q)


def test_gradient_wrt_tsave(methods, gradients, method_cls, gradient_cls):
    _supported(gradients, method_cls, gradient_cls)
    method = methods.accurate(method_cls)
    k = 0.8
    term = decay(torch.tensor(k, dtype=F64))
    y0 = torch.ones(1, 1, dtype=F64)
    tsave = torch.tensor([0.4, 1.1, 2.0], dtype=F64, requires_grad=True)
    gradient = gradients.make(gradient_cls)
    if not method.tsave_gradient:
        # Step maps use the save times as grid points only: they refuse, before integrating.
        with pytest.raises(ValueError, match="`tsave`"):
            integrate(term, method, y0, tsave, t0=0.0, gradient=gradient)
        return
    if gradient_cls is not Direct:
        # Modes that cannot differentiate the save times must say so.
        try:
            sol = integrate(term, method, y0, tsave, t0=0.0, gradient=gradient)
        except ValueError as err:
            assert "`tsave`" in str(err)
            return
    else:
        sol = integrate(term, method, y0, tsave, t0=0.0, gradient=gradient)
    (g,) = torch.autograd.grad(sol.ys[0].sum(), tsave)
    want = -k * sol.ys[0].detach().flatten()
    tol = _tsave_tolerance(methods, method)
    torch.testing.assert_close(g, want, atol=tol, rtol=0)


def test_step_maps_refuse_tsave_gradient_before_integrating(methods, step_map_cls):
    method = methods.accurate(step_map_cls)
    assert not method.tsave_gradient
    calls = []

    def G(t):
        calls.append(t)
        return -torch.eye(1, dtype=F64)

    tsave = torch.tensor([0.0, 1.0], dtype=F64, requires_grad=True)
    with pytest.raises(ValueError, match=rf"{step_map_cls.__name__}.*`tsave`"):
        integrate(LinearTerm(G), method, torch.ones(1, 1, dtype=F64), tsave)
    assert calls == []


def test_gradient_wrt_first_save_time_moves_the_start(methods, method_cls):
    method = methods.accurate(method_cls)
    if not method.tsave_gradient:
        pytest.skip(f"{method_cls.__name__} refuses tsave gradients (test_gradient_wrt_tsave)")
    k = 0.8
    term = decay(torch.tensor(k, dtype=F64))
    tsave = torch.tensor([0.5, 2.0], dtype=F64, requires_grad=True)
    sol = integrate(term, method, torch.ones(1, 1, dtype=F64), tsave, gradient=Direct())
    (g,) = torch.autograd.grad(sol.ys[0][-1].sum(), tsave)
    y_end = math.exp(-k * 1.5)
    tol = _tsave_tolerance(methods, method)
    torch.testing.assert_close(
        g, torch.tensor([k * y_end, -k * y_end], dtype=F64), atol=tol, rtol=0
    )


# ------------------------------------------------------------------ second derivatives


def test_second_derivative_direct(methods, method_cls):
    method = methods.accurate(method_cls)
    k = torch.tensor(0.8, dtype=F64, requires_grad=True)
    T = 2.0
    sol = integrate(
        decay(k),
        method,
        torch.ones(1, 1, dtype=F64),
        torch.tensor([0.0, T], dtype=F64),
        gradient=Direct(),
        params=(k,),
    )
    (g,) = torch.autograd.grad(sol.ys[0][-1].sum(), k, create_graph=True)
    (h,) = torch.autograd.grad(g, k)
    tol = 10 * methods.accuracy(method)
    assert float(g.detach()) == pytest.approx(-T * math.exp(-0.8 * T), rel=tol)
    assert float(h) == pytest.approx(T**2 * math.exp(-0.8 * T), rel=tol)


def test_second_derivative_other_modes(methods, gradients, method_cls, gradient_cls):
    # Modes other than Direct need not support double backward, but must not be
    # silently wrong: either the analytic value or an error.
    _supported(gradients, method_cls, gradient_cls)
    method = methods.accurate(method_cls)
    k = torch.tensor(0.8, dtype=F64, requires_grad=True)
    sol = integrate(
        decay(k),
        method,
        torch.ones(1, 1, dtype=F64),
        torch.tensor([0.0, 2.0], dtype=F64),
        gradient=gradients.make(gradient_cls),
        params=(k,),
    )
    try:
        (g,) = torch.autograd.grad(sol.ys[0][-1].sum(), k, create_graph=True)
        (h,) = torch.autograd.grad(g, k)
    except RuntimeError as err:  # refused when the graph of the gradient is requested
        assert "Direct" in str(err)
        return
    tol = 10 * methods.accuracy(method)
    assert float(h) == pytest.approx(4 * math.exp(-1.6), rel=tol)


# ------------------------------------------------------------------ when to build a graph


def test_no_graph_when_nothing_requires_grad(methods, method_cls):
    method = methods.accurate(method_cls)
    k = torch.tensor(0.8, dtype=F64)
    sol = integrate(decay(k), method, torch.ones(1, 1, dtype=F64), TS)
    assert not sol.ys[0].requires_grad
    assert not sol.y_final.requires_grad


def test_graph_when_y0_requires_grad(methods, method_cls):
    method = methods.accurate(method_cls)
    y0 = torch.ones(1, 1, dtype=F64, requires_grad=True)
    sol = integrate(decay(torch.tensor(0.8, dtype=F64)), method, y0, TS)
    assert sol.ys[0].requires_grad and sol.y_final.requires_grad
    (g,) = torch.autograd.grad(sol.ys[0][-1].sum(), y0)
    assert float(g) == pytest.approx(math.exp(-1.6), rel=10 * methods.accuracy(method))


def test_no_graph_under_no_grad(methods, method_cls):
    method = methods.accurate(method_cls)
    y0 = torch.ones(1, 1, dtype=F64, requires_grad=True)
    with torch.no_grad():
        sol = integrate(decay(torch.tensor(0.8, dtype=F64)), method, y0, TS)
    assert not sol.ys[0].requires_grad


@pytest.mark.parametrize("listed", [True, False], ids=["in_params", "unlisted"])
def test_params_reach_a_closure(methods, method_cls, listed):
    # With `gradient=None` (plain autograd), a tensor captured in a closure is
    # differentiated whether or not it is listed in `params`.
    method = methods.accurate(method_cls)
    k = torch.tensor(0.8, dtype=F64, requires_grad=True)
    params = (k,) if listed else ()
    sol = integrate(decay(k), method, torch.ones(1, 1, dtype=F64), TS, params=params)
    assert sol.ys[0].requires_grad
    (g,) = torch.autograd.grad(sol.ys[0][-1].sum(), k)
    assert float(g) == pytest.approx(-2.0 * math.exp(-1.6), rel=10 * methods.accuracy(method))


def test_explicit_mode_needs_params_for_a_closure(methods, gradients, method_cls, gradient_cls):
    # With a requested mode and nothing listed, nothing visibly requires grad.
    _supported(gradients, method_cls, gradient_cls)
    method = methods.accurate(method_cls)
    k = torch.tensor(0.8, dtype=F64, requires_grad=True)
    with pytest.raises(ValueError, match="`gradient`"):
        integrate(
            decay(k), method, torch.ones(1, 1, dtype=F64), TS, gradient=gradients.make(gradient_cls)
        )
