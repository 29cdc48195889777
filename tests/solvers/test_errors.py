"""Failure is explicit: `SolverError` for failed integrations, `ValueError`/`TypeError` for bad input."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import torch

from solvers import (
    AbstractGradient,
    LinearTerm,
    ODETerm,
    SolverError,
    integrate,
)

F64 = torch.float64
TS = torch.tensor([0.0, 1.0], dtype=F64)


def decay_term() -> ODETerm:
    return ODETerm(lambda t, y: -y)


def linear_decay_term() -> LinearTerm:
    G = -torch.eye(1, dtype=F64)
    return LinearTerm(lambda t: G, is_constant=True, is_piecewise_constant=True)


def term_for(methods, method) -> tuple:
    """A decay problem `y' = -y` in the form the method accepts."""
    if methods.supports(method, decay_term()):
        return decay_term(), torch.ones(1, dtype=F64)
    return linear_decay_term(), torch.ones(1, 1, dtype=F64)


def reported_time(err: SolverError) -> float:
    """The time the message names ("Integration failed at t = ...")."""
    match = re.search(r"t = ([-+0-9.e]+)", str(err))
    assert match, str(err)
    return float(match.group(1))


# ------------------------------------------------------------------------- SolverError


def test_solver_error_is_a_runtime_error():
    err = SolverError(1.5, "something broke")
    assert isinstance(err, RuntimeError)
    assert err.t == 1.5 and err.cause == "something broke"
    assert "t = 1.5" in str(err) and "something broke" in str(err)


def test_max_steps(methods, method_cls):
    method = dataclasses.replace(methods.accurate(method_cls, dt=0.01), max_steps=5)
    term, y0 = term_for(methods, method)
    tsave = torch.tensor([0.0, 10.0], dtype=F64)
    with pytest.raises(SolverError, match="max_steps") as info:
        integrate(term, method, y0, tsave)
    err = info.value
    assert "5" in str(err)
    assert 0.0 <= err.t < 10.0
    assert reported_time(err) == pytest.approx(err.t, rel=1e-5, abs=1e-12)


def test_max_steps_counts_every_attempt(methods, adaptive_cls):
    # 5 steps are not enough for t in [0, 10], 10_000 are.
    term, y0 = decay_term(), torch.ones(1, dtype=F64)
    tsave = torch.tensor([0.0, 10.0], dtype=F64)
    with pytest.raises(SolverError):
        integrate(term, methods.adaptive(adaptive_cls, max_steps=5), y0, tsave)
    sol = integrate(term, methods.adaptive(adaptive_cls, max_steps=10_000), y0, tsave)
    assert sol.stats["steps"] + sol.stats["rejected"] <= 10_000


def blow_up() -> tuple[ODETerm, torch.Tensor, torch.Tensor]:
    """`y' = y²`, `y(0) = 1`: `y = 1/(1 - t)` blows up at t = 1."""
    return (
        ODETerm(lambda t, y: y * y),
        torch.ones(1, dtype=F64),
        torch.tensor([0.0, 3.0], dtype=F64),
    )


def test_blow_up_adaptive_step_underflow(methods, adaptive_cls):
    term, y0, tsave = blow_up()
    with pytest.raises(SolverError, match=r"underflow|not finite") as info:
        integrate(term, methods.adaptive(adaptive_cls), y0, tsave)
    # The controller stalls at the singularity at t = 1 (the last accepted step may
    # land a hair beyond it: the error estimate cannot see a pole inside a step).
    assert 0.9 < info.value.t < 1.0 + 1e-6
    assert reported_time(info.value) == pytest.approx(info.value.t, rel=1e-5)


def test_blow_up_fixed_step_not_finite(methods, rk_cls):
    term, y0, tsave = blow_up()
    with pytest.raises(SolverError, match="not finite") as info:
        integrate(term, methods.fixed(rk_cls, dt=0.01), y0, tsave)
    # Fixed steps go past the singularity until the state overflows.
    assert info.value.t > 1.0


def test_nan_right_hand_side_midway(methods, adaptive_cls):
    def f(t, y):
        return y * math.nan if t > 0.5 else -y

    with pytest.raises(SolverError, match=r"underflow|not finite") as info:
        integrate(ODETerm(f), methods.adaptive(adaptive_cls), torch.ones(1, dtype=F64), TS)
    assert info.value.t == pytest.approx(0.5, abs=1e-6)


def test_nan_right_hand_side_midway_fixed(methods, rk_cls):
    def f(t, y):
        return y * math.nan if t > 0.5 else -y

    with pytest.raises(SolverError, match="not finite"):
        integrate(ODETerm(f), methods.fixed(rk_cls, dt=0.1), torch.ones(1, dtype=F64), TS)


def test_step_map_overflow(methods, step_map_cls):
    G = torch.tensor([[1000.0]], dtype=F64)  # exp(1000) overflows
    term = LinearTerm(lambda t: G, is_constant=True, is_piecewise_constant=True)
    method = methods.fixed(step_map_cls, dt=0.5)
    with pytest.raises(SolverError, match="not finite") as info:
        integrate(term, method, torch.ones(1, 1, dtype=F64), TS)
    assert info.value.t == 1.0


@pytest.mark.parametrize(
    "case",
    [
        "nan_y0",
        "nan_f",
        "inf_f",
    ],
)
def test_non_finite_from_the_start_adaptive(methods, adaptive_cls, case):
    # A non-finite state or derivative at t0 is reported at once, not after max_steps
    # rejected steps.
    y0 = torch.tensor([math.nan if case == "nan_y0" else 1.0], dtype=F64)
    scale = {"nan_y0": 1.0, "nan_f": math.nan, "inf_f": math.inf}[case]
    term = ODETerm(lambda t, y: -y * scale)
    with pytest.raises((SolverError, ValueError), match="finite") as info:
        integrate(term, methods.adaptive(adaptive_cls, max_steps=1000), y0, TS)
    assert "max_steps" not in str(info.value)


def test_non_finite_y0_fixed(methods, rk_cls):
    y0 = torch.tensor([math.nan], dtype=F64)
    with pytest.raises((SolverError, ValueError), match="finite"):
        integrate(decay_term(), methods.fixed(rk_cls, dt=0.1), y0, TS)


# ----------------------------------------------------------------------- tsave and t0

BAD_TSAVE = {
    "empty": (torch.tensor([], dtype=F64), ValueError, "`tsave`.*non-empty"),
    "2d": (torch.zeros(2, 2, dtype=F64), ValueError, "`tsave`.*1-D"),
    "scalar": (torch.tensor(1.0, dtype=F64), ValueError, "`tsave`"),
    "equal": (torch.tensor([0.0, 1.0, 1.0], dtype=F64), ValueError, "`tsave`.*increasing"),
    "decreasing": (torch.tensor([1.0, 0.0], dtype=F64), ValueError, "`tsave`.*increasing"),
    "nan": (torch.tensor([0.0, math.nan], dtype=F64), ValueError, "`tsave`.*finite"),
    "inf": (torch.tensor([0.0, math.inf], dtype=F64), ValueError, "`tsave`.*finite"),
    "complex": (torch.tensor([0.0, 1.0], dtype=torch.complex128), TypeError, "`tsave`"),
    "list": ([0.0, 1.0], TypeError, "`tsave`"),
}


@pytest.mark.parametrize(("tsave", "exc", "match"), BAD_TSAVE.values(), ids=BAD_TSAVE.keys())
def test_bad_tsave(methods, method_cls, tsave, exc, match):
    method = methods.accurate(method_cls)
    term, y0 = term_for(methods, method)
    with pytest.raises(exc, match=match):
        integrate(term, method, y0, tsave)


@pytest.mark.parametrize("t0", [0.5, math.nan, math.inf, -math.inf])
def test_bad_t0(methods, method_cls, t0):
    method = methods.accurate(method_cls)
    term, y0 = term_for(methods, method)
    tsave = torch.tensor([0.2, 1.0], dtype=F64)
    with pytest.raises(ValueError, match="`t0`"):
        integrate(term, method, y0, tsave, t0=t0)


def test_t0_equal_to_first_save_is_fine(methods, method_cls):
    method = methods.accurate(method_cls)
    term, y0 = term_for(methods, method)
    sol = integrate(term, method, y0, torch.tensor([0.2, 1.0], dtype=F64), t0=0.2)
    assert torch.equal(sol.ys[0][0], y0)


def test_integer_tsave_is_accepted(methods, method_cls):
    method = methods.accurate(method_cls)
    term, y0 = term_for(methods, method)
    sol = integrate(term, method, y0, torch.tensor([0, 1, 2]))
    assert sol.ys[0].shape[0] == 3
    got = float(sol.ys[0][-1].flatten()[0])
    assert got == pytest.approx(math.exp(-2), abs=methods.accuracy(method))


# ------------------------------------------------------------------ method arguments

NON_POSITIVE = [0, 0.0, -1e-6, -1, math.nan, math.inf, -math.inf]
NUMERIC_ARGUMENTS = ("rtol", "atol", "dt", "max_steps", "safety", "min_factor", "max_factor")


def required(cls) -> dict:
    """The smallest valid keyword arguments of a method class."""
    return {
        f.name: 0.1
        for f in dataclasses.fields(cls)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


def test_every_method_builds_from_its_required_arguments(method_cls):
    method = method_cls(**required(method_cls))
    assert dataclasses.is_dataclass(method)
    assert repr(method).startswith(method_cls.__name__ + "(")


@pytest.mark.parametrize("value", NON_POSITIVE)
def test_non_positive_arguments(method_cls, value):
    names = [
        f.name for f in dataclasses.fields(method_cls) if f.init and f.name in NUMERIC_ARGUMENTS
    ]
    assert "max_steps" in names
    for name in names:
        with pytest.raises(ValueError, match=f"`{name}`") as info:
            method_cls(**{**required(method_cls), name: value})
        assert method_cls.__name__ in str(info.value)


@pytest.mark.parametrize("value", [1.5, True, "10", 10.0])
def test_max_steps_must_be_an_integer(method_cls, value):
    with pytest.raises((ValueError, TypeError), match="`max_steps`"):
        method_cls(**required(method_cls), max_steps=value)


@pytest.mark.parametrize("value", ["1e-6", None, True])
def test_tolerances_must_be_numbers(adaptive_cls, value):
    for name in ("rtol", "atol"):
        with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
            adaptive_cls(**{name: value})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"safety": 1.0},
        {"safety": 1.5},
        {"min_factor": 1.0},
        {"min_factor": 2.0},
        {"max_factor": 1.0},
        {"max_factor": 0.5},
    ],
)
def test_controller_factors(adaptive_cls, kwargs):
    with pytest.raises(ValueError, match="`min_factor` < 1 < `max_factor`"):
        adaptive_cls(**kwargs)


def test_fixed_only_methods_need_dt(method_cls):
    if "dt" not in required(method_cls):
        pytest.skip("dt is optional")
    with pytest.raises(TypeError, match="dt"):
        method_cls()


def test_unknown_and_positional_arguments_are_rejected(method_cls):
    kwargs = required(method_cls)
    with pytest.raises(TypeError):
        method_cls(**kwargs, tolerance=1e-6)
    with pytest.raises(TypeError):
        method_cls(0.1, **kwargs)


def test_methods_are_frozen(method_cls):
    method = method_cls(**required(method_cls))
    with pytest.raises(dataclasses.FrozenInstanceError):
        method.max_steps = 3


# ------------------------------------------------------------------- term and method


def test_step_map_needs_a_linear_term(step_map_cls):
    method = step_map_cls(**required(step_map_cls))
    with pytest.raises((TypeError, ValueError), match="LinearTerm"):
        integrate(decay_term(), method, torch.ones(1, dtype=F64), TS)


def test_exact_step_map_needs_dt_for_time_dependent_terms(methods, step_map_cls):
    if not methods.exact_on_piecewise_constant(step_map_cls):
        pytest.skip("not exact on piecewise-constant generators")
    term = LinearTerm(lambda t: -t * torch.eye(1, dtype=F64))
    with pytest.raises(ValueError, match="`dt`"):
        integrate(term, step_map_cls(), torch.ones(1, 1, dtype=F64), TS)
    sol = integrate(term, methods.fixed(step_map_cls, dt=0.1), torch.ones(1, 1, dtype=F64), TS)
    assert float(sol.ys[0][-1]) == pytest.approx(math.exp(-0.5), abs=1e-3)


@pytest.mark.parametrize("method", ["tsit5", None, 1e-6], ids=["str", "none", "float"])
def test_method_must_be_a_method(method):
    with pytest.raises(TypeError, match="`method`"):
        integrate(decay_term(), method, torch.ones(1, dtype=F64), TS)


def test_method_class_instead_of_instance(method_cls):
    with pytest.raises(TypeError, match="`method`"):
        integrate(decay_term(), method_cls, torch.ones(1, dtype=F64), TS)


def test_term_must_be_a_term(methods, rk_cls):
    with pytest.raises(TypeError, match="`term`"):
        integrate(lambda t, y: -y, methods.accurate(rk_cls), torch.ones(1, dtype=F64), TS)


@pytest.mark.parametrize("y0", [[1.0], torch.ones(1, dtype=torch.int64)], ids=["list", "int"])
def test_y0_must_be_a_floating_tensor(methods, rk_cls, y0):
    with pytest.raises((TypeError, ValueError), match="`y0`"):
        integrate(decay_term(), methods.accurate(rk_cls), y0, TS)


def test_save_must_return_a_tuple(methods, rk_cls):
    with pytest.raises(TypeError, match="`save`"):
        integrate(
            decay_term(), methods.accurate(rk_cls), torch.ones(3, dtype=F64), TS, save=lambda y: y
        )


# -------------------------------------------------------------------------- gradients


def test_gradient_without_anything_requiring_grad(methods, method_cls, gradient_cls, gradients):
    if not gradients.supported(method_cls, gradient_cls):
        pytest.skip("unsupported gradient")
    method = methods.accurate(method_cls)
    term, y0 = term_for(methods, method)
    with pytest.raises(ValueError, match=r"`gradient`.*requires_grad"):
        integrate(term, method, y0, TS, gradient=gradients.make(gradient_cls))


def test_gradient_under_no_grad(methods, method_cls, gradient_cls, gradients):
    # Asking for a gradient inside `torch.no_grad()` is an error too: nothing can flow.
    if not gradients.supported(method_cls, gradient_cls):
        pytest.skip("unsupported gradient")
    method = methods.accurate(method_cls)
    term, y0 = term_for(methods, method)
    with torch.no_grad(), pytest.raises(ValueError, match="`gradient`"):
        integrate(term, method, y0.requires_grad_(), TS, gradient=gradients.make(gradient_cls))


@pytest.mark.parametrize("gradient", ["direct", True, object()], ids=["str", "bool", "object"])
def test_gradient_must_be_a_gradient_mode(methods, method_cls, gradient):
    method = methods.accurate(method_cls)
    term, y0 = term_for(methods, method)
    with pytest.raises(TypeError, match="`gradient`"):
        integrate(term, method, y0.requires_grad_(), TS, gradient=gradient)


def test_unsupported_gradient_mode(methods, method_cls):
    @dataclasses.dataclass(frozen=True)
    class Unheard(AbstractGradient):
        pass

    method = methods.accurate(method_cls)
    term, y0 = term_for(methods, method)
    with pytest.raises(ValueError, match="does not support gradient Unheard"):
        integrate(term, method, y0.requires_grad_(), TS, gradient=Unheard())
