"""Measured orders of convergence: fixed steps, dense output, exact exponential stepping.

The order is the slope of `log(error)` against `log(dt)`, fitted on the four smallest
steps of a geometric sweep (ratio 2^(1/4)) whose error is still above `FLOOR`, so
that round-off (which grows as `dt` shrinks) never enters the fit. The error is the
largest over save times on the step grid, which hides the accidental zero crossings
the error at a single time has.

`y' = y²` is not among the problems: all its elementary differentials are powers of
`y`, the order-5 error constants of Dopri5 and Tsit5 almost cancel on it, and the
measured slopes wander between 3 and 9 down to round-off. `y' = cos y` is the
nonlinear scalar problem instead (its slopes are clean for every method).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from solvers import LinearTerm, integrate

F64 = torch.float64
FLOOR = 1e-12
SWEEP = sorted({round(2 ** (k / 4)) for k in range(45)})  # 1 ... 2048 steps
SLOPE_TOL = 0.3


def fit_slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of `log(error)` against `log(dt)`."""
    x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    return float(np.polyfit(x, y, 1)[0])


def sweep(error_at, n_max: int = 1024, floor: float = FLOOR, keep: int = 4):
    """`(dt, error)` of the `keep` smallest steps with `error ≥ floor`, `n ≤ n_max`.

    `error_at(n)` returns `(dt, error)` for a run of `n` steps.
    """
    points = []
    for n in SWEEP:
        if n > n_max:
            break
        dt, err = error_at(n)
        if err < floor:
            break
        points.append((dt, err))
    assert len(points) >= 3, f"too few points above {floor}: {points}"
    return points[-keep:]


def grid_error(method, ode, n: int) -> float:
    """Largest error at the `n + 1` points of the step grid on `[0, t_end]`."""
    tsave = torch.linspace(0.0, ode.t_end, n + 1, dtype=F64)
    sol = integrate(ode.term, method, ode.y0, tsave)
    return float((sol.ys[0] - ode.exact(tsave)).abs().max())


def _convergent_order(methods, method_cls, ode) -> int:
    """The order the method declares (`method.order`), or skip if it does not converge here."""
    method = methods.fixed(method_cls, dt=1.0)
    if not methods.supports(method, ode.term):
        pytest.skip(f"{method_cls.__name__} does not integrate {type(ode.term).__name__}")
    if ode.term.is_piecewise_constant and methods.exact_on_piecewise_constant(method_cls):
        pytest.skip("exact on this problem (see test_exact_on_constant_generators)")
    return method.order


def test_fixed_step_order(methods, method_cls, ode):
    order = _convergent_order(methods, method_cls, ode)

    def error_at(n):
        dt = ode.t_end / n
        return dt, grid_error(methods.fixed(method_cls, dt=dt), ode, n)

    points = sweep(error_at)
    slope = fit_slope(points)
    assert abs(slope - order) <= SLOPE_TOL, f"slope {slope:.2f}, order {order}: {points}"


def test_fixed_step_error_decreases(methods, method_cls, ode):
    order = _convergent_order(methods, method_cls, ode)
    errors = [grid_error(methods.fixed(method_cls, dt=ode.t_end / n), ode, n) for n in (8, 16)]
    # Halving dt divides the error by about 2^order (at least by 2^(order - 1)).
    assert errors[1] < errors[0] / 2 ** (order - 1) or errors[1] < FLOOR


def test_declared_order(methods, method_cls):
    # Every method declares its order (the fixed-step sweeps above measure it); for a
    # Runge–Kutta method it is its tableau's.
    method = methods.fixed(method_cls, dt=0.1)
    assert isinstance(method.order, int) and method.order >= 1
    tableau = getattr(method_cls, "tableau", None)
    if tableau is not None:
        assert method.order == tableau.order


def test_step_that_does_not_divide_the_interval(methods, rk_cls, odes):
    # dt = 0.3 on [0, 1]: three steps of 0.3 and a last one of 0.1, which ends exactly on 1.
    ode = odes["nonlinear_cos"]
    tsave = torch.tensor([0.0, 1.0], dtype=F64)
    sol = integrate(ode.term, methods.fixed(rk_cls, dt=0.3), ode.y0, tsave)
    assert sol.stats["steps"] == 4
    fine = integrate(ode.term, methods.fixed(rk_cls, dt=0.01), ode.y0, tsave)
    err, err_fine = ((s.ys[0][-1] - ode.exact(tsave)[-1]).abs().max() for s in (sol, fine))
    assert err_fine < err < 0.1


# ------------------------------------------------------------------- exponential stepping


@pytest.mark.parametrize("dt", [None, 0.5, 0.25, 0.1])
def test_exact_on_constant_generators(methods, step_map_cls, ode, dt):
    if not methods.exact_on_piecewise_constant(step_map_cls):
        pytest.skip("not exact on piecewise-constant generators")
    if not (isinstance(ode.term, LinearTerm) and ode.term.is_constant):
        pytest.skip("time-dependent problem")
    method = step_map_cls() if dt is None else methods.fixed(step_map_cls, dt=dt)
    tsave = torch.linspace(0.0, ode.t_end, 9, dtype=F64)  # save every 0.5 or 0.25
    sol = integrate(ode.term, method, ode.y0, tsave)
    torch.testing.assert_close(sol.ys[0], ode.exact(tsave), atol=1e-13, rtol=0)


def test_expm_exact_for_steps_of_small_norm(methods, step_map_cls, odes):
    # torch.linalg.matrix_exp (2.13, CPU, float64) errs by up to 2e-10 on a single
    # matrix of 1-norm ~[0.007, 0.05] (pytorch/pytorch#196592); exact stepping must not.
    if not methods.exact_on_piecewise_constant(step_map_cls):
        pytest.skip("not exact on piecewise-constant generators")
    ode = odes["rotation"]  # ||G||_1 = 1, so ||G dt||_1 = dt = 1/32
    tsave = torch.linspace(0.0, ode.t_end, 129, dtype=F64)
    sol = integrate(ode.term, step_map_cls(), ode.y0, tsave)
    torch.testing.assert_close(sol.ys[0], ode.exact(tsave), atol=1e-13, rtol=0)


# ------------------------------------------------------------------------- dense output


def dense_order(tableau) -> int:
    """Claimed order of the continuous extension: the degree of its polynomial in θ."""
    return len(tableau.dense[0])


def _dense_tableau(rk_cls):
    if rk_cls.tableau.dense is None:
        pytest.skip("no dense output")
    return rk_cls.tableau


@pytest.mark.parametrize("problem", ["nonlinear_cos", "forced_decay"])
def test_dense_output_local_order(methods, rk_cls, odes, problem):
    """One step of size `h` from the exact state: the interpolant errs by O(h^(q+1)).

    Saving at `t0 + θh` inside the step uses the dense output (`q` its order); the
    step end is a save time too, so the step is exactly `h`. The floor is 1e-13: the
    interpolant sums coefficients of size ~500 (Dopri8), which costs ~1e-14 in round-off.
    """
    q = dense_order(_dense_tableau(rk_cls))
    ode = odes[problem]
    t0 = 1.5
    y0 = ode.exact(torch.tensor([t0], dtype=F64))[0]
    thetas = torch.tensor([0.0, 0.3, 0.7, 1.0], dtype=F64)

    def error_at(n):
        h = 1.0 / n
        tsave = t0 + thetas * h
        sol = integrate(ode.term, methods.fixed(rk_cls, dt=h), y0, tsave)
        assert sol.stats["steps"] == 1
        return h, float((sol.ys[0][1:3] - ode.exact(tsave)[1:3]).abs().max())

    slope = fit_slope(sweep(error_at, floor=1e-13))
    assert slope >= q + 1 - SLOPE_TOL, f"local dense slope {slope:.2f}, dense order {q}"


def test_dense_output_global_order(methods, rk_cls, ode):
    """Save off the step grid over many steps: the error is O(h^min(p, q+1)).

    The propagated error of the method (order `p`) and the local error of the
    interpolant (`q + 1`) add up; for every method here `q = p - 1` (or `p = 1`), so
    the measured slope is `p` and at least `q`.
    """
    q = dense_order(_dense_tableau(rk_cls))
    p = rk_cls.tableau.order
    if not methods.supports(methods.fixed(rk_cls, dt=1.0), ode.term):
        pytest.skip("unsupported term")

    def error_at(n):
        dt = ode.t_end / n
        tsave = (torch.arange(n, dtype=F64) + 0.37) * dt  # one save time inside each step
        sol = integrate(ode.term, methods.fixed(rk_cls, dt=dt), ode.y0, tsave, t0=0.0)
        return dt, float((sol.ys[0] - ode.exact(tsave)).abs().max())

    slope = fit_slope(sweep(error_at))
    expected = min(p, q + 1)
    assert slope >= expected - SLOPE_TOL, f"off-grid slope {slope:.2f}, expected {expected}"
    assert slope >= q - SLOPE_TOL


def test_dense_output_reproduces_the_step_end(methods, rk_cls, odes):
    # With a differentiable tsave every save time goes through the dense output, also at
    # a step end: it must give the step's own value.
    _dense_tableau(rk_cls)
    ode = odes["nonlinear_cos"]
    tsave = torch.linspace(0.0, 2.0, 11, dtype=F64)
    method = methods.fixed(rk_cls, dt=0.2)
    plain = integrate(ode.term, method, ode.y0, tsave)
    dense = integrate(ode.term, method, ode.y0, tsave.clone().requires_grad_())
    torch.testing.assert_close(dense.ys[0].detach(), plain.ys[0], atol=1e-12, rtol=0)


def test_dense_output_between_saves_of_one_step(methods, rk_cls, odes):
    # Many save times inside one big step all come from one interpolant.
    _dense_tableau(rk_cls)
    ode = odes["nonlinear_cos"]
    tsave = torch.linspace(0.0, 0.5, 51, dtype=F64)
    sol = integrate(ode.term, methods.fixed(rk_cls, dt=0.5), ode.y0, tsave)
    assert sol.stats["steps"] == 1
    q = dense_order(rk_cls.tableau)
    err = float((sol.ys[0] - ode.exact(tsave)).abs().max())
    assert err < 0.5 ** (q + 1)
    assert math.isfinite(err)
