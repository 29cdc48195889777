"""The banded layout (`qd.Options(layout=...)`, `qd.set_layout`) changes nothing but speed.

Solve functions with banded constant operators must give the dense results and the
dense gradients, in every gradient mode, with batching, and second derivatives.
"""

import pytest
import torch

import dynamics as qd
from dynamics.equations import BandedLindbladTerm, BandedSchrodingerTerm, Lindblad, Schrodinger

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
@pytest.mark.parametrize("solve", ["mesolve", "sesolve", "sepropagator"])
def test_banded_layout_equals_dense_values_and_gradients(solve, mode, batched):
    out_d, grads_d = _solve(solve, "dense", MODES[mode], batched)
    out_b, grads_b = _solve(solve, "banded", MODES[mode], batched)
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
