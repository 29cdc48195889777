"""The `optimize` driver: convergence, stop reasons, history, optimisers, batches, bad input.

The problems are `systems.control.QubitGate` (a qubit NOT with 20 slices). The driver
takes any `nn.Module`; most tests use the stand-in `StandInPWC`, and the π-pulse and
bounds tests use `dynamics.control.PWC` and `gate_fidelity` end to end.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch
from systems.control import QubitGate, StandInPWC

import dynamics as qd
from dynamics.control.optimize import OptimizeResult, optimize, robust

matplotlib.use("Agg")


def _pulse(problem: QubitGate, seed: int = 0, batch=(), bound=None, amplitude=0.5):
    return StandInPWC(problem.times, problem.initial(seed, amplitude, batch), bound=bound)


# ----------------------------------------------------------------------------- convergence


def test_pi_pulse_recovered_from_random_start_with_package_pulse_and_fidelity():
    from dynamics.control.fidelities import gate_fidelity
    from dynamics.control.pulses import PWC

    problem = QubitGate()
    pulse = PWC(problem.times, 2, bounds=(-1.0, 1.0), init=problem.initial(seed=1))

    def fidelity(p):
        H = p.hamiltonian(problem.H0, problem.controls)
        U = qd.sepropagator(H, [0.0, problem.T], method=qd.method.Expm()).final_propagator
        return gate_fidelity(U, qd.sigmax())

    res = optimize(pulse, fidelity, target=0.9999, max_iter=100, progress=False)
    assert res.reason == "target reached"
    assert res.fidelity >= 0.9999
    assert problem.objective(lambda: res.values) >= 0.9999  # independent check of `values`
    assert res.values.shape == (2, problem.nslices)


@pytest.mark.parametrize("infidelity", ["linear", "sqrt", "log"])
def test_every_infidelity_reaches_the_target_and_is_logged(infidelity):
    problem = QubitGate()
    pulse = _pulse(problem, seed=2, bound=1.0)
    res = optimize(
        pulse, problem.objective, target=0.9999, max_iter=60, progress=False, infidelity=infidelity
    )
    assert res.reason == "target reached"
    F = np.asarray(res.history.fidelity)
    expected = {"linear": 1 - F, "sqrt": 1 - np.sqrt(F), "log": -np.log(F)}[infidelity]
    np.testing.assert_allclose(res.history.losses["infidelity"], expected, rtol=1e-12)


def test_bounds_hold_at_every_evaluation_and_iterate():
    from dynamics.control.pulses import PWC

    # T = 0.8π: the NOT needs an area π > T, so the optimum pushes u_x onto the bound.
    problem = QubitGate(T=0.8 * math.pi, detuning=0.0)
    pulse = PWC(problem.times, 2, bounds=(-1.0, 1.0), init=problem.initial(seed=2))
    evaluated, iterates = [], []

    def fidelity(p):
        u = p()
        evaluated.append(u.detach().abs().max().item())
        return problem.fidelity(problem.unitary(u))

    res = optimize(
        pulse,
        fidelity,
        max_iter=30,
        callback=lambda p, record: iterates.append(p().detach().abs().max().item()),
        progress=False,
    )
    assert len(evaluated) == res.evaluations
    assert len(iterates) == len(res.history) == res.iterations + 1
    assert max(evaluated) <= 1.0 and max(iterates) <= 1.0
    assert res.values[0].abs().min() > 0.99  # pressed against the bound
    assert res.fidelity > 0.9


def test_multi_start_returns_the_best_member():
    problem = QubitGate()
    init = problem.initial(seed=3, batch=(3,))
    init[0] = 0.0  # a saddle of |Tr(X† U)|² (F = 0, zero gradient): this member cannot move
    pulse = StandInPWC(problem.times, init)
    res = optimize(pulse, problem.objective, target=0.9999, max_iter=100, progress=False)
    F = problem.objective(pulse).detach()
    assert res.fidelities.shape == (3,)
    assert torch.allclose(res.fidelities, F)
    assert res.fidelities[0] < 1e-12 < res.fidelities[1:].min()
    assert res.best_index == (int(F.argmax()),) != (0,)
    assert res.fidelity == pytest.approx(F.max().item()) and res.fidelity >= 0.9999
    assert torch.equal(res.values, pulse()[res.best_index].detach())
    assert res.history.fidelities.shape == (len(res.history), 3)


def test_multi_start_members_are_independent_under_adam():
    """The gradient of one member does not depend on the others (sum of member losses)."""
    problem = QubitGate()
    init = problem.initial(seed=4, batch=(2,))
    together = optimize(
        StandInPWC(problem.times, init),
        problem.objective,
        optimizer="adam",
        max_iter=5,
        progress=False,
    )
    alone = optimize(
        StandInPWC(problem.times, init[1]),
        problem.objective,
        optimizer="adam",
        max_iter=5,
        progress=False,
    )
    torch.testing.assert_close(together.pulse.theta[1], alone.pulse.theta, rtol=1e-12, atol=1e-12)


def test_robust_worst_case_beats_the_nominal_optimum():
    detunings = [-0.3, -0.15, 0.0, 0.15, 0.3]
    nominal, ensemble = QubitGate(detuning=0.0), QubitGate(detuning=detunings)
    init = nominal.initial(seed=5)

    nom = optimize(
        StandInPWC(nominal.times, init, bound=1.0),
        nominal.objective,
        target=1 - 1e-10,
        max_iter=100,
        progress=False,
    )
    worst_nominal = ensemble.objective(nom.pulse).min().item()

    # The ensemble mean first, then the (soft) worst case from there: the worst case alone
    # is non-smooth and, from a random start, stalls on whichever member is worst.
    pulse = StandInPWC(ensemble.times, init, bound=1.0)
    optimize(pulse, lambda p: robust(ensemble.objective(p)), max_iter=30, progress=False)
    worst_mean = ensemble.objective(pulse).min().item()
    res = optimize(
        pulse,
        lambda p: robust(ensemble.objective(p), mode="worst", temperature=1e-3),
        max_iter=30,
        progress=False,
    )
    worst_robust = ensemble.objective(pulse).min().item()
    assert nom.fidelity > 0.9999 and worst_nominal < 0.7
    assert worst_robust > worst_mean > 0.99, (worst_robust, worst_mean)
    assert res.fidelity == pytest.approx(worst_robust, abs=1e-3)  # soft min ≈ min


def test_robust_reductions():
    F = torch.tensor([[0.9, 0.99, 0.95], [0.5, 0.6, 0.7]], requires_grad=True)
    torch.testing.assert_close(robust(F), F.mean(-1))
    torch.testing.assert_close(robust(F, dim=0, mode="worst"), torch.tensor([0.5, 0.6, 0.7]))
    soft = robust(F, mode="worst", temperature=1e-4)
    torch.testing.assert_close(soft, torch.tensor([0.9, 0.5]), atol=1e-3, rtol=0)
    hot = robust(F, mode="worst", temperature=1e3)
    torch.testing.assert_close(hot, F.mean(-1), atol=1e-4, rtol=0)
    (grad,) = torch.autograd.grad(robust(F, mode="worst").sum(), F)
    assert torch.equal(grad, torch.tensor([[1.0, 0, 0], [1.0, 0, 0]]))  # only the worst member


# ----------------------------------------------------------------------------- stop reasons


def test_stop_reasons():
    problem = QubitGate()
    res = optimize(_pulse(problem), problem.objective, target=0.9999, progress=False)
    assert (res.reason, res.fidelity >= 0.9999) == ("target reached", True)
    assert res.iterations < 500

    res = optimize(_pulse(problem), problem.objective, target=0.9999, max_iter=2, progress=False)
    assert (res.reason, res.iterations) == ("max_iter", 2)
    assert res.fidelity < 0.9999

    res = optimize(_pulse(problem), problem.objective, tol=1e6, progress=False)
    assert (res.reason, res.iterations, res.evaluations) == ("converged", 0, 1)

    res = optimize(
        _pulse(problem),
        problem.objective,
        callback=lambda p, r: r["iteration"] == 3,
        progress=False,
    )
    assert (res.reason, res.iterations) == ("callback", 3)


def test_converged_at_zero_gradient_or_when_a_step_leaves_the_parameters_unchanged():
    problem = QubitGate()
    # At the saddle u = 0 the gradient is exactly zero: converged before any step.
    pulse = StandInPWC(problem.times, torch.zeros(2, problem.nslices))
    res = optimize(pulse, problem.objective, max_iter=10, progress=False)
    assert (res.reason, res.iterations, res.evaluations) == ("converged", 0, 1)

    # LBFGS returns without moving when its own gradient tolerance is met.
    def lazy(params):
        return torch.optim.LBFGS(params, tolerance_grad=1e3, line_search_fn="strong_wolfe")

    res = optimize(_pulse(problem), problem.objective, optimizer=lazy, progress=False)
    assert (res.reason, res.iterations, len(res.history)) == ("converged", 1, 2)


# ----------------------------------------------------------------------------- history


def test_history_lengths_and_fields():
    problem = QubitGate()
    penalties = {"amplitude": (1e-3, lambda p: p().square().mean((-1, -2)))}
    res = optimize(
        _pulse(problem, batch=(2,)),
        problem.objective,
        penalties=penalties,
        max_iter=4,
        progress=False,
    )
    h = res.history
    n = res.iterations + 1
    assert res.iterations == 4 and len(h) == n
    assert h.fidelity.shape == h.grad_norm.shape == h.wall_s.shape == h.evaluations.shape == (n,)
    assert h.fidelities.shape == (n, 2)
    np.testing.assert_array_equal(h.fidelity, h.fidelities.max(-1))
    assert set(h.losses) == {"infidelity", "amplitude", "total"}
    assert all(v.shape == (n,) for v in h.losses.values())
    np.testing.assert_allclose(h.losses["infidelity"], (1 - h.fidelities).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(h.losses["total"], h.losses["infidelity"] + h.losses["amplitude"])
    assert np.all(h.losses["amplitude"] > 0) and np.all(h.grad_norm > 0)
    assert np.all(h.wall_s > 0) and sum(h.wall_s) <= res.wall_s
    assert h.evaluations[0] == 1 and h.evaluations[-1] == res.evaluations
    assert np.all(np.diff(h.evaluations) >= 1)
    assert h.fidelity[-1] == pytest.approx(res.fidelity) and h.fidelity[-1] > h.fidelity[0]
    assert "History(5 entries" in repr(h)


def test_result_repr_and_plot():
    problem = QubitGate()
    res = optimize(_pulse(problem), problem.objective, max_iter=2, progress=False)
    assert isinstance(res, OptimizeResult)
    assert "reason='max_iter'" in repr(res) and "iterations=2" in repr(res)
    ax_pulses, ax_history = res.plot()
    assert len(ax_pulses.patches) == 2  # one step curve per control
    assert len(ax_history.lines) == 1  # 1 - F; penalties and the total only when there are any


def test_values_is_none_for_a_module_without_forward():
    theta = torch.nn.ParameterList([torch.nn.Parameter(torch.tensor(0.3, dtype=torch.float64))])
    res = optimize(theta, lambda m: torch.sin(m[0] / 2) ** 2, target=0.999, progress=False)
    assert res.values is None and res.best_index == () and res.reason == "target reached"


# ----------------------------------------------------------------------------- optimisers


@pytest.mark.parametrize(
    ("optimizer", "lr", "max_iter"),
    [
        ("lbfgs", None, 30),
        ("LBFGS", 0.5, 30),
        ("adam", 0.05, 60),
        (torch.optim.RMSprop, 0.02, 60),
        (lambda params: torch.optim.SGD(params, lr=0.5, momentum=0.9), None, 60),
    ],
)
def test_optimizers(optimizer, lr, max_iter):
    problem = QubitGate()
    res = optimize(
        _pulse(problem),
        problem.objective,
        optimizer=optimizer,
        lr=lr,
        target=0.99,
        max_iter=max_iter,
        progress=False,
    )
    assert res.reason == "target reached", res
    if optimizer in ("adam", torch.optim.RMSprop):
        assert res.evaluations == res.iterations + 1  # one per step plus the start


def test_lbfgs_reuses_the_evaluation_at_the_current_parameters():
    problem = QubitGate()
    calls = []
    res = optimize(
        _pulse(problem),
        lambda p: calls.append(1) or problem.objective(p),
        max_iter=5,
        progress=False,
    )
    assert len(calls) == res.evaluations
    # Strong Wolfe usually accepts its first trial, so about one evaluation per iteration.
    assert res.evaluations <= 2 * res.iterations + 1


def test_progress_bar(capsys):
    problem = QubitGate()
    optimize(_pulse(problem), problem.objective, max_iter=2, progress=False)
    assert capsys.readouterr().err == ""
    optimize(_pulse(problem), problem.objective, max_iter=2, progress=True)
    assert "optimize" in capsys.readouterr().err


# ----------------------------------------------------------------------------- bad input


def _never_called(p):
    raise AssertionError("validation must happen before any evaluation")


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"pulse": torch.zeros(3)}, TypeError, "`pulse`"),
        ({"pulse": torch.nn.Module()}, ValueError, "`pulse`"),
        ({"fidelity": 1.0}, TypeError, "`fidelity`"),
        ({"optimizer": "bfgs"}, ValueError, "`optimizer`"),
        ({"optimizer": 3}, TypeError, "`optimizer`"),
        ({"optimizer": torch.nn.Linear}, TypeError, "`optimizer`"),
        (
            {"optimizer": lambda params: torch.optim.SGD(params, lr=1), "lr": 0.1},
            ValueError,
            "`lr`",
        ),
        ({"optimizer": lambda params: None}, TypeError, "`optimizer`"),
        ({"lr": -1.0}, ValueError, "`lr`"),
        ({"target": 0.0}, ValueError, "`target`"),
        ({"target": 1.5}, ValueError, "`target`"),
        ({"target": -0.5}, ValueError, "`target`"),
        ({"target": "high"}, ValueError, "`target`"),
        ({"max_iter": 0}, ValueError, "`max_iter`"),
        ({"max_iter": -3}, ValueError, "`max_iter`"),
        ({"max_iter": 2.5}, ValueError, "`max_iter`"),
        ({"max_iter": True}, ValueError, "`max_iter`"),
        ({"tol": -1.0}, ValueError, "`tol`"),
        ({"penalties": [1.0]}, TypeError, "`penalties`"),
        ({"penalties": {"a": 1.0}}, ValueError, "`penalties`"),
        ({"penalties": {"total": (1.0, abs)}}, ValueError, "`penalties`"),
        ({"penalties": {"a": (1.0, 2.0)}}, TypeError, r"`penalties\['a'\]`"),
        ({"callback": "print"}, TypeError, "`callback`"),
        ({"infidelity": "quadratic"}, ValueError, "`infidelity`"),
    ],
)
def test_bad_input_raises_before_any_work(kwargs, error, name):
    problem = QubitGate()
    args = {"pulse": _pulse(problem), "fidelity": _never_called, "progress": False} | kwargs
    with pytest.raises(error, match=name):
        optimize(args.pop("pulse"), args.pop("fidelity"), **args)


@pytest.mark.parametrize(
    ("fidelity", "error", "match"),
    [
        (lambda p: 0.5, TypeError, "`fidelity` must return a real"),
        (
            lambda p: torch.ones((), dtype=torch.complex128),
            TypeError,
            "`fidelity` must return a real",
        ),
        (lambda p: torch.tensor(0.5), ValueError, "depends on the parameters"),
    ],
)
def test_bad_fidelity_output(fidelity, error, match):
    with pytest.raises(error, match=match):
        optimize(_pulse(QubitGate()), fidelity, progress=False)


def test_bad_penalty_output():
    problem = QubitGate()
    wrong_shape = {"a": (1.0, lambda p: p().sum(-1))}
    with pytest.raises(ValueError, match="Penalty `a` must return shape"):
        optimize(_pulse(problem), problem.objective, penalties=wrong_shape, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"F": [0.5]}, TypeError, "`F`"),
        ({"mode": "best"}, ValueError, "`mode`"),
        ({"dim": 2}, ValueError, "`dim`"),
        ({"temperature": 0.0, "mode": "worst"}, ValueError, "`temperature`"),
        ({"temperature": 0.1}, ValueError, "`temperature`"),
    ],
)
def test_robust_bad_input(kwargs, error, name):
    args = {"F": torch.tensor([0.5, 0.6])} | kwargs
    with pytest.raises(error, match=name):
        robust(args.pop("F"), **args)
