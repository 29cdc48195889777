"""Agreement with QuTiP 5 on random problems (dimensions 2 to 10, fixed seeds).

QuTiP runs at `atol=1e-12, rtol=1e-10`; qdynamics' adaptive methods (every method of
the registry with an error estimate) at `rtol=1e-10, atol=1e-12`. The target is the
design's: agreement to 1e-6 in double precision. Fixed-step methods are compared at a
small `dt` with the looser tolerance `systems.make_case` gives for their order.
QuTiP's superoperators use column stacking, as `mepropagator` does.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import qutip
import torch
from systems import make_case
from systems.methods import exact_on_pwc, is_adaptive, kinds

import dynamics as qd
from dynamics.method import ALL_METHODS

F64 = torch.float64
QUTIP_OPTIONS = {"atol": 1e-12, "rtol": 1e-10, "nsteps": 1_000_000}
AGREEMENT = 1e-6
DIMS = (2, 5, 10)
TSAVE = np.linspace(0.0, 2.0, 6)

ADAPTIVE_METHODS = [c for c in ALL_METHODS if is_adaptive(c)]
FIXED_METHODS = [c for c in ALL_METHODS if not is_adaptive(c)]
EXACT_METHODS = [c for c in ALL_METHODS if exact_on_pwc(c)]


def _ids(classes) -> list[str]:
    return [c.__name__ for c in classes]


def tight(cls: type):
    """An adaptive method at the tolerances of this module."""
    return make_case(cls, piecewise_constant=False, rtol=1e-10, atol=1e-12).method


def require(cls: type, solver: str) -> None:
    if cls.term_kind not in kinds(solver):
        pytest.skip(f"{solver} offers no {cls.term_kind!r} term")


def full(states) -> np.ndarray:
    """QuTiP states or propagators as a `(nt, n, m)` array."""
    return np.stack([s.full() for s in states])


def expects(result) -> np.ndarray:
    return np.stack([np.asarray(e, dtype=complex) for e in result.expect])


def assert_agree(actual: torch.Tensor, expected: np.ndarray, tol: float = AGREEMENT) -> None:
    err = np.abs(actual.detach().numpy() - expected).max()
    assert err <= tol, f"max deviation from QuTiP {err:.2e} > {tol:.0e}"


# ------------------------------------------------------------------ random problems


def random_problem(n: int, seed: int, njumps: int = 2) -> dict:
    """A random Hamiltonian, initial ket and density matrix, non-Hermitian jump operators
    (Gaussian entries, scaled to rates ≈ 0.1–1), a Hermitian and a non-Hermitian `exp_ops`."""
    rng = np.random.default_rng(seed)
    gaussian = rng.normal(size=(njumps, n, n)) + 1j * rng.normal(size=(njumps, n, n))
    return {
        "H": qutip.rand_herm(n, density=1.0, seed=seed),
        "H1": qutip.rand_herm(n, density=1.0, seed=seed + 100),
        "psi0": qutip.rand_ket(n, seed=seed),
        "rho0": qutip.rand_dm(n, seed=seed),
        "jump_ops": [qutip.Qobj(0.5 * g / np.sqrt(n)) for g in gaussian],
        "exp_ops": [qutip.rand_herm(n, seed=seed + 200), qutip.destroy(n)],
    }


@pytest.mark.parametrize("method_cls", ADAPTIVE_METHODS, ids=_ids(ADAPTIVE_METHODS))
@pytest.mark.parametrize("n", DIMS)
def test_sesolve_random(n, method_cls):
    p = random_problem(n, seed=n)
    ref = qutip.sesolve(p["H"], p["psi0"], TSAVE, e_ops=p["exp_ops"], options=QUTIP_OPTIONS)
    ref_states = qutip.sesolve(p["H"], p["psi0"], TSAVE, options=QUTIP_OPTIONS).states
    res = qd.sesolve(p["H"], p["psi0"], TSAVE, exp_ops=p["exp_ops"], method=tight(method_cls))
    assert_agree(res.states, full(ref_states))
    assert_agree(res.expects, expects(ref))


@pytest.mark.parametrize("method_cls", ADAPTIVE_METHODS, ids=_ids(ADAPTIVE_METHODS))
@pytest.mark.parametrize("n", DIMS)
def test_mesolve_random(n, method_cls):
    p = random_problem(n, seed=n)
    args = (p["H"], p["rho0"], TSAVE, p["jump_ops"])
    ref = qutip.mesolve(*args, e_ops=p["exp_ops"], options=QUTIP_OPTIONS)
    ref_states = qutip.mesolve(*args, options=QUTIP_OPTIONS).states
    res = qd.mesolve(
        p["H"], p["jump_ops"], p["rho0"], TSAVE, exp_ops=p["exp_ops"], method=tight(method_cls)
    )
    assert_agree(res.states, full(ref_states))
    assert_agree(res.expects, expects(ref))


# ------------------------------------------------------------------ time dependence


def modulated_problem(n: int = 4, seed: int = 7):
    """`H0 + cos(t) H1` with a jump operator modulated by `0.5 (1 + 0.5 sin t)`, in both APIs."""
    p = random_problem(n, seed, njumps=2)
    L0, L1 = p["jump_ops"]
    qutip_H = [p["H"], [p["H1"], lambda t: np.cos(t)]]
    qutip_jumps = [L0, [L1, lambda t: 0.5 * (1 + 0.5 * np.sin(t))]]
    qd_H = qd.to_tensor(p["H"]) + qd.modulated(lambda t: torch.cos(t), p["H1"])
    qd_jumps = [L0, qd.modulated(lambda t: 0.5 * (1 + 0.5 * torch.sin(t)), L1)]
    return p, (qutip_H, qutip_jumps), (qd_H, qd_jumps)


@pytest.mark.parametrize("method_cls", ADAPTIVE_METHODS, ids=_ids(ADAPTIVE_METHODS))
def test_sesolve_modulated_drive(method_cls):
    p, (qH, _), (H, _) = modulated_problem()
    ref = qutip.sesolve(qH, p["psi0"], TSAVE, e_ops=p["exp_ops"], options=QUTIP_OPTIONS)
    res = qd.sesolve(H, p["psi0"], TSAVE, exp_ops=p["exp_ops"], method=tight(method_cls))
    assert_agree(res.expects, expects(ref))


@pytest.mark.parametrize("method_cls", ADAPTIVE_METHODS, ids=_ids(ADAPTIVE_METHODS))
def test_mesolve_modulated_drive_and_time_dependent_jump_ops(method_cls):
    p, (qH, qL), (H, L) = modulated_problem()
    ref = qutip.mesolve(qH, p["rho0"], TSAVE, qL, options=QUTIP_OPTIONS)
    res = qd.mesolve(H, L, p["rho0"], TSAVE, method=tight(method_cls))
    assert_agree(res.states, full(ref.states))


@pytest.mark.parametrize("method_cls", ADAPTIVE_METHODS, ids=_ids(ADAPTIVE_METHODS))
def test_t0_before_first_save_time(method_cls):
    p, (qH, qL), (H, L) = modulated_problem()
    t0, tsave = 0.3, np.array([0.7, 1.2, 2.5])
    ref = qutip.mesolve(qH, p["rho0"], np.concatenate([[t0], tsave]), qL, options=QUTIP_OPTIONS)
    res = qd.mesolve(H, L, p["rho0"], tsave, method=tight(method_cls), options=qd.Options(t0=t0))
    assert torch.equal(res.tsave, torch.as_tensor(tsave, dtype=F64))
    assert_agree(res.states, full(ref.states[1:]))


@pytest.mark.parametrize("method_cls", ADAPTIVE_METHODS, ids=_ids(ADAPTIVE_METHODS))
def test_t0_before_first_save_time_propagator(method_cls):
    """The propagator is from `t0` (identity there), not from `tsave[0]`."""
    _, (qH, qL), (H, L) = modulated_problem(n=2)
    t0, tsave = 0.3, np.array([0.7, 2.5])
    ref = qutip.propagator(qH, np.concatenate([[t0], tsave]), qL, options=QUTIP_OPTIONS)
    res = qd.mepropagator(H, L, tsave, method=tight(method_cls), options=qd.Options(t0=t0))
    assert_agree(res.propagators, full(ref[1:]))


def test_exp_ops_list_and_tensor_agree_with_qutip():
    """`exp_ops` as a list of operators (QuTiP objects, arrays, tensors) or a stacked tensor."""
    p = random_problem(4, seed=21)
    E = [p["exp_ops"][0], p["exp_ops"][1].full(), qd.to_tensor(p["jump_ops"][0])]
    e_ops = [qd.to_qutip(x) for x in E]
    ref = qutip.mesolve(p["H"], p["rho0"], TSAVE, p["jump_ops"], e_ops=e_ops, options=QUTIP_OPTIONS)
    method = tight(ADAPTIVE_METHODS[0])
    as_list = qd.mesolve(p["H"], p["jump_ops"], p["rho0"], TSAVE, exp_ops=E, method=method)
    stacked = torch.stack([qd.to_tensor(x) for x in E])
    as_tensor = qd.mesolve(p["H"], p["jump_ops"], p["rho0"], TSAVE, exp_ops=stacked, method=method)
    assert as_list.expects.shape == (3, len(TSAVE))
    assert_agree(as_list.expects, expects(ref))
    torch.testing.assert_close(as_tensor.expects, as_list.expects, rtol=0, atol=1e-14)


# ------------------------------------------------------------------ propagators


@pytest.mark.parametrize("method_cls", ADAPTIVE_METHODS, ids=_ids(ADAPTIVE_METHODS))
def test_sepropagator_modulated(method_cls):
    _, (qH, _), (H, _) = modulated_problem()
    ref = qutip.propagator(qH, TSAVE, options=QUTIP_OPTIONS)
    res = qd.sepropagator(H, TSAVE, method=tight(method_cls))
    assert_agree(res.propagators, full(ref))


@pytest.mark.parametrize("method_cls", ADAPTIVE_METHODS, ids=_ids(ADAPTIVE_METHODS))
@pytest.mark.parametrize("n", (2, 3))
def test_mepropagator_time_dependent(n, method_cls):
    _, (qH, qL), (H, L) = modulated_problem(n=n)
    ref = qutip.propagator(qH, TSAVE, qL, options=QUTIP_OPTIONS)
    res = qd.mepropagator(H, L, TSAVE, method=tight(method_cls))
    assert res.propagators.shape == (len(TSAVE), n * n, n * n)
    assert_agree(res.propagators, full(ref))


# ------------------------------------------------------------------ exact and fixed-step methods


@pytest.mark.parametrize("method_cls", EXACT_METHODS, ids=_ids(EXACT_METHODS))
@pytest.mark.parametrize("solver", ["sesolve", "mesolve", "sepropagator", "mepropagator"])
def test_exact_method_constant_H(solver, method_cls):
    require(method_cls, solver)
    p = random_problem(3, seed=11)
    H, L, m = p["H"], p["jump_ops"], method_cls()
    if solver == "sesolve":
        ref = full(qutip.sesolve(H, p["psi0"], TSAVE, options=QUTIP_OPTIONS).states)
        res = qd.sesolve(H, p["psi0"], TSAVE, method=m).states
    elif solver == "mesolve":
        ref = full(qutip.mesolve(H, p["rho0"], TSAVE, L, options=QUTIP_OPTIONS).states)
        res = qd.mesolve(H, L, p["rho0"], TSAVE, method=m).states
    elif solver == "sepropagator":
        ref = full(qutip.propagator(H, TSAVE, options=QUTIP_OPTIONS))
        res = qd.sepropagator(H, TSAVE, method=m).propagators
    else:
        ref = full(qutip.propagator(H, TSAVE, L, options=QUTIP_OPTIONS))
        res = qd.mepropagator(H, L, TSAVE, method=m).propagators
    assert_agree(res, ref)


def pwc_problem(n: int = 3, seed: int = 5):
    """`H0 + u(t) H1` with `u` piecewise constant on slices off the save grid."""
    p = random_problem(n, seed)
    times = np.array([0.0, 0.3, 0.75, 1.1, 1.6, 1.9])
    values = np.array([0.8, -1.2, 0.5, 2.0, -0.4])
    coeff = qutip.coefficient(np.append(values, 0.0), tlist=times, order=0)
    qH = [p["H"], [p["H1"], coeff]]
    H = qd.to_tensor(p["H"]) + qd.pwc(times, values, p["H1"])
    return p, times, qH, H


def qutip_piecewise(solve, times: np.ndarray, tsave: np.ndarray, state):
    """Run a QuTiP solve slice by slice between the pulse's jumps (each solve sees a smooth
    problem), returning the states at `tsave`."""
    knots = np.union1d(times, tsave)
    states, out = state, {}
    for a, b in itertools.pairwise(knots):
        states = solve(states, np.array([a, b])).states[-1]
        out[b] = states
    out[knots[0]] = state
    return [out[t] for t in tsave]


@pytest.mark.parametrize("method_cls", EXACT_METHODS, ids=_ids(EXACT_METHODS))
@pytest.mark.parametrize("solver", ["sesolve", "mesolve"])
def test_exact_method_pwc_H(solver, method_cls):
    require(method_cls, solver)
    p, times, qH, H = pwc_problem()
    L = p["jump_ops"]
    if solver == "sesolve":

        def solve(psi, tl):
            return qutip.sesolve(qH, psi, tl, options=QUTIP_OPTIONS)

        ref = qutip_piecewise(solve, times, TSAVE, p["psi0"])
        res = qd.sesolve(H, p["psi0"], TSAVE, method=method_cls())
    else:

        def solve(rho, tl):
            return qutip.mesolve(qH, rho, tl, L, options=QUTIP_OPTIONS)

        ref = qutip_piecewise(solve, times, TSAVE, p["rho0"])
        res = qd.mesolve(H, L, p["rho0"], TSAVE, method=method_cls())
    assert_agree(res.states, full(ref))


@pytest.mark.parametrize("method_cls", EXACT_METHODS, ids=_ids(EXACT_METHODS))
def test_exact_method_pwc_propagator(method_cls):
    _, times, qH, H = pwc_problem()
    ref = qutip.propagator(qH, TSAVE, options=QUTIP_OPTIONS, piecewise_t=list(times))
    res = qd.sepropagator(H, TSAVE, method=method_cls())
    assert_agree(res.propagators, full(ref))


@pytest.mark.parametrize("method_cls", FIXED_METHODS, ids=_ids(FIXED_METHODS))
def test_fixed_step_methods_mesolve_modulated(method_cls):
    """Every fixed-step method (Rouchon, Euler, RK4, Expm with `dt`) at a small `dt`."""
    require(method_cls, "mesolve")
    p, (qH, qL), (H, L) = modulated_problem()
    case = make_case(method_cls, piecewise_constant=False)
    ref = qutip.mesolve(qH, p["rho0"], TSAVE, qL, e_ops=p["exp_ops"], options=QUTIP_OPTIONS)
    res = qd.mesolve(H, L, p["rho0"], TSAVE, exp_ops=p["exp_ops"], method=case.method)
    assert_agree(res.expects, expects(ref), tol=case.tol)


# ------------------------------------------------------------------ stiff jump operators


@pytest.mark.parametrize("layout", ["dense", "banded"])
def test_two_photon_loss_stays_hermitian_and_stable(layout):
    """`L = a² − α²` (two-photon loss towards a cat manifold): `‖L‖² ≈ n²` amplifies any
    anti-Hermitian rounding in ρ unless the right-hand side is exactly Hermitian."""
    n = 16
    a = qutip.destroy(n)
    L = a * a - 4 * qutip.qeye(n)
    tsave = np.linspace(0.0, 3.0, 31)
    ref = qutip.mesolve(
        0 * a, qutip.fock_dm(n, 0), tsave, [L], e_ops=[a.dag() * a], options=QUTIP_OPTIONS
    )
    res = qd.mesolve(
        0 * a,
        [L],
        qutip.fock_dm(n, 0),
        tsave,
        exp_ops=[a.dag() * a],
        options=qd.Options(layout=layout),
    )
    assert torch.equal(res.states, res.states.mH)
    assert_agree(res.expects[0], ref.expect[0], tol=1e-5)
    # towards the even cat, whose ⟨N⟩ = |α|² tanh|α|² = 3.997
    assert 3.99 < ref.expect[0][-1] < 3.9973
