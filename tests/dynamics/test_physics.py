"""Solve functions against closed-form solutions, for every method of the registry.

The matrix is `dynamics.method.ALL_METHODS` × the systems of `tests/systems` × the solve
functions; a method is skipped when its `term_kind` is not a kind the solve function
offers (capability, never name). Each method is built by `systems.make_case`, which
also gives the error to expect from it (see `tests/systems/README.md`).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from systems import (
    CosineDrive,
    DampedOscillator,
    PWCDrive,
    QubitDecay,
    Rabi,
    all_systems,
    make_case,
)
from systems.methods import exact_on_pwc, is_adaptive, kinds

import dynamics as qd
from dynamics.method import ALL_METHODS

F64 = torch.float64
SYSTEMS = all_systems()
QUBIT_SYSTEMS = [s for s in SYSTEMS if s.n == 2]


def _ids(items) -> list[str]:
    return [getattr(x, "__name__", None) or str(x) for x in items]


def _require(cls: type, solver: str) -> None:
    """Skip unless the solve function offers the term kind the method steps."""
    if cls.term_kind not in kinds(solver):
        pytest.skip(f"{solver} offers no {cls.term_kind!r} term")


def _assert_close(actual, expected, tol: float, what: str) -> None:
    err = (actual - expected).abs().max().item()
    assert err <= tol, f"{what}: max error {err:.2e} > {tol:.0e}"


# ------------------------------------------------------------------ states and expects


def _problems(solvers: tuple[str, ...], systems) -> list:
    """The (system, solver) pairs that apply: closed-system solvers need no jump operators."""
    closed_only = ("sesolve", "sepropagator")
    return [
        pytest.param(s, solver, id=f"{s}-{solver}")
        for s in systems
        for solver in solvers
        if s.closed or solver not in closed_only
    ]


@pytest.mark.parametrize("method_cls", ALL_METHODS, ids=_ids(ALL_METHODS))
@pytest.mark.parametrize(("system", "solver"), _problems(("sesolve", "mesolve"), SYSTEMS))
def test_solve_matches_closed_form(system, solver, method_cls):
    _require(method_cls, solver)
    case = make_case(method_cls, piecewise_constant=system.piecewise_constant)
    res = system.run(case.method, solver=solver)
    tsave, n, nt = system.tsave, system.n, len(system.tsave)
    m = 1 if solver == "sesolve" else n

    assert torch.equal(res.tsave, tsave)
    assert res.states.shape == (nt, n, m)
    assert res.expects.shape == (len(system.exp_ops), nt)
    assert res.final_state.shape == (n, m)
    _assert_close(res.states, system.state(tsave, solver), case.tol, f"{case} states")
    _assert_close(res.expects, system.expects(tsave), case.tol, f"{case} expects")
    torch.testing.assert_close(res.final_state, res.states[-1], rtol=0, atol=1e-14)


@pytest.mark.parametrize("method_cls", ALL_METHODS, ids=_ids(ALL_METHODS))
@pytest.mark.parametrize(
    ("system", "solver"), _problems(("sepropagator", "mepropagator"), QUBIT_SYSTEMS)
)
def test_propagator_matches_closed_form(system, solver, method_cls):
    _require(method_cls, solver)
    case = make_case(method_cls, piecewise_constant=system.piecewise_constant)
    res = system.run(case.method, solver=solver)
    t = system.tsave
    exact = system.propagator(t) if solver == "sepropagator" else system.superoperator(t)
    dim = system.n if solver == "sepropagator" else system.n**2
    assert res.propagators.shape == (len(t), dim, dim)
    _assert_close(res.propagators, exact, case.tol, f"{case} propagators")
    torch.testing.assert_close(res.final_propagator, res.propagators[-1], rtol=0, atol=1e-14)


@pytest.mark.parametrize("method_cls", ALL_METHODS, ids=_ids(ALL_METHODS))
def test_save_states_false_keeps_expects_and_final_state(method_cls):
    system = QubitDecay(gamma1=0.7, gamma_phi=0.5)
    _require(method_cls, "mesolve")
    case = make_case(method_cls, piecewise_constant=True)
    res = system.run(case.method, options=qd.Options(save_states=False))
    assert res.states is None
    _assert_close(res.expects, system.expects(system.tsave), case.tol, f"{case} expects")
    exact_final = system.state(system.tsave[-1:], "mesolve")[0]
    _assert_close(res.final_state, exact_final, case.tol, f"{case} final_state")


@pytest.mark.parametrize("method_cls", ALL_METHODS, ids=_ids(ALL_METHODS))
def test_t0_before_first_save_time(method_cls):
    """`tsave` is returned as given (t0 excluded) and the states are those at `tsave`."""
    system = Rabi()
    _require(method_cls, "sesolve")
    case = make_case(method_cls, piecewise_constant=True)
    tsave = torch.tensor([0.8, 1.7, 2.0], dtype=F64)
    res = system.run(case.method, solver="sesolve", tsave=tsave, options=qd.Options(t0=0.3))
    assert torch.equal(res.tsave, tsave)
    assert res.states.shape == (3, 2, 1)
    # starting at t0 = 0.3 from psi0 is the exact solution shifted by t0 (constant H)
    _assert_close(res.states, system.state(tsave - 0.3, "sesolve"), case.tol, f"{case}")


@pytest.mark.parametrize(
    "tsave", [[0.0, 0.5, 2.0], np.array([0.0, 0.5, 2.0])], ids=["list", "numpy"]
)
def test_tsave_tensor_likes_pass_through(tsave):
    res = qd.sesolve(Rabi().H(), Rabi().psi0(), tsave)
    assert torch.equal(res.tsave, torch.tensor([0.0, 0.5, 2.0], dtype=F64))


# ------------------------------------------------------------------ discontinuities


def _stepped_or_exact(cls: type) -> bool:
    return is_adaptive(cls) or exact_on_pwc(cls)


PWC_METHODS = [c for c in ALL_METHODS if _stepped_or_exact(c)]


@pytest.mark.parametrize("method_cls", PWC_METHODS, ids=_ids(PWC_METHODS))
@pytest.mark.parametrize("solver", ["sesolve", "mesolve"])
def test_pwc_discontinuities_are_hit_exactly(solver, method_cls):
    """Adaptive methods are accurate to 1e-7 across pwc jumps, exact step maps to 1e-9."""
    _require(method_cls, solver)
    system = PWCDrive()
    # save exactly on some jumps, between others
    tsave = torch.tensor([0.0, 0.37, 1.0, 1.55, 2.0, 3.03, 3.5], dtype=F64)
    case = make_case(method_cls, piecewise_constant=True)
    res = system.run(case.method, solver=solver, tsave=tsave)
    _assert_close(res.states, system.state(tsave, solver), min(case.tol, 1e-7), f"{case}")


@pytest.mark.parametrize("method_cls", ALL_METHODS, ids=_ids(ALL_METHODS))
@pytest.mark.parametrize("solver", ["sesolve", "mesolve"])
def test_last_save_time_on_a_pwc_jump(solver, method_cls):
    """Ending exactly on a jump gives the state of a solve that continues past it.

    With a fixed step both runs take the same steps up to the jump, so they agree to
    round-off; adaptive runs agree to their tolerance. (Regression: the last step's
    c = 1 stage used to be evaluated at t_end itself, after the jump: RK4 was off by 1e-3.)
    """
    _require(method_cls, solver)
    system = PWCDrive()
    case = make_case(method_cls, piecewise_constant=True)
    ending = system.run(case.method, solver=solver, tsave=torch.tensor([0.0, 1.1], dtype=F64))
    passing = system.run(case.method, solver=solver, tsave=torch.tensor([0.0, 1.1, 1.2], dtype=F64))
    tol = case.tol if is_adaptive(method_cls) else 1e-12
    _assert_close(ending.final_state, passing.states[1], tol, f"{case}")
    exact = system.state(torch.tensor([1.1], dtype=F64), solver)[0]
    _assert_close(ending.final_state, exact, case.tol, f"{case} vs exact")


@pytest.mark.parametrize("method_cls", PWC_METHODS, ids=_ids(PWC_METHODS))
def test_short_pulse_after_idle_time_is_not_stepped_over(method_cls):
    """A π/2 pulse lasting 1e-3 after an idle second: the step controller, free to grow
    during the idle time, must stop on the jump instead of stepping over the pulse."""
    times = torch.tensor([0.0, 1.0, 1.001, 3.0], dtype=F64)
    amplitude = torch.pi / 2 / 1e-3
    H = qd.pwc(times, torch.tensor([0.0, amplitude, 0.0], dtype=F64), qd.sigmax() / 2)
    case = make_case(method_cls, piecewise_constant=True)
    res = qd.sesolve(
        H, qd.basis(2, 0), [0.0, 3.0], exp_ops=[qd.sigmaz(), qd.sigmay()], method=case.method
    )
    # θ = π/2: ⟨σz⟩ = cos θ = 0, ⟨σy⟩ = −sin θ = −1
    expected = torch.tensor([0.0, -1.0], dtype=res.expects.dtype)
    _assert_close(res.expects[:, -1], expected, min(case.tol, 1e-7), f"{case}")


EXACT_METHODS = [c for c in ALL_METHODS if exact_on_pwc(c)]


@pytest.mark.parametrize("method_cls", EXACT_METHODS, ids=_ids(EXACT_METHODS))
def test_exact_step_map_is_exact_to_round_off_on_pwc(method_cls):
    """Without `dt`, a step map exact on pwc problems matches the closed form to 1e-13.

    The pulse's short slices give generators of norm 3e-4–0.08, where torch's
    `matrix_exp` of one unbatched matrix errs by up to 2e-10 (pytorch#196592).
    """
    system = PWCDrive()
    res = system.run(method_cls(), solver="sepropagator")
    _assert_close(res.propagators, system.propagator(system.tsave), 1e-13, method_cls.__name__)


# ------------------------------------------------------------------ conventions, systems


def test_sigmam_is_the_decay_jump_operator():
    """QuTiP convention: `basis(2, 0)` has σz = +1 and `sigmam()` relaxes it to σz = −1."""
    gamma = 0.9
    res = qd.mesolve(
        0 * qd.sigmaz(),
        [gamma**0.5 * qd.sigmam()],
        qd.basis(2, 0),
        [0.0, 2.0, 10.0],
        exp_ops=[qd.sigmaz()],
    )
    t = torch.tensor([0.0, 2.0, 10.0], dtype=F64)
    _assert_close(res.expects[0].real, 2 * torch.exp(-gamma * t) - 1, 1e-6, "⟨σz⟩")
    torch.testing.assert_close(qd.sigmam(), QubitDecay().jump_ops()[0] / 0.7**0.5)


def test_rabi_explicit_formulas_match_closed_form_derivatives():
    s = Rabi()
    t = s.tsave
    grads = s.grads(t)
    torch.testing.assert_close(s.expects(t)[0].real, 2 * s.p_excited(t) - 1)
    torch.testing.assert_close(grads["omega"][0].real, 2 * s.dp_domega(t))
    torch.testing.assert_close(grads["delta"][0].real, 2 * s.dp_ddelta(t))


def test_oscillator_explicit_formulas_match_closed_form_derivatives():
    s = DampedOscillator()
    t = s.tsave
    grads = s.grads(t)
    torch.testing.assert_close(grads["alpha"][0], s.da_dalpha(t))
    torch.testing.assert_close(grads["kappa"][0], s.da_dkappa(t))
    torch.testing.assert_close(grads["omega"][0], s.da_domega(t))
    torch.testing.assert_close(grads["alpha"][1].real, s.dn_dalpha(t))
    torch.testing.assert_close(grads["kappa"][1].real, s.dn_dkappa(t))
    # the closed-form expectation values agree with Tr(E ρ(t)) of the closed-form state
    rho = s.state(t, "mesolve")
    traced = torch.stack([(E.mT * rho).sum((-1, -2)) for E in s.exp_ops])
    torch.testing.assert_close(traced, s.expects(t))


@pytest.mark.parametrize(
    ("system", "solver", "name"),
    [
        (Rabi(), "sesolve", "omega"),
        (PWCDrive(), "sesolve", "values"),
        (CosineDrive(gamma=0.15), "mesolve", "amplitude"),
        (QubitDecay(gamma1=0.7, gamma_phi=0.5), "mesolve", "gamma_phi"),
        (DampedOscillator(), "mesolve", "kappa"),
        (DampedOscillator(), "mesolve", "alpha"),
    ],
    ids=lambda x: str(x),
)
def test_closed_form_gradients_match_autograd_through_the_solver(system, solver, name):
    """The systems' `grads` agree with `Direct` backpropagation through an accurate solve."""
    p = system.params[name]
    p.requires_grad_(True)
    try:
        res = system.run(qd.method.Tsit5(rtol=1e-10, atol=1e-12), solver=solver)
        weights = torch.linspace(0.5, 1.5, len(system.tsave), dtype=F64)
        loss = (res.expects.real * weights).sum() + (res.expects.imag * weights).sum()
        (grad,) = torch.autograd.grad(loss, p)
    finally:
        p.requires_grad_(False)
    g = system.grads(system.tsave)[name]  # (nexp, nt, *p.shape)
    w = weights.reshape(1, -1, *([1] * p.ndim))
    expected = ((g.real + g.imag) * w).sum((0, 1))
    torch.testing.assert_close(grad, expected, rtol=1e-6, atol=1e-8)
