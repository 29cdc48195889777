"""Adaptive stepping: tolerances, saving at `tsave`, batches, `event_ndim`, statistics."""

from __future__ import annotations

import math

import pytest
import torch

from solvers import ODETerm, integrate

F64 = torch.float64
TOLERANCES = [(1e-6, 1e-8), (1e-8, 1e-10), (1e-10, 1e-12)]
# Irregular save times, one of them very close to another.
TSAVE = torch.tensor([0.0, 0.013, 0.4, 1.1, 1.1001, 1.7, 2.35, 3.0, 3.999], dtype=F64)


def riccati(y0: float = 0.3):
    """`y' = y²`: `y = 1 / (1/y0 - t)`, blowing up at `1/y0` (3.33 here)."""
    term = ODETerm(lambda t, y: y * y)
    return term, torch.full((1,), y0, dtype=F64), lambda t: (1 / (1 / y0 - t)).unsqueeze(-1)


def decay(k: torch.Tensor) -> ODETerm:
    """`y' = -k y` (k broadcast against y)."""
    return ODETerm(lambda t, y: -k * y)


# ----------------------------------------------------------------------------- tolerances


def _tolerance_ratios(methods, adaptive_cls, term, y0, exact, tsave):
    errors, ratios, steps = [], [], []
    for rtol, atol in TOLERANCES:
        sol = integrate(term, methods.adaptive(adaptive_cls, rtol, atol), y0, tsave)
        want = exact(tsave)
        err = (sol.ys[0] - want).abs()
        errors.append(float(err.max()))
        ratios.append(float((err / (atol + rtol * want.abs())).max()))
        steps.append(sol.stats["steps"])
    return errors, ratios, steps


def test_meets_tolerance(methods, adaptive_cls, ode):
    errors, ratios, steps = _tolerance_ratios(
        methods, adaptive_cls, ode.term, ode.y0, ode.exact, TSAVE
    )
    # The global error stays within 100x the local tolerance (measured: below 3x).
    assert max(ratios) <= 100, ratios
    assert errors[0] > errors[1] > errors[2], errors
    assert steps[0] < steps[1] < steps[2], steps


def test_meets_tolerance_on_a_growing_solution(methods, adaptive_cls):
    term, y0, exact = riccati()
    tsave = torch.tensor([0.0, 0.7, 1.9, 2.5, 3.0], dtype=F64)  # y grows from 0.3 to 3
    errors, ratios, _ = _tolerance_ratios(methods, adaptive_cls, term, y0, exact, tsave)
    assert max(ratios) <= 100, ratios
    assert errors[0] > errors[1] > errors[2], errors


def test_adaptive_method_with_dt_takes_fixed_steps(methods, adaptive_cls, odes):
    ode = odes["nonlinear_cos"]
    tsave = torch.tensor([0.0, 0.55, 1.0], dtype=F64)
    sol = integrate(ode.term, methods.fixed(adaptive_cls, dt=0.1), ode.y0, tsave)
    assert sol.stats["steps"] == 10
    assert sol.stats["rejected"] == 0


# ---------------------------------------------------------------------------- save times


def test_saves_at_tsave(methods, method_cls, ode):
    method = methods.accurate(method_cls)
    if not methods.supports(method, ode.term):
        pytest.skip("unsupported term")
    tsave = TSAVE[TSAVE <= ode.t_end]
    sol = integrate(ode.term, method, ode.y0, tsave)
    assert torch.equal(sol.ts, tsave)
    assert len(sol.ys) == 1
    assert sol.ys[0].shape == (len(tsave), *ode.y0.shape)
    assert sol.ys[0].dtype == ode.y0.dtype
    torch.testing.assert_close(sol.y_final, sol.ys[0][-1], atol=0, rtol=0)
    atol = methods.accuracy(method)
    torch.testing.assert_close(sol.ys[0], ode.exact(tsave), atol=atol, rtol=0)


def test_save_times_do_not_change_the_steps(methods, adaptive_cls, odes):
    # Values at tsave come from the dense output: steps are not forced onto save times.
    ode = odes["nonlinear_cos"]
    method = methods.adaptive(adaptive_cls)
    few = integrate(ode.term, method, ode.y0, torch.tensor([0.0, 4.0], dtype=F64))
    many = integrate(ode.term, method, ode.y0, torch.linspace(0.0, 4.0, 101, dtype=F64))
    assert many.stats["steps"] == few.stats["steps"]
    assert many.stats["rejected"] == few.stats["rejected"]
    torch.testing.assert_close(many.ys[0][-1], few.ys[0][-1], atol=0, rtol=0)


def test_first_save_at_t0_is_y0_exactly(methods, method_cls, ode):
    method = methods.accurate(method_cls)
    if not methods.supports(method, ode.term):
        pytest.skip("unsupported term")
    tsave = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    sol = integrate(ode.term, method, ode.y0, tsave)
    assert torch.equal(sol.ys[0][0], ode.y0)
    sol = integrate(ode.term, method, ode.y0, tsave, t0=0.0)
    assert torch.equal(sol.ys[0][0], ode.y0)


def test_single_save_time_at_t0(methods, method_cls, odes):
    # Nothing to integrate: no step, and no evaluation is needed either.
    method = methods.accurate(method_cls)
    ode = odes["rotation"]
    sol = integrate(ode.term, method, ode.y0, torch.tensor([0.0], dtype=F64))
    assert sol.ys[0].shape == (1, *ode.y0.shape)
    assert torch.equal(sol.ys[0][0], ode.y0)
    assert sol.stats["steps"] == 0
    assert sol.stats["nfev"] == 0


def test_t0_before_first_save(methods, method_cls, ode):
    method = methods.accurate(method_cls)
    if not methods.supports(method, ode.term):
        pytest.skip("unsupported term")
    tsave = torch.tensor([0.5, 1.3, 2.0], dtype=F64)
    sol = integrate(ode.term, method, ode.y0, tsave, t0=0.0)
    assert sol.ys[0].shape == (3, *ode.y0.shape)
    atol = methods.accuracy(method)
    torch.testing.assert_close(sol.ys[0], ode.exact(tsave), atol=atol, rtol=0)


def test_negative_times(methods, method_cls, odes):
    # Nothing assumes t >= 0: the same problem shifted to [-4, 0].
    ode = odes["nonlinear_cos"]
    method = methods.accurate(method_cls)
    if not methods.supports(method, ode.term):
        pytest.skip("unsupported term")
    tsave = torch.tensor([-4.0, -2.5, 0.0], dtype=F64)
    shifted = ODETerm(lambda t, y: ode.term.vf(t + 4.0, y))
    sol = integrate(shifted, method, ode.y0, tsave)
    atol = methods.accuracy(method)
    torch.testing.assert_close(sol.ys[0], ode.exact(tsave + 4.0), atol=atol, rtol=0)


# -------------------------------------------------------------------------------- batches

RATES = torch.tensor([[0.5], [1.0], [4.0]], dtype=F64)  # (3, 1): one decay rate per row
Y0 = torch.tensor([[1.0, -2.0]] * 3, dtype=F64)  # (3, 2)
TS = torch.tensor([0.0, 0.5, 1.3, 2.0, 3.0], dtype=F64)


@pytest.mark.parametrize("tol", [(1e-6, 1e-8), (1e-9, 1e-11)])
def test_batch_shares_one_step_size(methods, adaptive_cls, tol):
    method = methods.adaptive(adaptive_cls, *tol)
    exact = Y0 * torch.exp(-RATES * TS[:, None, None])  # (5, 3, 2)
    batch = integrate(decay(RATES), method, Y0, TS)
    assert batch.ys[0].shape == (len(TS), 3, 2)
    batch_err = (batch.ys[0] - exact).abs().amax(dim=(0, 2))
    alone_steps = []
    for i in range(3):
        alone = integrate(decay(RATES[i]), method, Y0[i], TS)
        alone_steps.append(alone.stats["steps"])
        alone_err = float((alone.ys[0] - exact[:, i]).abs().max())
        # Every element is stepped at least as finely as it would be alone.
        assert float(batch_err[i]) <= 1.01 * alone_err + 1e-15, i
    assert batch.stats["steps"] >= max(alone_steps)
    assert batch.stats["steps"] < sum(alone_steps)


def test_identical_batch_elements_step_like_one(methods, method_cls, odes):
    ode = odes["nonlinear_cos"]
    method = methods.accurate(method_cls)
    if not methods.supports(method, ode.term):
        pytest.skip("unsupported term")
    tsave = torch.tensor([0.0, 1.0, 2.5], dtype=F64)
    one = integrate(ode.term, method, ode.y0, tsave)
    batch = integrate(ode.term, method, ode.y0.expand(4, 1).clone(), tsave)
    assert batch.stats["steps"] == one.stats["steps"]
    assert batch.stats["rejected"] == one.stats["rejected"]
    torch.testing.assert_close(batch.ys[0], one.ys[0].unsqueeze(1).expand(-1, 4, 1))


def test_fixed_step_batch(methods, rk_cls):
    method = methods.fixed(rk_cls, dt=0.05)
    batch = integrate(decay(RATES), method, Y0, TS)
    assert batch.stats["steps"] == 60
    for i in range(3):
        alone = integrate(decay(RATES[i]), method, Y0[i], TS)
        torch.testing.assert_close(batch.ys[0][:, i], alone.ys[0], atol=1e-15, rtol=0)


# ----------------------------------------------------------------------------- event_ndim


def test_event_ndim_groups_trailing_dimensions(methods, adaptive_cls):
    method = methods.adaptive(adaptive_cls)
    rows = integrate(decay(RATES), method, Y0, TS, event_ndim=1)
    whole = integrate(decay(RATES), method, Y0, TS, event_ndim=2)
    flat = integrate(decay(RATES.expand(3, 2).reshape(6)), method, Y0.reshape(6), TS)
    # One state of 6 numbers: the RMS over all of them, like the flattened vector.
    assert whole.stats["steps"] == flat.stats["steps"]
    torch.testing.assert_close(whole.ys[0].reshape(len(TS), 6), flat.ys[0], atol=0, rtol=0)
    # The RMS over the batch is at most the largest RMS of a row: no more steps.
    assert whole.stats["steps"] <= rows.stats["steps"]
    assert whole.ys[0].shape == rows.ys[0].shape == (len(TS), 3, 2)


def test_event_ndim_on_column_states(methods, adaptive_cls, odes):
    # A state (d, 1) with event_ndim=2 is the state (d,) with event_ndim=1.
    ode = odes["rotation"]
    method = methods.adaptive(adaptive_cls)
    col = integrate(ode.term, method, ode.y0, TS, event_ndim=2)
    J = ode.term.generator(0.0)
    vec = integrate(ODETerm(lambda t, y: y @ J.mT), method, ode.y0[:, 0], TS, event_ndim=1)
    assert col.stats["steps"] == vec.stats["steps"]
    torch.testing.assert_close(col.ys[0][..., 0], vec.ys[0], atol=1e-15, rtol=0)


def test_event_ndim_zero_is_elementwise(methods, adaptive_cls):
    # event_ndim=0: every element is a state of its own (the error norm is |error|
    # elementwise), as with event_ndim=1 on a trailing dimension of size 1.
    method = methods.adaptive(adaptive_cls)
    elementwise = integrate(decay(RATES), method, Y0, TS, event_ndim=0)
    singletons = integrate(decay(RATES.unsqueeze(-1)), method, Y0.unsqueeze(-1), TS, event_ndim=1)
    rows = integrate(decay(RATES), method, Y0, TS, event_ndim=1)
    assert elementwise.stats["steps"] == singletons.stats["steps"]
    torch.testing.assert_close(elementwise.ys[0], singletons.ys[0][..., 0], atol=0, rtol=0)
    # The largest element is at least the RMS of its row: no fewer steps.
    assert elementwise.stats["steps"] >= rows.stats["steps"]


def test_event_ndim_zero_on_a_scalar_state(methods, adaptive_cls):
    # A 0-d state has no event dimension: event_ndim=0 is the only valid value.
    method = methods.adaptive(adaptive_cls)
    y0 = torch.tensor(2.0, dtype=F64)
    sol = integrate(decay(torch.tensor(0.5, dtype=F64)), method, y0, TS, event_ndim=0)
    assert sol.ys[0].shape == TS.shape
    torch.testing.assert_close(sol.ys[0], 2.0 * torch.exp(-0.5 * TS), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="`event_ndim`"):
        integrate(decay(torch.tensor(0.5, dtype=F64)), method, y0, TS)


@pytest.mark.parametrize("event_ndim", [3, -1, 1.5, True])
def test_bad_event_ndim(methods, adaptive_cls, event_ndim):
    with pytest.raises((ValueError, TypeError), match="`event_ndim`"):
        integrate(decay(RATES), methods.adaptive(adaptive_cls), Y0, TS, event_ndim=event_ndim)


# ------------------------------------------------------------------------------ statistics


def test_stats_keys(methods, method_cls, odes):
    ode = odes["rotation"]
    sol = integrate(ode.term, methods.accurate(method_cls), ode.y0, TS)
    assert {"steps", "rejected", "nfev", "wall_time"} <= set(sol.stats)
    for key in ("steps", "rejected", "nfev"):
        assert isinstance(sol.stats[key], int) and sol.stats[key] >= 0, key
    assert sol.stats["steps"] > 0 and sol.stats["nfev"] > 0
    assert isinstance(sol.stats["wall_time"], float) and sol.stats["wall_time"] > 0


def _expected_nfev(tableau, steps: int, attempts: int, adaptive: bool) -> int:
    """Evaluations of a run saving only at its ends, without discontinuities.

    The first stage `f(t0, y0)` (1), Hairer's initial-step guess (1, adaptive only),
    `stages - 1` per attempted step, and a fresh first stage after every accepted step
    but the last unless the tableau is first-same-as-last.
    """
    fresh = 0 if tableau.fsal else steps - 1
    return 1 + int(adaptive) + (tableau.stages - 1) * attempts + fresh


def test_nfev_adaptive(methods, adaptive_cls):
    term, y0, _ = riccati()
    sol = integrate(term, methods.adaptive(adaptive_cls), y0, torch.tensor([0.0, 3.0], dtype=F64))
    steps, rejected = sol.stats["steps"], sol.stats["rejected"]
    assert rejected > 0  # the growing solution makes the controller reject some steps
    tab = adaptive_cls.tableau
    assert sol.stats["nfev"] == _expected_nfev(tab, steps, steps + rejected, adaptive=True)


def test_nfev_fixed(methods, rk_cls):
    term, y0, _ = riccati()
    sol = integrate(term, methods.fixed(rk_cls, dt=0.1), y0, torch.tensor([0.0, 3.0], dtype=F64))
    steps = sol.stats["steps"]
    assert steps == 30 and sol.stats["rejected"] == 0
    assert sol.stats["nfev"] == _expected_nfev(rk_cls.tableau, steps, steps, adaptive=False)


def test_nfev_dense_extra_stages(methods, adaptive_cls, odes):
    # Save times inside steps cost the dense output's extra stages, once per step.
    ode = odes["nonlinear_cos"]
    method = methods.adaptive(adaptive_cls)
    few = integrate(ode.term, method, ode.y0, torch.tensor([0.0, 4.0], dtype=F64))
    tsave = torch.linspace(0.0, 4.0, 41, dtype=F64)
    many = integrate(ode.term, method, ode.y0, tsave)
    extra = many.stats["nfev"] - few.stats["nfev"]
    n_extra = len(adaptive_cls.tableau.a_extra)
    steps = many.stats["steps"]
    assert extra % max(n_extra, 1) == 0
    assert extra <= n_extra * min(steps, len(tsave) - 2)
    if n_extra:
        assert extra > 0


def test_wall_time_is_measured(methods, adaptive_cls):
    calls = []

    def f(t, y):
        calls.append(t)
        return -y

    sol = integrate(ODETerm(f), methods.adaptive(adaptive_cls), torch.ones(1, dtype=F64), TS)
    assert len(calls) == sol.stats["nfev"]
    assert math.isfinite(sol.stats["wall_time"])


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128, torch.complex64])
@pytest.mark.parametrize("event_ndim", [0, 1, 2])
def test_error_norm_and_modulus_match_their_definitions(dtype, event_ndim):
    from solvers.controllers import modulus, rms

    torch.manual_seed(3)
    x = torch.randn(5, 3, 4, dtype=dtype)
    scale = torch.rand(5, 3, 4, dtype=x.real.dtype) + 0.5
    tol = 1e-5 if dtype == torch.complex64 else 1e-12
    torch.testing.assert_close(modulus(x), x.abs(), rtol=tol, atol=tol)
    torch.testing.assert_close(modulus(x.conj()), x.abs(), rtol=tol, atol=tol)
    dims = tuple(range(-event_ndim, 0))
    ref = (x.abs() / scale) ** 2
    ref = (ref.mean(dims) if dims else ref).sqrt()
    torch.testing.assert_close(rms(x, event_ndim, scale), ref, rtol=tol, atol=tol)
    torch.testing.assert_close(rms(x / scale, event_ndim), ref, rtol=tol, atol=tol)
    assert rms(x, event_ndim).shape == x.shape[: x.ndim - event_ndim]
