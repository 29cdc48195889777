"""Physical and API properties of the solve functions, for every method of the registry.

The method matrix is read from `dynamics.method.ALL_METHODS` and configured by
declared capability (dataclass fields, `term_kind`, `order`), never by name:
a new method is tested here automatically.
"""

import dataclasses
import itertools

import pytest
import torch

import dynamics as qd
from dynamics._config import get_cdtype
from dynamics.equations import Lindblad, Schrodinger

C128 = torch.complex128
SIZES = (2, 3, 4, 5, 6)
TSAVE = torch.linspace(0.0, 1.0, 5, dtype=torch.float64)
T = float(TSAVE[-1])

# ----------------------------------------------------------------------------- method factory


def _fields(cls) -> dict:
    return {f.name: f for f in dataclasses.fields(cls)}


def is_adaptive(cls) -> bool:
    """The method has error control (`rtol`/`atol`)."""
    return "rtol" in _fields(cls)


def needs_dt(cls) -> bool:
    """The method has no default step: `dt` must be given."""
    f = _fields(cls).get("dt")
    return f is not None and f.default is dataclasses.MISSING


def is_exact(cls) -> bool:
    """Neither error control nor a required `dt`: exact steps for piecewise-constant generators."""
    return not is_adaptive(cls) and not needs_dt(cls)


def order(cls) -> int:
    """The order the method declares (`method.order`, read from a fixed-step instance)."""
    return cls(dt=1.0).order


def tight(cls, scale: float = 1.0):
    """Return `(method, tol)`: a tightly configured method and its expected accuracy on [0, T].

    `scale` bounds ‖H(t)‖ (the random systems have ‖H‖ = 1).
    """
    if is_adaptive(cls):
        return cls(rtol=1e-10, atol=1e-12), 1e-8
    if is_exact(cls):
        return cls(), 1e-12
    p = order(cls)
    dt = 1e-2 if p >= 2 else 1e-3
    return cls(dt=dt), max(1e-10, 10 * T * (scale * dt) ** p)


def cheap(cls, dt: float = 0.05):
    """A fast configuration of the method (default tolerances, or a coarse `dt`)."""
    if is_adaptive(cls) or is_exact(cls):
        return cls()
    return cls(dt=dt)


SE_METHODS = [cls for cls in qd.method.ALL_METHODS if cls.term_kind in Schrodinger.kinds]
ME_METHODS = [cls for cls in qd.method.ALL_METHODS if cls.term_kind in Lindblad.kinds]
KRAUS_METHODS = [cls for cls in ME_METHODS if cls.term_kind == "lindblad"]


def _ids(classes):
    return [cls.__name__ for cls in classes]


se_methods = pytest.mark.parametrize("cls", SE_METHODS, ids=_ids(SE_METHODS))
me_methods = pytest.mark.parametrize("cls", ME_METHODS, ids=_ids(ME_METHODS))
sizes = pytest.mark.parametrize("n", SIZES)

# ----------------------------------------------------------------------------- random systems


def random_system(n: int, seed: int, *, dtype=C128, jump_rate: float = 0.5):
    """Return `(H, jump_ops, psi0, rho0)`: ‖H‖₂ = 1, two jump operators, a ket, a full-rank dm."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, dtype=C128, generator=g)

    A = randn(n, n)
    H = (A + A.mH) / 2
    H = H / torch.linalg.matrix_norm(H, ord=2)
    Ls = [jump_rate * randn(n, n) / n**0.5 for _ in range(2)]
    psi0 = randn(n, 1)
    psi0 = psi0 / psi0.norm()
    B = randn(n, n)
    rho0 = B @ B.mH
    rho0 = rho0 / rho0.trace()
    return tuple(
        x.to(dtype) if isinstance(x, torch.Tensor) else [L.to(dtype) for L in x]
        for x in (H, Ls, psi0, rho0)
    )


def vec(rho: torch.Tensor) -> torch.Tensor:
    """Column stacking, `(..., n, n) -> (..., n²)` (QuTiP's `operator_to_vector`)."""
    return rho.mT.reshape(*rho.shape[:-2], -1)


def trace(x: torch.Tensor) -> torch.Tensor:
    return x.diagonal(dim1=-2, dim2=-1).sum(-1)


def maxabs(x: torch.Tensor) -> float:
    return float(x.abs().max())


def exact_kets(H: torch.Tensor, psi0: torch.Tensor, tsave: torch.Tensor, t0: float = 0.0):
    """`exp(-iH(t - t0)) ψ0` at every save time, shape `(ntsave, n, 1)`."""
    dts = (tsave.to(torch.float64) - t0).to(H.dtype)[:, None, None]
    return torch.linalg.matrix_exp(-1j * H * dts) @ psi0


# ----------------------------------------------------------------------------- closed systems


@se_methods
@sizes
def test_sesolve_preserves_norm_and_is_accurate(cls, n):
    H, _, psi0, _ = random_system(n, seed=n)
    method, tol = tight(cls)
    res = qd.sesolve(H, psi0, TSAVE, method=method)
    norms = torch.linalg.vector_norm(res.states, dim=(-2, -1))
    assert maxabs(norms - 1) <= tol
    assert maxabs(res.states - exact_kets(H, psi0, TSAVE)) <= 10 * tol


@se_methods
@pytest.mark.parametrize("n", (2, 6))
def test_sesolve_piecewise_constant_H(cls, n):
    # discontinuities inside and between save times; Expm() is exact on each piece
    H, _, psi0, _ = random_system(n, seed=20 + n)
    drive, _, _, _ = random_system(n, seed=40 + n)
    # the pulse ends after the last save time (see test_pulse_ending_at_the_final_save_time)
    times = torch.tensor([0.0, 0.1, 0.45, 0.5, 0.8, 1.2], dtype=torch.float64)
    values = torch.tensor([1.0, -0.5, 2.0, 0.0, -1.0], dtype=torch.float64)
    Ht = H + qd.pwc(times, values, drive)
    method, tol = tight(cls, scale=1 + float(values.abs().max()))
    states = qd.sesolve(Ht, psi0, TSAVE, method=method).states
    assert maxabs(torch.linalg.vector_norm(states, dim=(-2, -1)) - 1) <= 3 * tol
    # reference: product of exact exponentials over the pieces
    knots = sorted({*times[times < T].tolist(), *TSAVE.tolist()})
    psi, expected = psi0, {0.0: psi0}
    for t_a, t_b in itertools.pairwise(knots):
        Hk = Ht((t_a + t_b) / 2)
        psi = torch.linalg.matrix_exp(-1j * Hk * (t_b - t_a)) @ psi
        expected[t_b] = psi
    ref = torch.stack([expected[t] for t in TSAVE.tolist()])
    assert maxabs(states - ref) <= 30 * tol


def _pulse_end_params():
    return [
        pytest.param(cls, mode, id=f"{cls.__name__}-{mode}")
        for cls in SE_METHODS
        for mode in ("fixed", "default")
        if mode == "default" or "dt" in _fields(cls)
    ]


@pytest.mark.parametrize(("cls", "mode"), _pulse_end_params())
def test_pulse_ending_at_the_final_save_time(cls, mode):
    # on [0, 1] the two Hamiltonians are equal; they differ only from t = 1 on (a pwc
    # operator is zero from its last time on: stages at the end of the last step, c = 1,
    # must still see the last piece)
    sx, sz = qd.sigmax(), qd.sigmaz()
    ending = sz + qd.pwc([0.0, 0.5, 1.0], [1.0, -0.5], sx)
    longer = sz + qd.pwc([0.0, 0.5, 1.5], [1.0, -0.5], sx)
    method = cls(dt=0.1) if mode == "fixed" else cheap(cls)
    psi0 = qd.basis(2, 0)
    res_end = qd.sesolve(ending, psi0, [0.0, 1.0], method=method)
    res_long = qd.sesolve(longer, psi0, [0.0, 1.0], method=method)
    assert res_end.infos["steps"] == res_long.infos["steps"]
    assert maxabs(res_end.final_state - res_long.final_state) <= 1e-12


@se_methods
@sizes
def test_sepropagator_is_unitary(cls, n):
    H, _, _, _ = random_system(n, seed=n)
    method, tol = tight(cls)
    U = qd.sepropagator(H, TSAVE, method=method).propagators
    assert U.shape == (len(TSAVE), n, n)
    eye = torch.eye(n, dtype=C128)
    assert maxabs(U.mH @ U - eye) <= tol
    assert maxabs(U[0] - eye) <= 1e-14  # U(t0) = I


@se_methods
@pytest.mark.parametrize("n", (2, 5))
def test_sepropagator_reproduces_sesolve(cls, n):
    H, _, psi0, _ = random_system(n, seed=n)
    method, tol = tight(cls)
    U = qd.sepropagator(H, TSAVE, method=method).propagators
    states = qd.sesolve(H, psi0, TSAVE, method=method).states
    # same steps for fixed-step and exact methods; adaptive ones choose their own
    assert maxabs(U @ psi0 - states) <= (tol if is_adaptive(cls) else 1e-12)


# ----------------------------------------------------------------------------- open systems


@me_methods
@sizes
def test_mesolve_preserves_trace_and_hermiticity(cls, n):
    H, Ls, _, rho0 = random_system(n, seed=n)
    res = qd.mesolve(H, Ls, rho0, TSAVE, method=cheap(cls, dt=0.02))
    rho = res.states
    assert rho.shape == (len(TSAVE), n, n)
    # trace and Hermiticity are linear invariants: every method keeps them to round-off
    assert maxabs(trace(rho) - 1) <= 1e-12
    assert maxabs(rho - rho.mH) <= 1e-12
    assert maxabs(res.final_state - rho[-1]) == 0


@pytest.mark.parametrize("cls", KRAUS_METHODS, ids=_ids(KRAUS_METHODS))
@sizes
def test_kraus_methods_keep_positivity(cls, n):
    # strong dissipation, a coarse step and a pure (rank-1, boundary) initial state
    H, Ls, psi0, _ = random_system(n, seed=100 + n, jump_rate=3.0)
    tsave = torch.linspace(0.0, 2.0, 11, dtype=torch.float64)
    rho = qd.mesolve(H, Ls, psi0, tsave, method=cls(dt=0.2)).states
    assert float(torch.linalg.eigvalsh(rho).min()) >= -1e-12
    assert maxabs(trace(rho) - 1) <= 1e-12


@me_methods
@pytest.mark.parametrize("n", (2, 4))
def test_mepropagator_reproduces_mesolve(cls, n):
    H, Ls, _, rho0 = random_system(n, seed=n)
    method, tol = tight(cls) if is_adaptive(cls) else (cheap(cls, dt=0.02), 1e-12)
    E = qd.mepropagator(H, Ls, TSAVE, method=method).propagators
    assert E.shape == (len(TSAVE), n * n, n * n)
    rho = qd.mesolve(H, Ls, rho0, TSAVE, method=method).states
    assert maxabs(E @ vec(rho0) - vec(rho)) <= tol
    assert maxabs(E[0] - torch.eye(n * n, dtype=C128)) <= 1e-14


def test_mepropagator_column_stacking_convention():
    # dρ/dt = -i[H, ρ] with H = diag(0, 1): ρ_01(t) = e^{+it} ρ_01, ρ_10(t) = e^{-it} ρ_10
    H = torch.diag(torch.tensor([0.0, 1.0], dtype=C128))
    E = qd.mepropagator(H, [], [0.0, 1.0], method=qd.method.Expm()).final_propagator
    phase = torch.exp(torch.tensor(1j, dtype=C128))
    # vec index of ρ_ij with column stacking is i + n j: ρ_10 -> 1, ρ_01 -> 2
    expected = torch.diag(torch.stack([phase**0, phase.conj(), phase, phase**0]))
    assert maxabs(E - expected) <= 1e-14


# ----------------------------------------------------------------------------- options


def _solve(solver: str, cls, n: int = 3, **kwargs):
    H, Ls, psi0, rho0 = random_system(n, seed=7)
    method = kwargs.pop("method", cheap(cls))
    E = [qd.destroy(n), qd.number(n)]
    if solver == "sesolve":
        return qd.sesolve(H, psi0, kwargs.pop("tsave", TSAVE), exp_ops=E, method=method, **kwargs)
    if solver == "mesolve":
        tsave = kwargs.pop("tsave", TSAVE)
        return qd.mesolve(H, Ls, rho0, tsave, exp_ops=E, method=method, **kwargs)
    if solver == "sepropagator":
        return qd.sepropagator(H, kwargs.pop("tsave", TSAVE), method=method, **kwargs)
    return qd.mepropagator(H, Ls, kwargs.pop("tsave", TSAVE), method=method, **kwargs)


SOLVER_METHODS = [
    pytest.param(solver, cls, id=f"{solver}-{cls.__name__}")
    for solver, kinds in [
        ("sesolve", Schrodinger.kinds),
        ("mesolve", Lindblad.kinds),
        ("sepropagator", Schrodinger.kinds),
        ("mepropagator", Lindblad.kinds),
    ]
    for cls in qd.method.ALL_METHODS
    if cls.term_kind in kinds
]


@pytest.mark.parametrize(("solver", "cls"), SOLVER_METHODS)
def test_save_states_false(solver, cls):
    full = _solve(solver, cls)
    light = _solve(solver, cls, options=qd.Options(save_states=False))
    assert light.states is None
    assert full.states is not None
    torch.testing.assert_close(light.final_state, full.final_state, rtol=0, atol=1e-14)
    torch.testing.assert_close(full.states[..., -1, :, :], full.final_state, rtol=0, atol=1e-14)
    if solver in ("sesolve", "mesolve"):
        torch.testing.assert_close(light.expects, full.expects, rtol=0, atol=1e-14)
    else:
        assert light.propagators is None
        assert light.expects is None and full.expects is None


@pytest.mark.parametrize(("solver", "cls"), SOLVER_METHODS)
def test_t0_before_first_save_time(solver, cls):
    t0 = -0.5
    tsave = torch.tensor([0.25, 0.5, 1.0], dtype=torch.float64)
    # dt a power of two, so that both runs step on the same exactly representable grid
    method = cheap(cls, dt=2**-6)
    res = _solve(solver, cls, tsave=tsave, method=method, options=qd.Options(t0=t0))
    ref = _solve(solver, cls, tsave=torch.cat([torch.tensor([t0]), tsave]), method=method)
    assert res.states.shape[-3] == len(tsave)
    torch.testing.assert_close(res.tsave, tsave)
    torch.testing.assert_close(res.states, ref.states[..., 1:, :, :], rtol=0, atol=1e-12)
    torch.testing.assert_close(res.final_state, ref.final_state, rtol=0, atol=1e-12)
    if res.expects is not None:
        torch.testing.assert_close(res.expects, ref.expects[..., 1:], rtol=0, atol=1e-12)
    if solver == "sesolve":  # the first saved state has evolved from t0
        H, _, psi0, _ = random_system(3, seed=7)
        expected = exact_kets(H, psi0, tsave, t0=t0)
        assert maxabs(res.states - expected) <= 1e-2  # Euler's accuracy at this dt
        assert maxabs(res.states[0] - psi0) >= 0.1


# ----------------------------------------------------------------------------- Result


@pytest.mark.parametrize("solver", ["sesolve", "mesolve", "sepropagator", "mepropagator"])
def test_result_repr_and_infos(solver):
    res = _solve(solver, qd.method.Tsit5)
    text = repr(res)
    assert text.startswith(type(res).__name__)
    assert solver in text
    assert "Tsit5" in text
    assert "tensor(" not in text  # shapes, not data
    assert len(text.splitlines()) <= 12
    assert all(len(line) <= 200 for line in text.splitlines())
    assert str(tuple(res.states.shape)) in text
    assert str(tuple(res.tsave.shape)) in text
    if res.expects is not None:
        assert str(tuple(res.expects.shape)) in text
    infos = res.infos
    assert {"steps", "nfev", "wall_time"} <= set(infos)
    assert isinstance(infos["steps"], int) and infos["steps"] >= 1
    assert isinstance(infos["nfev"], int) and infos["nfev"] >= infos["steps"]
    assert isinstance(infos["wall_time"], float) and infos["wall_time"] >= 0
    assert f"{infos['steps']} steps" in text


@pytest.mark.parametrize(("solver", "cls"), SOLVER_METHODS)
def test_infos_for_every_method(solver, cls):
    infos = _solve(solver, cls).infos
    assert infos["steps"] >= 1 and infos["nfev"] >= 1 and infos["wall_time"] >= 0


def test_result_shapes_documented():
    n = 3
    res = _solve("sesolve", qd.method.Tsit5, n=n)
    assert res.states.shape == (len(TSAVE), n, 1)
    assert res.expects.shape == (2, len(TSAVE))
    assert res.final_state.shape == (n, 1)
    res = _solve("mepropagator", qd.method.Tsit5, n=n)
    assert res.propagators.shape == (len(TSAVE), n * n, n * n)
    assert res.final_propagator.shape == (n * n, n * n)


# ----------------------------------------------------------------------------- dtype and device


@pytest.fixture
def single_precision():
    previous = "single" if get_cdtype() == torch.complex64 else "double"
    qd.set_precision("single")
    yield
    qd.set_precision(previous)


def _check_outputs(res, cdtype, rdtype):
    for x in (res.states, res.expects, res.final_state):
        if x is not None:
            assert x.dtype == cdtype
            assert x.device == torch.device("cpu")
    assert res.tsave.dtype == rdtype


@pytest.mark.parametrize(("solver", "cls"), SOLVER_METHODS)
def test_single_precision_default(single_precision, solver, cls):
    n = 3
    H = qd.destroy(n) + qd.create(n) + 0.3 * qd.number(n)
    assert H.dtype == torch.complex64
    a = qd.destroy(n)
    method = cheap(cls)
    tsave = [0.0, 0.5, 1.0]
    if solver == "sesolve":
        res = qd.sesolve(H, qd.coherent(n, 0.5), tsave, exp_ops=[a], method=method)
    elif solver == "mesolve":
        res = qd.mesolve(H, [0.5 * a], qd.fock_dm(n, 1), tsave, exp_ops=[a], method=method)
    elif solver == "sepropagator":
        res = qd.sepropagator(H, tsave, method=method)
    else:
        res = qd.mepropagator(H, [0.5 * a], tsave, method=method)
    _check_outputs(res, torch.complex64, torch.float32)
    # the same solve in double precision agrees to single-precision accuracy
    qd.set_precision("double")
    args = {
        "sesolve": lambda: qd.sesolve(H.to(C128), qd.coherent(n, 0.5), tsave, method=method),
        "mesolve": lambda: qd.mesolve(
            H.to(C128), [0.5 * qd.destroy(n)], qd.fock_dm(n, 1), tsave, method=method
        ),
        "sepropagator": lambda: qd.sepropagator(H.to(C128), tsave, method=method),
        "mepropagator": lambda: qd.mepropagator(
            H.to(C128), [0.5 * qd.destroy(n)], tsave, method=method
        ),
    }
    ref = args[solver]()
    assert maxabs(res.states.to(C128) - ref.states) <= 1e-4


@pytest.mark.parametrize("solver", ["sesolve", "mesolve", "sepropagator", "mepropagator"])
def test_explicit_dtype_and_device(solver):
    n = 3
    kw = {"dtype": torch.complex64, "device": "cpu"}
    a = qd.destroy(n, **kw)
    H = a + qd.create(n, **kw) + qd.number(n, **kw)
    tsave = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float32, device="cpu")
    if solver == "sesolve":
        res = qd.sesolve(H, qd.fock(n, 0, **kw), tsave, exp_ops=[a])
    elif solver == "mesolve":
        res = qd.mesolve(H, [a], qd.fock_dm(n, 0, **kw), tsave, exp_ops=[a])
    elif solver == "sepropagator":
        res = qd.sepropagator(H, tsave)
    else:
        res = qd.mepropagator(H, [a], tsave)
    _check_outputs(res, torch.complex64, torch.float32)
    assert get_cdtype() == C128  # the global default is untouched


def test_double_precision_is_the_default():
    res = _solve("mesolve", qd.method.Tsit5)
    _check_outputs(res, C128, torch.float64)


def test_time_dependent_operators_keep_single_precision():
    n = 2
    kw = {"dtype": torch.complex64}
    sx, sz = qd.sigmax(**kw), qd.sigmaz(**kw)
    H = sz + qd.modulated(torch.cos, sx) + qd.pwc([0.0, 0.5, 1.0], [0.2, -0.3], sz)
    res = qd.mesolve(H, [qd.sigmam(**kw)], qd.basis(n, 0, **kw), [0.0, 1.0], exp_ops=[sz])
    _check_outputs(res, torch.complex64, torch.float32)
