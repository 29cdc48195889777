"""Known discontinuities: steps end on them, and the jump is seen from the correct side.

The test problem is `y' = f(t)` with the right-continuous piecewise-constant
`f(t) = 1` for `t < 1` and `-2` for `t ≥ 1`, `y(0) = 0`: `y` is piecewise linear, which
every Runge–Kutta method integrates exactly on each piece, so the only error left is
round-off, provided the method steps exactly onto `t = 1` and evaluates the stages of
the step ending there on the left of the jump.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from solvers import LinearTerm, ODETerm, integrate

F64 = torch.float64
TSAVE = torch.tensor([0.0, 0.3, 0.999, 1.0, 1.5, 2.7, 3.0], dtype=F64)
TSAVE_OFF = torch.tensor([0.0, 0.45, 1.37, 2.2, 3.0], dtype=F64)  # 1 is not a save time
Y0 = torch.zeros(1, dtype=F64)
EXACT_ATOL = 1e-12  # round-off only (the dense output of Dopri8 sums large coefficients)


def f(t: float, y: torch.Tensor) -> torch.Tensor:
    return torch.full_like(y, 1.0 if t < 1.0 else -2.0)


def exact(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t < 1, t, 1 - 2 * (t - 1)).unsqueeze(-1)


def error(sol, tsave) -> float:
    return float((sol.ys[0] - exact(tsave)).abs().max())


def instances(methods, rk_cls):
    """Fixed steps that never land on t = 1 by themselves, and adaptive tolerances."""
    out = [methods.fixed(rk_cls, dt=dt) for dt in (0.1, 0.3, 0.7)]
    if rk_cls.tableau.adaptive:
        out += [
            methods.adaptive(rk_cls, rtol, atol) for rtol, atol in [(1e-6, 1e-8), (1e-10, 1e-12)]
        ]
    return out


@pytest.mark.parametrize("tsave", [TSAVE, TSAVE_OFF], ids=["on_save", "off_save"])
def test_exact_with_discontinuity(methods, rk_cls, tsave):
    for method in instances(methods, rk_cls):
        sol = integrate(ODETerm(f), method, Y0, tsave, discontinuities=[1.0])
        assert error(sol, tsave) < EXACT_ATOL, method


def test_inexact_without_discontinuity_fixed(methods, rk_cls):
    # A fixed step that straddles t = 1 mixes both sides of the jump.
    for dt in (0.3, 0.7):
        sol = integrate(ODETerm(f), methods.fixed(rk_cls, dt=dt), Y0, TSAVE)
        assert error(sol, TSAVE) > 1e-3, dt


@pytest.mark.parametrize("tol", [(1e-6, 1e-8), (1e-10, 1e-12)])
def test_adaptive_without_discontinuity_is_worse_and_slower(methods, adaptive_cls, tol):
    method = methods.adaptive(adaptive_cls, *tol)
    with_ = integrate(ODETerm(f), method, Y0, TSAVE, discontinuities=[1.0])
    without = integrate(ODETerm(f), method, Y0, TSAVE)
    assert error(with_, TSAVE) < EXACT_ATOL
    # The controller has to find the jump by rejecting steps: many more steps, and an
    # error at the tolerance level instead of round-off.
    assert error(without, TSAVE) > 1000 * error(with_, TSAVE) + 1e-13
    assert without.stats["rejected"] > with_.stats["rejected"]
    assert without.stats["steps"] > with_.stats["steps"]
    assert without.stats["nfev"] > 2 * with_.stats["nfev"]


def test_several_unsorted_discontinuities(methods, rk_cls):
    def g(t, y):
        return torch.full_like(y, 1.0 if t < 0.5 else (-1.0 if t < 2.0 else 3.0))

    def exact3(t):
        y = torch.where(t < 0.5, t, 0.5 - (t - 0.5))
        return torch.where(t < 2.0, y, -1.0 + 3 * (t - 2.0)).unsqueeze(-1)

    for method in instances(methods, rk_cls):
        sol = integrate(ODETerm(g), method, Y0, TSAVE_OFF, discontinuities=[2.0, 0.5, 2.0])
        torch.testing.assert_close(sol.ys[0], exact3(TSAVE_OFF), atol=EXACT_ATOL, rtol=0)


def test_discontinuities_outside_the_interval_are_ignored(methods, rk_cls, odes):
    ode = odes["nonlinear_cos"]
    method = methods.accurate(rk_cls)
    tsave = torch.tensor([0.0, 1.0, 2.0], dtype=F64)
    plain = integrate(ode.term, method, ode.y0, tsave)
    outside = integrate(ode.term, method, ode.y0, tsave, discontinuities=[-1.0, 0.0, 2.0, 7.5])
    assert outside.stats == {**plain.stats, "wall_time": outside.stats["wall_time"]}
    torch.testing.assert_close(outside.ys[0], plain.ys[0], atol=0, rtol=0)


def test_steps_end_on_the_discontinuity(methods, rk_cls):
    # Record the stage times: none is at or after the jump before the step that ends on
    # it, and the step after it starts with a fresh evaluation at t = 1 on the right.
    times = []

    def g(t, y):
        times.append(t)
        return f(t, y)

    integrate(ODETerm(g), methods.fixed(rk_cls, dt=0.3), Y0, TSAVE_OFF, discontinuities=[1.0])
    first_right = next(i for i, t in enumerate(times) if t >= 1.0)
    assert times[first_right] == 1.0
    left = times[:first_right]
    assert all(t < 1.0 for t in left)
    # The last step before the jump is [0.9, 1]: its stages sit at 0.9 + 0.1 c, and a
    # stage at c = 1 is taken just before the jump.
    c_max = max(rk_cls.tableau.c)
    assert max(left) >= 0.9 + 0.1 * c_max - 1e-9
    if c_max == 1.0:
        assert math.nextafter(1.0, -math.inf) in left


def test_fsal_stage_is_refreshed_after_a_jump(methods, rk_cls):
    # Fixed steps of 0.3 on [0, 3] with a jump at 1: 11 steps. A first-same-as-last
    # tableau re-evaluates its first stage once more, after the jump.
    tab = rk_cls.tableau
    tsave = torch.tensor([0.0, 3.0], dtype=F64)  # no save inside a step: no dense output
    sol = integrate(ODETerm(f), methods.fixed(rk_cls, dt=0.3), Y0, tsave, discontinuities=[1.0])
    steps = sol.stats["steps"]
    assert steps == 11
    plain = 1 + (tab.stages - 1) * steps + (0 if tab.fsal else steps - 1)
    assert sol.stats["nfev"] == plain + (1 if tab.fsal else 0)


# ------------------------------------------------------------------- exponential stepping

G1 = np.array([[0.0, 1.0], [-1.0, 0.0]])
G2 = np.array([[-0.5, 0.3], [0.2, -0.1]])  # does not commute with G1


def pwc_term() -> LinearTerm:
    g1, g2 = torch.tensor(G1, dtype=F64), torch.tensor(G2, dtype=F64)
    return LinearTerm(lambda t: g1 if t < 1.0 else g2, is_piecewise_constant=True)


def pwc_exact(tsave: torch.Tensor, y0: np.ndarray) -> torch.Tensor:
    out = []
    for t in tsave.tolist():
        if t < 1.0:
            out.append(scipy.linalg.expm(G1 * t) @ y0)
        else:
            out.append(scipy.linalg.expm(G2 * (t - 1.0)) @ scipy.linalg.expm(G1) @ y0)
    return torch.tensor(np.stack(out), dtype=F64)


@pytest.mark.parametrize("tsave", [TSAVE, TSAVE_OFF], ids=["on_save", "off_save"])
def test_step_map_exact_on_piecewise_constant_generator(methods, step_map_cls, tsave):
    if not methods.exact_on_piecewise_constant(step_map_cls):
        pytest.skip("not exact on piecewise-constant generators")
    y0 = np.array([[1.0], [0.5]])
    sol = integrate(
        pwc_term(), step_map_cls(), torch.tensor(y0, dtype=F64), tsave, discontinuities=[1.0]
    )
    torch.testing.assert_close(sol.ys[0], pwc_exact(tsave, y0), atol=1e-13, rtol=0)
    # With a maximal step too: every sub-step lies within one piece.
    sol = integrate(
        pwc_term(),
        methods.fixed(step_map_cls, dt=0.2),
        torch.tensor(y0, dtype=F64),
        tsave,
        discontinuities=[1.0],
    )
    torch.testing.assert_close(sol.ys[0], pwc_exact(tsave, y0), atol=1e-13, rtol=0)


def test_step_map_without_the_discontinuity_is_wrong(methods, step_map_cls):
    if not methods.exact_on_piecewise_constant(step_map_cls):
        pytest.skip("not exact on piecewise-constant generators")
    y0 = np.array([[1.0], [0.5]])
    sol = integrate(pwc_term(), step_map_cls(), torch.tensor(y0, dtype=F64), TSAVE_OFF)
    err = (sol.ys[0] - pwc_exact(TSAVE_OFF, y0)).abs().max()
    assert err > 1e-3
