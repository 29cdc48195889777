"""Gradients through the solve functions, for every method × gradient mode of the registries.

The matrix is `dynamics.method.ALL_METHODS` × `dynamics.gradient.ALL_GRADIENTS`; a case
is skipped when the method does not list the mode in `supported_gradients` or when the
solve function offers no term of the method's `term_kind` (capabilities, never names).
Methods are built by `systems.make_case` (adaptive at tight tolerances, exact step maps
without `dt` on piecewise-constant problems, fixed `dt` otherwise), which also gives the
error to expect from them.

- closed forms: dP/dΩ of a Rabi oscillation, d⟨a⟩/dκ and d⟨a⟩/dα of a damped coherent
  state, and for the other shared systems every parameter through a loss on all
  expectation values and all saved states (autograd of the closed form is the reference);
- `torch.autograd.gradcheck` in complex128 on small random problems for all four solve
  functions, with respect to H entries, jump operators, the initial state, pwc values,
  `exp_ops`, an `nn.Module` parameter in `qd.modulated` and a closure tensor given in
  `params=`;
- `Checkpointed` and `Adjoint` against `Direct` (the same steps are replayed);
- batched calls against the loop of single calls;
- Direct only: gradients with respect to the save times and the final time, and a
  Hessian–vector product;
- second derivatives through the replaying modes are refused with an error, and a pwc
  pulse's slice times cannot require grad (a clear error, not a silent zero).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import torch
from systems import DampedOscillator, PWCDrive, Rabi, System, make_case
from systems.gradients import (  # noqa: F401 (one_thread is an autouse fixture)
    fixed_step,
    make_gradient,
    one_thread,
    real_part_loss,
    supports,
)
from systems.methods import is_adaptive, kinds
from systems.modulated import Cosine, ModulatedDecay
from systems.qubits import CosineDrive

import dynamics as qd
from dynamics.gradient import ALL_GRADIENTS, Direct
from dynamics.method import ALL_METHODS

F64 = torch.float64
C128 = torch.complex128
SOLVERS = ("sesolve", "mesolve", "sepropagator", "mepropagator")
REPLAYING = tuple(g for g in ALL_GRADIENTS if g is not Direct)  # compared with Direct

# Gradients of a discretised solution converge like the solution: they are held to the
# error `make_case` expects of the states (measured: at most 0.28 of it, Euler's
# d⟨σz⟩/dt), with a floor for the round-off of exact methods (measured ≤ 6e-14).
GRAD_FACTOR = 1.0
GRAD_FLOOR = 1e-12


def grad_tol(case) -> float:
    """The gradient error to allow from the method of `case`."""
    return max(GRAD_FACTOR * case.tol, GRAD_FLOOR)


def _ids(classes) -> list[str]:
    return [c.__name__ for c in classes]


def _require(method_cls: type, gradient_cls: type, solver: str) -> None:
    """Skip unless the method supports the mode and applies to the solve function."""
    if not supports(method_cls, gradient_cls):
        pytest.skip(f"{method_cls.__name__} does not support {gradient_cls.__name__}")
    if method_cls.term_kind not in kinds(solver):
        pytest.skip(f"{solver} offers no {method_cls.term_kind!r} term")


def _state_solver(method_cls: type) -> str:
    """`sesolve` if the method applies to it, else `mesolve` (Lindblad-only methods)."""
    return "sesolve" if method_cls.term_kind in kinds("sesolve") else "mesolve"


def _rel_err(got, want) -> float:
    """Largest error relative to `max(1, |want|)` over a list of tensors."""
    return max(
        float((g - w).abs().max() / max(1.0, float(w.abs().max()))) for g, w in zip(got, want)
    )


def _grad_all(system: System):
    """Make every parameter of `system` require grad and return them."""
    return [x.requires_grad_() for x in system.params.values()]


matrix = pytest.mark.parametrize("gradient_cls", ALL_GRADIENTS, ids=_ids(ALL_GRADIENTS))
methods = pytest.mark.parametrize("method_cls", ALL_METHODS, ids=_ids(ALL_METHODS))


# ----------------------------------------------------------------- named closed forms


@methods
@matrix
def test_rabi_dp_domega(method_cls, gradient_cls):
    """dP_e/dΩ and dP_e/dΔ of a Rabi oscillation, at every save time."""
    solver = _state_solver(method_cls)
    _require(method_cls, gradient_cls, solver)
    rabi = Rabi()
    tsave = torch.linspace(0.0, 3.0, 7, dtype=F64)
    case = make_case(method_cls, piecewise_constant=True)
    omega, delta = _grad_all(rabi)
    res = rabi.run(case.method, solver=solver, tsave=tsave, gradient=make_gradient(gradient_cls))
    w = torch.linspace(1.0, -0.5, len(tsave), dtype=F64)
    p_excited = (1 + res.expects[0].real) / 2  # exp_ops[0] = σz
    got = torch.autograd.grad((w * p_excited).sum(), (omega, delta))
    with torch.no_grad():
        want = ((w * rabi.dp_domega(tsave)).sum(), (w * rabi.dp_ddelta(tsave)).sum())
    assert _rel_err(got, want) <= grad_tol(case), (got, want)


@methods
@matrix
def test_damped_coherent_state(method_cls, gradient_cls):
    """d⟨a⟩/dκ, d⟨a⟩/dα, d⟨a†a⟩/dκ, d⟨a†a⟩/dα of a damped coherent state, all save times."""
    _require(method_cls, gradient_cls, "mesolve")
    # n = 12 and α = 0.5 keep the truncation error near 1e-13 and Expm's n²-dimensional
    # exponentials cheap.
    osc = DampedOscillator(n=12, alpha=0.5)
    tsave = torch.linspace(0.0, 2.0, 5, dtype=F64)
    case = make_case(method_cls, piecewise_constant=True)
    alpha, kappa = osc.params["alpha"].requires_grad_(), osc.params["kappa"].requires_grad_()
    res = osc.run(case.method, tsave=tsave, gradient=make_gradient(gradient_cls))
    a_mean, n_mean = res.expects  # exp_ops = [a, a†a]
    loss = real_part_loss(a_mean, 0) + real_part_loss(n_mean.real, 1)
    got = torch.autograd.grad(loss, (alpha, kappa))
    with torch.no_grad():
        want_alpha = real_part_loss(osc.da_dalpha(tsave), 0) + real_part_loss(
            osc.dn_dalpha(tsave), 1
        )
        want_kappa = real_part_loss(osc.da_dkappa(tsave), 0) + real_part_loss(
            osc.dn_dkappa(tsave), 1
        )
    assert _rel_err(got, (want_alpha, want_kappa)) <= grad_tol(case)


# ----------------------------------------------------------- every parameter, every output


@dataclasses.dataclass(frozen=True)
class Problem:
    """A shared system solved by `solver` at `tsave`."""

    make: Callable[[], System]
    solver: str
    tsave: torch.Tensor
    name: str

    def __repr__(self) -> str:
        return self.name


PROBLEMS = [
    # pwc values on slices off the save grid, with dephasing
    Problem(lambda: PWCDrive(gamma=0.15), "mesolve", torch.linspace(0.0, 3.5, 8), "pwc-mesolve"),
    # a smooth modulated pulse whose frequency hides in a closure (needs `params=`)
    Problem(CosineDrive, "sesolve", torch.linspace(0.25, 2.25, 5), "closure-sesolve"),
    # a time-dependent jump operator modulated by an `nn.Module`
    Problem(ModulatedDecay, "mesolve", torch.linspace(0.0, 2.0, 5), "modulated_jump-mesolve"),
]


def _loss(expects: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """A real loss using every expectation value and every saved state."""
    return real_part_loss(expects, 0) + real_part_loss(states, 1)


@pytest.mark.parametrize("problem", PROBLEMS, ids=str)
@methods
@matrix
def test_gradients_match_closed_form(problem, method_cls, gradient_cls):
    """Every parameter, through all `expects` at all times and all saved states."""
    _require(method_cls, gradient_cls, problem.solver)
    system = problem.make()
    case = make_case(method_cls, piecewise_constant=system.piecewise_constant)
    params = _grad_all(system)
    hidden = [system.params[k] for k in system.hidden_params]
    gradient = make_gradient(gradient_cls, params=hidden)
    tsave = problem.tsave.to(F64)
    res = system.run(case.method, solver=problem.solver, tsave=tsave, gradient=gradient)
    got = torch.autograd.grad(_loss(res.expects, res.states), params)
    exact = _loss(system.expects(tsave), system.state(tsave, problem.solver))
    want = torch.autograd.grad(exact, params)
    assert _rel_err(got, want) <= grad_tol(case), dict(zip(system.params, got))


# ------------------------------------------------------------------ random small problems

# Two pwc slices whose edges are off the save grid; with `dt = 0.25` the Runge–Kutta
# methods take 3 steps (they stop on the edges) and save at 0.2 by dense output.
TIMES = torch.tensor([0.0, 0.15, 0.35], dtype=F64)
TSAVE = torch.tensor([0.0, 0.2, 0.5], dtype=F64)
DT = 0.25
INPUTS = {  # the leaf tensors each solve function depends on
    "sesolve": ("H0", "values", "frequency", "c", "psi0", "E"),
    "mesolve": ("H0", "values", "frequency", "c", "L", "psi0", "E"),
    "sepropagator": ("H0", "values", "frequency", "c"),
    "mepropagator": ("H0", "values", "frequency", "c", "L"),
}


def random_inputs(n: int, seed: int = 0, batch: tuple[int, ...] = ()) -> dict:
    """Leaf tensors of a random n-level problem (`values`, `psi0`, `L` with batch shape `batch`).

    `H0` Hermitian, `L` and `L2` jump operators, pwc `values` on the slices `TIMES`, the
    modulation frequency `frequency` (an `nn.Parameter` of a `Cosine` module), a closure
    scalar `c`, an initial ket `psi0`, and an exp_op `E`.
    """
    g = torch.Generator().manual_seed(seed)

    def cmat(scale: float, batch: tuple[int, ...] = ()) -> torch.Tensor:
        return scale * torch.randn(*batch, n, n, dtype=C128, generator=g) / n**0.5

    H0 = cmat(1.0)
    psi0 = torch.randn(*batch, n, 1, dtype=C128, generator=g)
    out = {
        "H0": (H0 + H0.mH) / 2,
        "values": torch.randn(*batch, len(TIMES) - 1, dtype=F64, generator=g),
        "frequency": torch.nn.Parameter(torch.tensor(1.7, dtype=F64)),
        "c": torch.tensor(0.8, dtype=F64),
        "L": cmat(0.6, batch),
        "L2": cmat(0.5),
        "psi0": psi0 / torch.linalg.vector_norm(psi0, dim=-2, keepdim=True),
        "E": cmat(1.0),
        "X": cmat(0.7),
        "Y": cmat(0.7),
        "Z": cmat(0.7),
    }
    for k in ("X", "Y", "Z"):
        out[k] = (out[k] + out[k].mH) / 2
    return out


def random_solve(solver: str, x: dict, method, gradient, tsave=TSAVE) -> tuple:
    """Solve the random problem `x` with `solver`; return every output.

    `H = H0 + pwc(values) X + cos(ν t) Y` (`Cosine` module), plus for the Schrödinger
    solvers `sin(c t) Z` (a closure); jump operators `L` and `e^{-c t} L2` (closure).
    """
    H = (
        qd.constant(x["H0"])
        + qd.pwc(TIMES, x["values"], x["X"])
        + qd.modulated(Cosine(x["frequency"]), x["Y"])
    )
    c = x["c"]
    jumps = [x["L"], qd.modulated(lambda t: torch.exp(-c * t), x["L2"])]
    kw = {"method": method, "gradient": gradient}
    if solver == "sesolve":
        H = H + qd.modulated(lambda t: torch.sin(c * t), x["Z"])
        res = qd.sesolve(H, x["psi0"], tsave, exp_ops=[x["E"], x["X"]], **kw)
        return res.states, res.expects, res.final_state
    if solver == "mesolve":
        res = qd.mesolve(H, jumps, x["psi0"], tsave, exp_ops=[x["E"], x["X"]], **kw)
        return res.states, res.expects, res.final_state
    if solver == "sepropagator":
        H = H + qd.modulated(lambda t: torch.sin(c * t), x["Z"])
        return (qd.sepropagator(H, tsave, **kw).propagators,)
    return (qd.mepropagator(H, jumps, tsave, **kw).propagators,)


@pytest.mark.parametrize("solver", SOLVERS)
@methods
@matrix
def test_gradcheck(solver, method_cls, gradient_cls):
    """gradcheck (fast mode: `vᵀJu` for random `u`, `v`) in complex128, fixed steps, n = 2, 3.

    The closure scalar `c` is passed in `params=` (the replaying modes need it; Direct
    sees it anyway); the `nn.Module` parameter `frequency` is found automatically.
    """
    _require(method_cls, gradient_cls, solver)
    x = random_inputs(n=3 if solver == "sesolve" else 2)
    names = INPUTS[solver]
    leaves = tuple(x[k].detach().requires_grad_() if k != "frequency" else x[k] for k in names)
    method = fixed_step(method_cls, dt=DT)

    def run(*args):
        y = {**x, **dict(zip(names, args))}
        gradient = make_gradient(gradient_cls, params=(y["c"],), segments=2)
        return random_solve(solver, y, method, gradient)

    assert torch.autograd.gradcheck(run, leaves, fast_mode=True)


# ------------------------------------------------------------------- modes against Direct


def _mode_gradients(solver, method, gradient, x, names, tsave) -> list[torch.Tensor]:
    leaves = [x[k] for k in names]
    outs = random_solve(solver, x, method, gradient, tsave)
    loss = sum(real_part_loss(o, k) for k, o in enumerate(outs))
    return list(torch.autograd.grad(loss, leaves))


@pytest.mark.parametrize("solver", SOLVERS)
@methods
@pytest.mark.parametrize("gradient_cls", REPLAYING, ids=_ids(REPLAYING))
def test_replaying_modes_equal_direct(solver, method_cls, gradient_cls):
    """Checkpointed and Adjoint replay the forward steps: they must give Direct's numbers.

    The issue asks for agreement to 1e-6 at tight tolerances; the same steps are replayed,
    so the gradients agree to round-off (measured ≤ 5e-15), which is what is asserted.
    """
    _require(method_cls, gradient_cls, solver)
    n = 3 if solver in ("sesolve", "mesolve") else 2
    x = random_inputs(n, seed=1)
    names = INPUTS[solver]
    for k in names:
        x[k].requires_grad_()
    tsave = torch.linspace(0.0, 0.6, 4, dtype=F64)
    tight = make_case(method_cls, piecewise_constant=False, rtol=1e-10).method
    method = tight if is_adaptive(method_cls) else fixed_step(method_cls, dt=0.05)
    want = _mode_gradients(solver, method, Direct(), x, names, tsave)
    for segments in (None, 3):
        gradient = make_gradient(gradient_cls, params=(x["c"],), segments=segments)
        got = _mode_gradients(solver, method, gradient, x, names, tsave)
        err = _rel_err(got, want)
        assert err <= 1e-6, (gradient, err)
        assert err <= 1e-10, f"{gradient}: {err:.1e} (replays should reproduce Direct exactly)"


# ----------------------------------------------------------------------------- batching

BATCH = 2


@pytest.mark.parametrize("solver", SOLVERS)
@methods
@matrix
def test_batched_gradients_equal_per_element(solver, method_cls, gradient_cls):
    """A batch of pulses, initial states and jump operators differentiates like a loop.

    Per-element tensors get the per-element gradients, shared ones their sum. Fixed steps:
    every element sees the same steps alone or in the batch, so they agree to round-off
    (an adaptive batch shares one step size, which moves the steps of each element).
    """
    _require(method_cls, gradient_cls, solver)
    x = random_inputs(n=2, seed=2, batch=(BATCH,))
    names = INPUTS[solver]
    for k in names:
        x[k].requires_grad_()
    method = fixed_step(method_cls, dt=DT)
    tol = 1e-11

    def loss(outs):
        return sum(real_part_loss(o, k) for k, o in enumerate(outs))

    gradient = make_gradient(gradient_cls, params=(x["c"],), segments=2)
    leaves = [x[k] for k in names]
    got = torch.autograd.grad(loss(random_solve(solver, x, method, gradient)), leaves)
    total = 0.0
    for b in range(BATCH):
        xb = {**x, "values": x["values"][b], "psi0": x["psi0"][b], "L": x["L"][b]}
        outs = random_solve(solver, xb, method, gradient)
        # the batch loss is the sum over the elements of the same weights, element-wise
        total = total + sum(real_part_loss_row(o, k, b) for k, o in enumerate(outs))
    want = torch.autograd.grad(total, leaves)
    assert _rel_err(got, want) <= tol


def real_part_loss_row(z: torch.Tensor, seed: int, b: int) -> torch.Tensor:
    """The term of `real_part_loss(batched z, seed)` that belongs to batch element `b`."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(BATCH, *z.shape, 2, dtype=F64, generator=g)[b]
    if not z.is_complex():
        return (w[..., 0] * z).sum()
    return (w[..., 0] * z.real + w[..., 1] * z.imag).sum()


# ------------------------------------------------------------------------- Direct only

TSAVE_METHODS = [cls for cls in ALL_METHODS if cls.tsave_gradient]
NO_TSAVE_METHODS = [cls for cls in ALL_METHODS if not cls.tsave_gradient]


@pytest.mark.parametrize("method_cls", TSAVE_METHODS, ids=_ids(TSAVE_METHODS))
@pytest.mark.parametrize("solver", ["sesolve", "mesolve"])
def test_gradient_wrt_save_times_and_final_time(method_cls, solver):
    """d⟨σz⟩(t_k)/dt_k of a Rabi oscillation, the last one being the pulse duration T.

    `d⟨σz⟩/dt = −Ω²/Ω_R sin(Ω_R t)`; solved from `t0 = 0` (the first save time is not t0).
    """
    _require(method_cls, Direct, solver)
    rabi = Rabi()
    case = make_case(method_cls, piecewise_constant=True)
    tsave = torch.tensor([0.4, 1.3, 2.2, 3.1], dtype=F64, requires_grad=True)
    res = rabi.run(case.method, solver=solver, tsave=tsave, options=qd.Options(t0=0.0))
    sz = res.expects[0].real
    w = torch.tensor([0.5, -1.0, 2.0, 1.0], dtype=F64)
    (got,) = torch.autograd.grad((w * sz).sum(), tsave)
    omega, delta = rabi.params["omega"], rabi.params["delta"]
    wr = torch.sqrt(omega**2 + delta**2)
    want = w * (-(omega**2) / wr * torch.sin(wr * tsave.detach()))
    assert _rel_err([got], [want]) <= grad_tol(case), (got, want)
    # the final time alone: d⟨σz⟩(T)/dT
    T = torch.tensor(2.7, dtype=F64, requires_grad=True)
    tsave = torch.stack([torch.zeros_like(T), T])
    res = rabi.run(case.method, solver=solver, tsave=tsave, options=qd.Options())
    (got_T,) = torch.autograd.grad(res.expects[0, -1].real, T)
    want_T = -(omega**2) / wr * torch.sin(wr * 2.7)
    assert abs(float(got_T - want_T)) <= grad_tol(case)


@pytest.mark.parametrize("method_cls", NO_TSAVE_METHODS, ids=_ids(NO_TSAVE_METHODS))
def test_save_time_gradient_rejected_by_step_maps(method_cls):
    """Methods without `tsave_gradient` say so before integrating."""
    solver = _state_solver(method_cls)
    case = make_case(method_cls, piecewise_constant=True)
    tsave = torch.tensor([0.0, 0.5, 1.0], dtype=F64, requires_grad=True)
    with pytest.raises(ValueError, match="tsave"):
        Rabi().run(case.method, solver=solver, tsave=tsave, options=qd.Options())


@methods
def test_hessian_vector_product(method_cls):
    """Second derivatives through Direct (`create_graph=True`): H·v of P_e(T) in (Ω, Δ)."""
    solver = _state_solver(method_cls)
    _require(method_cls, Direct, solver)
    rabi = Rabi()
    case = make_case(method_cls, piecewise_constant=True)
    tsave = torch.tensor([0.0, 1.0, 2.0], dtype=F64)
    theta = torch.stack(list(rabi.params.values())).detach().requires_grad_()  # (Ω, Δ)
    p = dict(zip(rabi.params, theta))
    kw = {"exp_ops": [rabi.exp_ops[0]], "method": case.method, "gradient": Direct()}
    if solver == "sesolve":
        res = qd.sesolve(rabi.H(p), rabi.psi0(), tsave, **kw)
    else:
        res = qd.mesolve(rabi.H(p), [], rabi.psi0(), tsave, **kw)
    p_excited = (1 + res.expects[0, -1].real) / 2
    (g,) = torch.autograd.grad(p_excited, theta, create_graph=True)
    v = torch.tensor([0.3, -1.1], dtype=F64)
    (hv,) = torch.autograd.grad(g @ v, theta)

    def exact(th):  # P_e(T) = 1 − Ω²/Ω_R² sin²(Ω_R T/2)
        wr2 = th[0] ** 2 + th[1] ** 2
        return 1 - th[0] ** 2 / wr2 * torch.sin(torch.sqrt(wr2) * tsave[-1] / 2) ** 2

    want = torch.autograd.functional.hessian(exact, theta.detach()) @ v
    assert _rel_err([hv], [want]) <= grad_tol(case), (hv, want)


@pytest.mark.parametrize("gradient_cls", REPLAYING, ids=_ids(REPLAYING))
def test_second_derivatives_of_replaying_modes_are_right_or_refused(gradient_cls):
    """Second derivatives need Direct; another mode must not return a wrong one silently."""
    v = torch.tensor([0.3, -1.1], dtype=F64)

    def hvp(gradient):
        rabi = Rabi()
        theta = torch.stack(list(rabi.params.values())).detach().requires_grad_()
        tsave = torch.tensor([0.0, 1.0, 2.0], dtype=F64)
        H = rabi.H(dict(zip(rabi.params, theta)))
        method = qd.method.Tsit5(rtol=1e-10, atol=1e-12)
        res = qd.sesolve(
            H, rabi.psi0(), tsave, exp_ops=[qd.sigmaz()], method=method, gradient=gradient
        )
        loss = (1 + res.expects[0, -1].real) / 2 + (theta**2).sum() / 2
        (g,) = torch.autograd.grad(loss, theta, create_graph=True)
        return torch.autograd.grad(g @ v, theta)[0]

    want = hvp(Direct())
    try:
        got = hvp(make_gradient(gradient_cls))
    except (RuntimeError, ValueError):
        return  # refused explicitly: acceptable
    assert _rel_err([got], [want]) <= 1e-8, (got, want)


def test_gradient_wrt_pwc_pulse_duration():
    """d⟨σz⟩(T)/dT for `H = pwc(T·u, Ω, σx/2)` from |0⟩: ⟨σz⟩ = cos θ, θ = T Σ_k Ω_k Δu_k."""
    u = torch.tensor([0.0, 0.3, 0.55, 1.0], dtype=F64)
    omega = torch.tensor([1.3, -0.4, 2.0], dtype=F64)
    T = torch.tensor(1.7, dtype=F64, requires_grad=True)
    tsave = torch.stack([torch.zeros_like(T), T])
    method = qd.method.Tsit5(rtol=1e-10, atol=1e-12)
    try:
        H = qd.pwc(T * u, omega, qd.sigmax() / 2)
        res = qd.sesolve(H, qd.basis(2, 0), tsave, exp_ops=[qd.sigmaz()], method=method)
    except ValueError:
        return  # refused explicitly: acceptable
    (got,) = torch.autograd.grad(res.expects[0, -1].real, T)
    rate = (omega * u.diff()).sum()  # dθ/dT
    want = -torch.sin(T.detach() * rate) * rate
    assert abs(float(got - want)) <= 1e-7, (got, want)
