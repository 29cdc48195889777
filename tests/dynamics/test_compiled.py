"""Compiled steps (`Tsit5(compile=...)`) on the quantum terms change nothing but speed.

Each constant term (dense, banded and superoperator Lindblad; dense and banded
Schrödinger) steps through its real form (`dynamics._real_pairs`) inside the compiled
step: compiled with TorchDynamo's `eager` backend, the solves must give the eager
results to rounding, with the same number of steps. `tests/solvers/test_compiled.py`
covers the engine and the TorchInductor backend.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import dynamics as qd
import solvers.compiled as compiled
import solvers.compiled_loop as compiled_loop
from dynamics._banded import Banded
from dynamics._real_pairs import (
    banded_lindblad_pairs,
    banded_schrodinger_pairs,
    lindblad_pairs,
    schrodinger_pairs,
    split,
)
from dynamics.equations import (
    BandedLindbladTerm,
    Lindblad,
    LindbladTerm,
    Schrodinger,
    SchrodingerTerm,
)
from dynamics.time_operators import constant

F64 = torch.float64
N = 5


def _ops():
    a = qd.destroy(N)
    H = -0.5 * qd.dag(a) @ qd.dag(a) @ a @ a + 0.7 * (a + qd.dag(a))
    return H, a


def _sesolve(method, layout):
    H, a = _ops()
    psi0 = torch.stack([qd.basis(N, 0), qd.coherent(N, 0.5)])  # a batch of states
    tsave = torch.linspace(0.0, 2.0, 5, dtype=F64)
    return qd.sesolve(
        H, psi0, tsave, exp_ops=[a + qd.dag(a)], method=method, options=qd.Options(layout=layout)
    )


def _mesolve(method, layout, H_batch=False):
    H, a = _ops()
    if H_batch:
        H = H + torch.tensor([0.0, 0.4], dtype=F64)[:, None, None] * qd.number(N)
    tsave = torch.linspace(0.0, 2.0, 5, dtype=F64)
    jumps = [a, 0.3 * a @ a]
    return qd.mesolve(
        H,
        jumps,
        qd.fock_dm(N, 0),
        tsave,
        exp_ops=[qd.number(N)],
        method=method,
        options=qd.Options(layout=layout),
    )


def _superop(method, layout):
    omega = torch.linspace(0.0, 2.0, 6, dtype=F64)
    H = 0.15 * qd.sigmaz() + (omega / 2)[:, None, None] * qd.sigmax()
    tsave = torch.linspace(0.0, 2.0, 5, dtype=F64)
    return qd.mesolve(
        H,
        [0.3 * qd.sigmam()],
        qd.fock_dm(2, 0),
        tsave,
        exp_ops=[qd.sigmaz()],
        method=method,
        options=qd.Options(layout=layout),
    )


def _ising(method):
    # 6 spins (n = 64): offsets ±1 ... ±32, half of them whole blocks of 8 rows; a
    # batch of two kets; the total σz is diagonal.
    nspins = 6
    sz, sx, eye = qd.sigmaz(), qd.sigmax(), qd.eye(2)

    def site(op, i):
        return qd.tensor(*[op if j == i else eye for j in range(nspins)])

    zs = [site(sz, i) for i in range(nspins)]
    H = -sum(zs[i] @ zs[i + 1] for i in range(nspins - 1))
    H = H - 0.7 * sum(site(sx, i) for i in range(nspins)) + 0.2 * site(qd.sigmay(), 2)
    psi0 = torch.stack([qd.basis(64, 0), qd.basis(64, 5)])
    tsave = torch.linspace(0.0, 1.0, 4, dtype=F64)
    options = qd.Options(layout="banded")
    return qd.sesolve(H, psi0, tsave, exp_ops=[sum(zs)], method=method, options=options)


def _kerr16(method, gradient=None):
    # n = 16 with `layout="auto"`: dense eager products, banded compiled steps.
    n = 16
    a = qd.destroy(n)
    eps = torch.tensor(2.0, dtype=F64, requires_grad=gradient is not None)
    H = -0.5 * qd.dag(a) @ qd.dag(a) @ a @ a + eps * (a + qd.dag(a))
    tsave = torch.linspace(0.0, 1.0, 5, dtype=F64)
    res = qd.mesolve(
        H, [a], qd.fock_dm(n, 0), tsave, exp_ops=[qd.number(n)], method=method, gradient=gradient
    )
    return res, eps


CASES = {
    "sesolve-dense": lambda m: _sesolve(m, "dense"),
    "sesolve-banded": lambda m: _sesolve(m, "banded"),
    "sesolve-spin-chain": _ising,
    "mesolve-dense": lambda m: _mesolve(m, "dense"),
    "mesolve-banded": lambda m: _mesolve(m, "banded"),
    "mesolve-banded-batched-H": lambda m: _mesolve(m, "banded", H_batch=True),
    "mesolve-superoperator": lambda m: _superop(m, "auto"),
    "mesolve-bands-for-compiled-steps-only": lambda m: _kerr16(m)[0],
}


@pytest.mark.parametrize("loop", [True, False], ids=["loop", "per-step"])
@pytest.mark.parametrize("case", list(CASES))
def test_compiled_solve_equals_eager(case, loop, monkeypatch):
    # `loop`: the whole solve in compiled loops; else one compiled call per step.
    if not loop:
        monkeypatch.setattr(compiled_loop, "_MAX_NUMEL", 0)
    solve = CASES[case]
    ref = solve(qd.method.Tsit5())
    cache = compiled_loop._LOOPS if loop else compiled._TRACED
    before = set(cache)
    got = solve(qd.method.Tsit5(compile="eager"))
    # Every real form is pure: traced to a graph, run without TorchDynamo's guards.
    new = [cache[k] for k in set(cache) - before]
    assert new and all(isinstance(fn, torch.fx.GraphModule) for fn in new)
    assert got.infos["steps"] == ref.infos["steps"]
    torch.testing.assert_close(got.states, ref.states, rtol=1e-11, atol=1e-12)
    torch.testing.assert_close(got.expects, ref.expects, rtol=1e-11, atol=1e-12)


def _planes(x):
    return torch.stack((x.real, x.imag))


def _complex(planes):
    return torch.complex(planes[0], planes[1])


@pytest.mark.parametrize("hermitian", [True, False])
def test_real_forms_equal_the_complex_vector_field(hermitian):
    # Dense and banded real forms against A ρ + ρ A† + Σ L ρ L† on a non-Hermitian ρ
    # (propagator columns) and on a Hermitian one (density matrices). The operators
    # are real (a), imaginary (i σ-like), complex, and banded with diagonals of each
    # kind (0.3 a² + 0.2i n), which the products treat apart.
    H, a = _ops()
    Ls = [a, 0.3 * a @ a + 0.2j * qd.number(N), 0.4j * (a - qd.dag(a)) @ a]
    A = -1j * H - 0.5 * sum(qd.dag(L) @ L for L in Ls)
    rho = torch.randn(3, N, N, dtype=torch.complex128)
    if hermitian:
        rho = rho + qd.dag(rho)
    exact = A @ rho + rho @ qd.dag(A) + sum(L @ rho @ qd.dag(L) for L in Ls)
    dense_ops = (A,) if hermitian else (A, qd.dag(A))
    dense_ops += tuple(x for L in Ls for x in (L, qd.dag(L)))
    kinds, parts = split(*dense_ops)
    real, both, imaginary = (True, False), (True, True), (False, True)
    assert kinds[-6:] == (real, real, both, both, imaginary, imaginary)
    got = lindblad_pairs((hermitian, kinds), parts, _planes(rho))
    torch.testing.assert_close(_complex(got), exact, rtol=1e-12, atol=1e-12)
    bands = [Banded.from_dense(M) for M in (A, *Ls)]
    kinds, parts = split(*(b.diags for b in bands), banded=True)
    assert kinds[2] == ((False, True), (True, False))  # offsets 0 and 2 of 0.3 a² + 0.2i n
    static = (hermitian, tuple(b.offsets for b in bands), kinds)
    got = banded_lindblad_pairs(static, parts, _planes(rho))
    torch.testing.assert_close(_complex(got), exact, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["real", "imaginary", "complex", "zero"])
def test_schrodinger_real_forms_equal_the_complex_vector_field(kind):
    # -i H for real H is imaginary: the products skip the zero real parts.
    H, _ = _ops()
    M = {
        "real": H,
        "imaginary": -1j * H,
        "complex": -1j * H + 0.3 * qd.number(N),
        "zero": 0 * H,
    }[kind]
    psi = torch.randn(2, N, 1, dtype=torch.complex128)
    kinds, parts = split(M)
    got = schrodinger_pairs((kinds,), parts, _planes(psi))
    torch.testing.assert_close(_complex(got), M @ psi, rtol=1e-12, atol=1e-12)
    band = Banded.from_dense(M + 0.1 * torch.eye(N)) if kind == "zero" else Banded.from_dense(M)
    kinds, parts = split(band.diags, banded=True)
    got = banded_schrodinger_pairs((band.offsets, kinds), parts, _planes(psi))
    torch.testing.assert_close(_complex(got), band.to_dense() @ psi, rtol=1e-12, atol=1e-12)


def _compiled_form(term):
    """`(eager term type, function of the real form)` of a term."""
    return type(term), term.real_form(True)[0]


def test_compiled_solves_take_compact_or_sparse_bands_at_any_size():
    # Compiled banded products are fused shift loops: with `layout="auto"` a compiled
    # solve steps compact bands (span ≤ n / 4) banded below n = 64, where eager work (a
    # gradient's backward pass) stays dense; a wide band stays dense throughout.
    n = 16
    a = qd.destroy(n)
    H = -0.5 * qd.dag(a) @ qd.dag(a) @ a @ a + 2.0 * (a + qd.dag(a))
    kerr = Lindblad(constant(H), [constant(a)], "mesolve", True)
    compiled_kerr = (LindbladTerm, banded_lindblad_pairs)
    assert _compiled_form(kerr.term("ode", "auto", compiled=True)) == compiled_kerr
    assert _compiled_form(kerr.term("ode", "auto")) == (LindbladTerm, lindblad_pairs)
    assert isinstance(kerr.term("ode", "banded"), BandedLindbladTerm)
    wide = H + torch.diag(torch.ones(n - 6, dtype=H.dtype), 6)  # span 10 > n / 4
    closed = Schrodinger(constant(wide))
    dense = (SchrodingerTerm, schrodinger_pairs)
    assert _compiled_form(closed.term("ode", "auto", compiled=True)) == dense
    compact = Schrodinger(constant(H)).term("ode", "auto", compiled=True)
    assert _compiled_form(compact) == (SchrodingerTerm, banded_schrodinger_pairs)
    # Few diagonals spread over the matrix (spin chains: offsets ±2^k) are banded when
    # there are at most n / 8 of them; eager products stay dense.
    n = 64
    spread = sum(torch.diag(torch.ones(n - abs(k), dtype=F64), k) for k in (-32, -16, 0, 16, 32))
    chain = Schrodinger(constant(spread.to(torch.complex128)))
    compiled_chain = (SchrodingerTerm, banded_schrodinger_pairs)
    assert _compiled_form(chain.term("ode", "auto", compiled=True)) == compiled_chain
    assert _compiled_form(chain.term("ode", "auto")) == dense
    denser = spread + sum(torch.diag(torch.ones(n - k, dtype=F64), k) for k in (1, 2, 4, 8))
    wider = Schrodinger(constant(denser.to(torch.complex128)))  # 9 > n / 8 diagonals
    assert _compiled_form(wider.term("ode", "auto", compiled=True)) == dense


@pytest.mark.parametrize("case", ["Direct", "time-dependent"])
def test_solves_compiled_steps_cannot_serve_keep_the_eager_layout(case, monkeypatch):
    # A compiled solve that steps eagerly anyway (a graph recorded by Direct, or a
    # time-dependent operator) stores its operators as an eager solve would: dense here.
    import dynamics._solve as solve_module

    terms = []
    real_integrate = solve_module.integrate

    def spy(term, *args, **kwargs):
        terms.append(term)
        return real_integrate(term, *args, **kwargs)

    monkeypatch.setattr(solve_module, "integrate", spy)
    n = 16
    a = qd.destroy(n)
    eps = torch.tensor(2.0, dtype=F64, requires_grad=case == "Direct")
    H = -0.5 * qd.dag(a) @ qd.dag(a) @ a @ a + eps * (a + qd.dag(a))
    if case == "time-dependent":
        H = H + qd.modulated(lambda t: torch.cos(t), qd.number(n))
    tsave = torch.linspace(0.0, 0.5, 3, dtype=F64)
    with pytest.warns(UserWarning, match="stepping eagerly"):
        res = qd.mesolve(
            H,
            [a],
            qd.fock_dm(n, 0),
            tsave,
            exp_ops=[qd.number(n)],
            method=qd.method.Tsit5(compile="eager"),
        )
    assert type(terms[-1]) is LindbladTerm and terms[-1].real_term is None
    ref = qd.mesolve(H, [a], qd.fock_dm(n, 0), tsave, exp_ops=[qd.number(n)])
    torch.testing.assert_close(res.expects, ref.expects, rtol=1e-12, atol=1e-12)


def test_adjoint_gradient_with_compiled_forward_pass_and_dense_backward_pass():
    # The forward pass steps compiled (banded real form), the backward pass eagerly on
    # the dense operators of the same term: the gradient is the eager one.
    grads = []
    for method in (qd.method.Tsit5(), qd.method.Tsit5(compile="eager")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no fall back to eager steps
            res, eps = _kerr16(method, qd.gradient.Adjoint())
        grads.append(torch.autograd.grad(res.expects[0, -1].real, eps)[0])
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("m", [1, 3])
def test_banded_products_of_kets_in_blocks_of_rows(m):
    # Kets and thin propagators see n = 64 rows as blocks of 8: offsets that are
    # multiples of 8 shift whole blocks, the others shift rows (spin chains mix both).
    n = 64
    g = torch.Generator().manual_seed(3)
    M = torch.zeros(n, n, dtype=torch.complex128)
    for o in (-32, -8, -3, 0, 1, 16, 40):
        d = torch.randn(n - abs(o), dtype=torch.complex128, generator=g)
        M = M + torch.diag(d, o)
    M[:, 5] = 0  # an imaginary-only and a real-only diagonal among general ones
    M = M + torch.diag(0.5j * torch.ones(n - 8, dtype=torch.complex128), 8)
    M = M + torch.diag(0.7 * torch.ones(n - 24, dtype=torch.complex128), -24)
    band = Banded.from_dense(M)
    psi = torch.randn(2, n, m, dtype=torch.complex128, generator=g)
    kinds, parts = split(band.diags, banded=True)
    got = banded_schrodinger_pairs((band.offsets, kinds), parts, _planes(psi))
    torch.testing.assert_close(_complex(got), M @ psi, rtol=1e-12, atol=1e-12)
