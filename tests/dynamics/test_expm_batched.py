"""Expm on piecewise-constant generators takes all its steps at once (`linear_map_loop`).

The batched path must give what stepping one interval at a time gives (`Expm(dt=...)`
and the replaying gradient modes still step one by one), for kets, density matrices,
propagators and superoperators, with batch dimensions on the pulses and on H0, and
with save times between and on the pulse's knots.
"""

import numpy as np
import pytest
import torch

import dynamics as qd
from solvers import LinearTerm, integrate
from solvers.map_loop import linear_map_loop, map_loop

F64 = torch.float64


def _pulse_problem(batched: bool):
    n = 3
    b = qd.destroy(n)
    rng = np.random.default_rng(7)
    H0 = -0.4 * qd.dag(b) @ qd.dag(b) @ b @ b
    if batched:
        H0 = H0 * torch.tensor([1.0, 1.3], dtype=F64)[:, None, None, None]  # (2, 1, n, n)
    times = torch.linspace(0.0, 2.0, 9, dtype=F64)
    shape = (3, 8) if batched else (8,)
    ux = torch.tensor(rng.uniform(-1, 1, size=shape), requires_grad=True)
    uy = torch.tensor(rng.uniform(-1, 1, size=(8,)), requires_grad=True)
    H = qd.constant(H0) + qd.pwc(times, ux, b + qd.dag(b)) + qd.pwc(times, uy, 1j * (qd.dag(b) - b))
    jump_ops = [0.3 * b, qd.modulated(lambda t: 0.2, qd.dag(b) @ b)]
    tsave = torch.tensor([0.0, 0.3, 0.75, 1.25, 2.0, 2.5], dtype=F64)  # on, between, after knots
    return H, jump_ops, tsave, (ux, uy)


SOLVES = {
    "sesolve": lambda H, J, ts, m, g=None: qd.sesolve(H, qd.fock(3, 0), ts, method=m, gradient=g),
    "mesolve": lambda H, J, ts, m, g=None: qd.mesolve(
        H, [J[0]], qd.fock_dm(3, 1), ts, method=m, gradient=g
    ),
    "sepropagator": lambda H, J, ts, m, g=None: qd.sepropagator(H, ts, method=m, gradient=g),
    "mepropagator": lambda H, J, ts, m, g=None: qd.mepropagator(
        H, [J[0]], ts, method=m, gradient=g
    ),
}


def _out(result):
    return result.propagators if hasattr(result, "propagators") else result.states


@pytest.mark.parametrize("batched", [False, True], ids=["unbatched", "batched"])
@pytest.mark.parametrize("solve", list(SOLVES))
def test_batched_expm_equals_stepwise_expm_with_gradients(solve, batched):
    H, J, tsave, params = _pulse_problem(batched)
    fast = SOLVES[solve](H, J, tsave, qd.method.Expm())
    slow = SOLVES[solve](H, J, tsave, qd.method.Expm(dt=0.05))  # one step at a time
    torch.testing.assert_close(_out(fast), _out(slow), rtol=1e-10, atol=1e-10)
    assert fast.infos["steps"] < slow.infos["steps"]  # one step per interval
    w = torch.rand_like(_out(fast).real)
    g_fast = torch.autograd.grad((_out(fast).abs() ** 2 * w).sum(), params)
    g_slow = torch.autograd.grad((_out(slow).abs() ** 2 * w).sum(), params)
    for a, b in zip(g_fast, g_slow):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


def test_batched_expm_gradient_equals_replaying_modes():
    H, J, tsave, params = _pulse_problem(batched=True)
    grads = {}
    for mode in (qd.gradient.Direct(), qd.gradient.Checkpointed(), qd.gradient.Adjoint()):
        rho = SOLVES["mesolve"](H, J, tsave, qd.method.Expm(), mode).states
        grads[type(mode).__name__] = torch.autograd.grad(rho[..., 2, 2].real.sum(), params)
    for name in ("Checkpointed", "Adjoint"):
        for a, b in zip(grads["Direct"], grads[name]):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def _rotation_term(with_stack: bool, d: int):
    """A constant generator on a random d×d problem (with or without its batched `Gs`)."""
    gen = torch.Generator().manual_seed(d)
    X = torch.randn(d, d, dtype=torch.complex128, generator=gen)
    G = (X - X.mH) / d**0.5  # anti-Hermitian: a unitary flow
    stack = (lambda ts: G.expand(len(ts), d, d)) if with_stack else None
    return LinearTerm(lambda t: G, is_constant=True, Gs=stack), G


@pytest.mark.parametrize("d", [4, 40], ids=["tree-product", "one-by-one"])
@pytest.mark.parametrize("with_stack", [True, False], ids=["Gs", "G-only"])
def test_linear_map_loop_equals_map_loop_on_a_constant_generator(d, with_stack):
    from solvers import Expm

    term, G = _rotation_term(with_stack, d)
    y0 = torch.eye(d, dtype=torch.complex128)[:, :1]  # one column: `d = 40` applies maps one by one
    tsave = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.7, 1.0], dtype=F64)
    method = Expm()
    args = (method, term, y0, tsave, 0.0, (0.35, 0.5), lambda y: (y,))
    fast, y_fast, stats = linear_map_loop(*args, False)
    slow, y_slow, _ = map_loop(*args, False)
    torch.testing.assert_close(y_slow, y_fast)
    torch.testing.assert_close(torch.stack([s[0] for s in fast]), torch.stack([s[0] for s in slow]))
    torch.testing.assert_close(y_fast, torch.linalg.matrix_exp(G) @ y0)
    # equal save spacings (0.1) and the two discontinuity-split pieces share exponentials
    assert stats["nfev"] < stats["steps"]
    sol = integrate(term, method, y0, tsave)
    torch.testing.assert_close(sol.ys[0][-1], y_fast)


def test_unitary_exponentials_use_the_eigendecomposition_and_keep_exact_derivatives():
    from solvers.methods.expm import _is_skew_hermitian, expm_skew_hermitian

    H = _pulse_problem(batched=False)[0]
    G = -1j * H.at_times([0.1, 0.7])
    assert _is_skew_hermitian(G) and not _is_skew_hermitian(G + 0.1)
    X = torch.randn(3, 3, dtype=F64, requires_grad=True)

    def unitary(X):  # a Hermitian direction: exp(-i (H + X + Xᵀ))
        return expm_skew_hermitian(G - 1j * (X + X.mT))

    assert torch.autograd.gradcheck(unitary, (X,))
    assert torch.autograd.gradgradcheck(unitary, (X,))

    # Second derivatives of a gate fidelity through sepropagator + Expm (GRAPE's Hessian)
    def fidelity(ux):
        Hs = qd.pwc(torch.linspace(0.0, 2.0, 9, dtype=F64), ux, qd.sigmax())
        U = qd.sepropagator(Hs, [0.0, 2.0], method=qd.method.Expm()).final_propagator
        return (U[0, 1].abs() ** 2).unsqueeze(0)

    u = torch.linspace(-0.5, 0.7, 8, dtype=F64, requires_grad=True)
    assert torch.autograd.gradgradcheck(fidelity, (u,))
