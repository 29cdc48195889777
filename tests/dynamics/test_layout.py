"""The banded layout (`qd.Options(layout=...)`, `qd.set_layout`) changes nothing but speed.

Solve functions with banded constant operators must give the dense results and the
dense gradients, in every gradient mode, with batching, and second derivatives.
"""

import pytest
import torch

import dynamics as qd
from dynamics.equations import (
    BandedLindbladTerm,
    BandedSchrodingerTerm,
    Lindblad,
    LindbladTerm,
    Schrodinger,
    SuperLindbladTerm,
)

F64 = torch.float64
MODES = {
    "Direct": qd.gradient.Direct(),
    "Checkpointed": qd.gradient.Checkpointed(ncheckpoints=3),
    "Adjoint": qd.gradient.Adjoint(segment_steps=4),
}


def _kerr(n: int, K: torch.Tensor, eps: torch.Tensor):
    a = qd.destroy(n)
    H = -K / 2 * qd.dag(a) @ qd.dag(a) @ a @ a + eps[..., None, None] * (a + qd.dag(a))
    return H, a


def _solve(solve: str, layout: str, mode, batched: bool = False):
    K = torch.tensor(0.7, dtype=F64, requires_grad=True)
    eps = torch.tensor([0.8, 1.3] if batched else 0.8, dtype=F64, requires_grad=True)
    n = 7
    H, a = _kerr(n, K, eps)
    tsave = torch.linspace(0.0, 1.5, 4)
    options = qd.Options(layout=layout)
    method = qd.method.Tsit5(rtol=1e-9, atol=1e-11)
    if solve == "mesolve":
        L = 0.6 * a + 0.2 * qd.dag(a) @ a
        res = qd.mesolve(
            H, [L], qd.coherent(n, 0.5), tsave, exp_ops=[qd.dag(a) @ a],
            method=method, gradient=mode, options=options,
        )  # fmt: skip
        out = res.expects.real
    elif solve == "sesolve":
        res = qd.sesolve(
            H, qd.coherent(n, 0.5), tsave, exp_ops=[a + qd.dag(a)],
            method=method, gradient=mode, options=options,
        )  # fmt: skip
        out = res.expects.real
    else:
        res = qd.sepropagator(H, tsave, method=method, gradient=mode, options=options)
        out = res.propagators.abs() ** 2
    w = torch.linspace(0.5, 1.5, out.numel(), dtype=F64).reshape(out.shape)
    loss = (out * w).sum()
    return out.detach(), torch.autograd.grad(loss, (K, eps))


@pytest.mark.parametrize("batched", [False, True], ids=["unbatched", "batched"])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(
    ("solve", "layout"),
    [
        ("mesolve", "banded"),
        ("mesolve", "auto"),  # n = 7: the superoperator form
        ("sesolve", "banded"),
        ("sepropagator", "banded"),
    ],
)
def test_layouts_equal_dense_values_and_gradients(solve, layout, mode, batched):
    out_d, grads_d = _solve(solve, "dense", MODES[mode], batched)
    out_b, grads_b = _solve(solve, layout, MODES[mode], batched)
    torch.testing.assert_close(out_b, out_d, rtol=1e-10, atol=1e-12)
    for gb, gd in zip(grads_b, grads_d):
        torch.testing.assert_close(gb, gd, rtol=1e-8, atol=1e-10)


def test_banded_layout_second_derivative_equals_dense():
    def hvp(layout):
        K = torch.tensor(0.7, dtype=F64, requires_grad=True)
        eps = torch.tensor(0.8, dtype=F64, requires_grad=True)
        H, a = _kerr(6, K, eps)
        res = qd.mesolve(
            H, [0.5 * a], qd.fock(6, 0), torch.tensor([0.0, 1.0]), exp_ops=[qd.number(6)],
            method=qd.method.Tsit5(dt=0.05), options=qd.Options(layout=layout),
        )  # fmt: skip
        (gK,) = torch.autograd.grad(res.expects[0, -1].real, K, create_graph=True)
        return torch.autograd.grad(gK, (K, eps))

    for a, b in zip(hvp("banded"), hvp("dense")):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


def test_auto_layout_picks_banded_only_where_it_pays():
    a_small, a_large = qd.destroy(8), qd.destroy(96)
    assert isinstance(
        Schrodinger(qd.constant(a_small + qd.dag(a_small))).term("ode", "auto"),
        type(Schrodinger(qd.constant(a_small)).term("ode", "dense")),
    )
    big = Schrodinger(qd.constant(a_large + qd.dag(a_large))).term("ode", "auto")
    assert isinstance(big, BandedSchrodingerTerm)
    dense_jump = torch.ones(96, 96, dtype=torch.complex128)  # every diagonal: stays dense
    eq = Lindblad(qd.constant(qd.number(96)), [qd.constant(dense_jump)], "mesolve", True)
    assert not isinstance(eq.term("ode", "auto"), BandedLindbladTerm)
    eq = Lindblad(qd.constant(qd.number(96)), [qd.constant(a_large)], "mesolve", True)
    assert isinstance(eq.term("ode", "auto"), BandedLindbladTerm)


def test_auto_layout_picks_the_superoperator_for_small_constant_lindbladians():
    def term(n, layout="auto", batch=(), H=None):
        a = qd.destroy(n)
        H = qd.constant(qd.number(n) * torch.ones(*batch, 1, 1)) if H is None else H
        return Lindblad(H, [qd.constant(a)], "mesolve", True).term("ode", layout)

    assert isinstance(term(2), SuperLindbladTerm)
    assert isinstance(term(12), SuperLindbladTerm)
    assert isinstance(term(4, batch=(512,)), SuperLindbladTerm)  # 512 × 4⁴ = 2¹⁷
    assert type(term(13)) is LindbladTerm
    assert type(term(8, batch=(512,))) is LindbladTerm  # 512 × 8⁴ > 2¹⁷
    assert type(term(4, "dense")) is LindbladTerm
    assert not isinstance(term(4, "banded"), SuperLindbladTerm)
    x = qd.destroy(4) + qd.dag(qd.destroy(4))
    drive = qd.constant(qd.number(4)) + qd.modulated(torch.cos, x)
    assert not isinstance(term(4, H=drive), SuperLindbladTerm)  # time-dependent


def test_superoperator_term_matches_the_product_form_and_its_vjp():
    torch.manual_seed(0)
    n = 4
    H = torch.randn(3, n, n, dtype=torch.complex128)
    H = H + H.mH
    L = torch.randn(n, n, dtype=torch.complex128)
    dense = Lindblad(qd.constant(H), [qd.constant(L)], "mesolve", False).term("ode", "dense")
    sup = SuperLindbladTerm(dense)
    rho = torch.randn(3, n, n, dtype=torch.complex128)  # not Hermitian: the map is linear
    torch.testing.assert_close(sup.vf(0.0, rho), dense.vf(0.0, rho), rtol=1e-12, atol=1e-12)
    assert (n, n) == sup.vf(0.0, rho[0]).shape[-2:]

    g = torch.randn_like(rho)
    G = sup.ops(0.0)[0].detach().requires_grad_()
    r = rho.clone().requires_grad_()
    out = SuperLindbladTerm._apply(G, r)
    ref = torch.autograd.grad(out, (r, G), g)
    g_y, (g_G,) = sup.vjp((G.detach(),), rho, g, (True,))
    torch.testing.assert_close(g_y, ref[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_G, ref[1], rtol=1e-12, atol=1e-12)
    g_y2, (none,) = sup.vjp((G.detach(),), rho, g, (False,))
    assert none is None and torch.equal(g_y2, g_y)


def test_time_dependent_operators_stay_dense_even_when_banded_is_asked():
    a = qd.destroy(5)
    H = qd.constant(qd.number(5)) + qd.modulated(torch.cos, a + qd.dag(a))
    assert not isinstance(Schrodinger(H).term("ode", "banded"), BandedSchrodingerTerm)
    psi = qd.sesolve(H, qd.fock(5, 0), [0.0, 1.0], options=qd.Options(layout="banded")).states
    ref = qd.sesolve(H, qd.fock(5, 0), [0.0, 1.0], options=qd.Options(layout="dense")).states
    torch.testing.assert_close(psi, ref)


def test_layout_setting_and_bad_values():
    with pytest.raises(ValueError, match="`layout`"):
        qd.Options(layout="sparse")
    with pytest.raises(ValueError, match="`layout`"):
        qd.set_layout("csr")
    from dynamics._config import get_layout

    assert get_layout() == "auto"
    qd.set_layout("dense")
    try:
        assert get_layout() == "dense"  # what a solve call with Options(layout=None) uses
        assert get_layout("banded") == "banded"  # a per-call value wins
    finally:
        qd.set_layout("auto")


@pytest.mark.parametrize("mode", ["Direct", "Adjoint"])
def test_diagonal_expectations_of_kets_equal_dense(mode):
    # Banded diagonal observables of kets (a total σz, a number operator) are
    # Σ_i E_ii |ψ_i|²: same values and gradients as the dense product, batched.
    K = torch.tensor(0.7, dtype=F64, requires_grad=True)
    eps = torch.tensor([0.8, 1.3], dtype=F64, requires_grad=True)
    outs = []
    for layout in ("dense", "banded"):
        H, a = _kerr(6, K, eps)
        E = [qd.dag(a) @ a, torch.diag(torch.linspace(-1.0, 2.0, 6, dtype=F64)) * (1 + 0.5j)]
        res = qd.sesolve(
            H, qd.coherent(6, 0.5), torch.linspace(0.0, 1.0, 3), exp_ops=E,
            gradient=MODES[mode], options=qd.Options(layout=layout),
        )  # fmt: skip
        loss = (res.expects.abs() ** 2).sum()
        outs.append((res.expects.detach(), torch.autograd.grad(loss, (K, eps))))
    (ref, grads_d), (got, grads_b) = outs
    assert got.shape == (2, 2, 3)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    for gb, gd in zip(grads_b, grads_d):
        torch.testing.assert_close(gb, gd, rtol=1e-10, atol=1e-12)


def test_a_banded_hamiltonian_is_built_once_per_unmodified_tensor():
    # Repeated solves with the same large Hamiltonian share its banded form (and the
    # sparse copy and real form it memoises); an in-place change is seen.
    from dynamics import equations

    n = 128
    a = qd.destroy(n)
    H = qd.dag(a) @ a + 0.3 * (a + qd.dag(a))
    args = (qd.fock(n, 0), torch.linspace(0.0, 0.5, 3))
    kw = {"exp_ops": [qd.dag(a) @ a], "options": qd.Options(layout="banded")}
    first = qd.sesolve(H, *args, **kw)
    memo = equations._generator.memos[id(H)][2]
    assert len(memo) == 1
    (M,) = memo.values()
    torch.testing.assert_close(qd.sesolve(H, *args, **kw).expects, first.expects)
    assert list(memo.values()) == [M]  # reused, not rebuilt
    H.mul_(2.0)  # modified in place: the memo is stale
    got = qd.sesolve(H, *args, **kw).expects
    ref = qd.sesolve(H.clone(), *args, exp_ops=kw["exp_ops"], options=qd.Options(layout="dense"))
    torch.testing.assert_close(got, ref.expects, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(got, first.expects)
