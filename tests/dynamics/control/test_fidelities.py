"""Fidelities against QuTiP, hand-computed leaky gates, a 2-design average and gradcheck."""

import itertools
import math

import numpy as np
import pytest
import qutip
import torch

import dynamics as qd
from dynamics.control.fidelities import (
    average_gate_fidelity,
    average_process_fidelity,
    gate_fidelity,
    process_fidelity,
    state_fidelity,
)

ATOL = 1e-10
C128 = torch.complex128


def rand_unitary(n: int, *batch: int) -> torch.Tensor:
    A = torch.randn(*batch, n, n, dtype=C128)
    Q, R = torch.linalg.qr(A)
    return Q * (R.diagonal(dim1=-2, dim2=-1) / R.diagonal(dim1=-2, dim2=-1).abs())[..., None, :]


def rand_ket(n: int, *batch: int) -> torch.Tensor:
    psi = torch.randn(*batch, n, 1, dtype=C128)
    return psi / torch.linalg.vector_norm(psi, dim=(-2, -1), keepdim=True)


def rand_dm(n: int, *batch: int) -> torch.Tensor:
    A = torch.randn(*batch, n, n, dtype=C128)
    rho = A @ A.mH
    return rho / rho.diagonal(dim1=-2, dim2=-1).sum(-1)[..., None, None]


def q(x: torch.Tensor, dims=None) -> qutip.Qobj:
    return qutip.Qobj(x.detach().numpy(), dims=dims)


def qsuper(S: torch.Tensor) -> qutip.Qobj:
    n = math.isqrt(S.shape[-1])
    return qutip.Qobj(S.detach().numpy(), dims=[[[n], [n]], [[n], [n]]], superrep="super")


def close(x: torch.Tensor, expected, atol: float = ATOL) -> None:
    x = x.detach().resolve_conj().numpy()
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().resolve_conj().numpy()
    np.testing.assert_allclose(x, np.asarray(expected), atol=atol, rtol=0)


def leaky_qutrit(theta: float) -> torch.Tensor:
    """Identity on |0>, rotation by theta between |1> and |2>: |1> leaks out of [0, 1]."""
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=C128)


def superop(U: torch.Tensor) -> torch.Tensor:
    """Column-stacking superoperator conj(U) ⊗ U of U ρ U†, via qd.mepropagator (Expm)."""
    w, V = torch.linalg.eig(U)  # U = V e^{-i diag(a)} V^{-1}, so U = exp(-i H)
    H = V @ torch.diag_embed(-w.angle().to(U.dtype)) @ torch.linalg.inv(V)
    H = 0.5 * (H + H.mH)
    return qd.mepropagator(H, [], [0.0, 1.0], method=qd.method.Expm()).final_propagator


# ----------------------------------------------------------------------------- states


@pytest.mark.parametrize("kinds", list(itertools.product(["ket", "dm"], repeat=2)))
def test_state_fidelity_matches_qutip(kinds):
    make = {"ket": rand_ket, "dm": rand_dm}
    x, y = make[kinds[0]](4), make[kinds[1]](4)
    # QuTiP takes matrix square roots even for kets: agreement to ~1e-9
    close(state_fidelity(x, y), qutip.fidelity(q(x), q(y)) ** 2, atol=1e-8)
    close(state_fidelity(y, x), qutip.fidelity(q(x), q(y)) ** 2, atol=1e-8)


def test_state_fidelity_closed_forms():
    psi, phi, sigma = rand_ket(3), rand_ket(3), rand_dm(3)
    close(state_fidelity(psi, phi), ((phi.mH @ psi).abs() ** 2).squeeze())
    close(state_fidelity(sigma, phi), (phi.mH @ sigma @ phi).real.squeeze())
    close(state_fidelity(sigma, sigma), 1.0)
    close(state_fidelity(psi @ psi.mH, psi), 1.0)


def test_state_fidelity_batch_and_broadcast():
    states, targets = rand_dm(3, 2, 1), rand_ket(3, 4)
    F = state_fidelity(states, targets)
    assert F.shape == (2, 4) and F.dtype == torch.float64
    for i, j in itertools.product(range(2), range(4)):
        close(F[i, j], state_fidelity(states[i, 0], targets[j]))


def test_state_fidelity_tensor_likes_and_precision():
    F = state_fidelity(qutip.basis(2, 0), [[1 / math.sqrt(2)], [1 / math.sqrt(2)]])
    close(F, 0.5)
    F32 = state_fidelity(rand_dm(2).to(torch.complex64), rand_dm(2).to(torch.complex64))
    assert F32.dtype == torch.float32


def _dm(A: torch.Tensor) -> torch.Tensor:
    rho = A @ A.mH
    return rho / rho.diagonal().sum()


def test_state_fidelity_gradcheck():
    A, B = torch.randn(3, 3, dtype=C128), torch.randn(3, 3, dtype=C128)
    psi, phi = torch.randn(3, 1, dtype=C128), torch.randn(3, 1, dtype=C128)
    for args, f in [
        ((A, B), lambda a, b: state_fidelity(_dm(a), _dm(b))),  # Uhlmann, both arguments
        ((psi, B), lambda p, b: state_fidelity(p / p.norm(), _dm(b))),
        ((psi, phi), lambda p, r: state_fidelity(p / p.norm(), r / r.norm())),
    ]:
        args = [a.clone().requires_grad_() for a in args]
        assert torch.autograd.gradcheck(f, args)


def test_state_fidelity_gradient_at_degenerate_state():
    # the state enters only eigenvalues: a maximally mixed state (degenerate) is fine
    target = rand_dm(3)
    A = torch.eye(3, dtype=C128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: state_fidelity(_dm(a), target), (A,))
    # pure target given as a density matrix: the gradient is exact (<t|σ|t> is linear)
    t = rand_ket(3)
    rho = rand_dm(3).requires_grad_()
    state_fidelity(rho, t @ t.mH).backward()
    close(rho.grad, t @ t.mH)  # torch's convention: ∂F/∂Re ρ + i ∂F/∂Im ρ


# ----------------------------------------------------------------------------- gates


def test_gate_fidelities_match_qutip():
    U, V = rand_unitary(3), rand_unitary(3)
    close(gate_fidelity(U, V), qutip.process_fidelity(q(U), q(V)))
    close(average_gate_fidelity(U, V), qutip.average_gate_fidelity(q(U), q(V)))
    close(gate_fidelity(U, U * 1j), 1.0)
    close(average_gate_fidelity(U, U), 1.0)


def test_leaky_qutrit_hand_values():
    theta = 0.7
    c = math.cos(theta)
    U, V = leaky_qutrit(theta), torch.eye(2, dtype=C128)  # M = diag(1, cos θ)
    close(gate_fidelity(U, V, subspace=[0, 1]), ((1 + c) / 2) ** 2)
    close(gate_fidelity(U, V, subspace=[0, 1], phase="sensitive"), (1 + c) / 2)
    close(average_gate_fidelity(U, V, subspace=[0, 1]), (1 + c**2 + (1 + c) ** 2) / 6)
    close(average_gate_fidelity(U, V, subspace=[0, 2]), (1 + c**2 + (1 + c) ** 2) / 6)
    close(
        average_gate_fidelity(U, V, subspace=[0, 1]), average_gate_fidelity(U, V, subspace=[2, 0])
    )


def _pauli_states() -> torch.Tensor:
    """The six Pauli eigenstates, a (3-)design: their average is the Haar average."""
    s = 1 / math.sqrt(2)
    kets = [[1, 0], [0, 1], [s, s], [s, -s], [s, 1j * s], [s, -1j * s]]
    return torch.tensor(kets, dtype=C128)[..., None]


def test_average_gate_fidelity_is_the_state_average_with_leakage():
    U, V = rand_unitary(4), rand_unitary(2)
    psi = _pauli_states()  # (6, 2, 1)
    P = torch.eye(4, dtype=C128)[:, [1, 3]]
    out = P @ psi  # the embedded states...
    amp = (V @ psi).mH @ P.mH @ U @ out  # ...overlap of the kept part with the target state
    expected = (amp.abs() ** 2).mean()
    close(average_gate_fidelity(U, V, subspace=[1, 3]), expected)
    close(average_gate_fidelity(U, V, subspace=P), expected)


def test_isometry_subspace_is_basis_independent():
    U, V, W = rand_unitary(3), rand_unitary(2), rand_unitary(2)
    P = torch.eye(3, dtype=C128)[:, [0, 2]]
    for phase in ("insensitive", "sensitive"):
        F = gate_fidelity(U, V, subspace=[0, 2], phase=phase)
        close(gate_fidelity(U, V, subspace=P, phase=phase), F)
        close(gate_fidelity(U, W.mH @ V @ W, subspace=P @ W, phase=phase), F)
    close(
        average_gate_fidelity(U, W.mH @ V @ W, subspace=P @ W),
        average_gate_fidelity(U, V, subspace=[0, 2]),
    )
    # index arrays of either library
    for sub in (torch.tensor([0, 2]), np.array([0, 2]), range(0, 3, 2)):
        close(gate_fidelity(U, V, subspace=sub), gate_fidelity(U, V, subspace=[0, 2]))


def test_phase_sensitivity():
    U = rand_unitary(3)
    phis = torch.tensor([0.0, 0.4, 2.0], dtype=torch.float64)
    Uphi = torch.exp(1j * phis)[:, None, None] * U  # (3, n, n)
    close(gate_fidelity(Uphi, U), np.ones(3))
    close(gate_fidelity(Uphi, U, phase="sensitive"), torch.cos(phis))
    close(average_gate_fidelity(Uphi, U), np.ones(3))


def test_gate_fidelity_batch_and_broadcast():
    U, V = rand_unitary(3, 4, 2), rand_unitary(2, 2)  # U (4, 2, 3, 3), V (2, 2, 2)
    for f in (gate_fidelity, average_gate_fidelity):
        F = f(U, V, subspace=[0, 1])
        assert F.shape == (4, 2) and F.dtype == torch.float64
        for i, j in itertools.product(range(4), range(2)):
            close(F[i, j], f(U[i, j], V[j], subspace=[0, 1]))
    assert gate_fidelity(U, V[0], subspace=[0, 1]).shape == (4, 2)


def test_gate_fidelity_precision_and_tensor_likes():
    U = rand_unitary(2).to(torch.complex64)
    assert gate_fidelity(U, [[1, 0], [0, 1]]).dtype == torch.float32
    close(gate_fidelity(qutip.sigmax(), qutip.sigmax()), 1.0)
    close(gate_fidelity(np.eye(2), [[0, 1], [1, 0]]), 0.0)


@pytest.mark.parametrize("phase", ["insensitive", "sensitive"])
def test_gate_fidelity_gradcheck(phase):
    U, V = rand_unitary(3).requires_grad_(), rand_unitary(2).requires_grad_()
    P = torch.eye(3, dtype=C128)[:, [0, 1]]
    for sub in ([0, 1], P):
        assert torch.autograd.gradcheck(
            lambda u, v, s=sub: gate_fidelity(u, v, subspace=s, phase=phase), (U, V)
        )


def test_average_gate_fidelity_gradcheck():
    U, V = rand_unitary(3).requires_grad_(), rand_unitary(2).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda u, v: average_gate_fidelity(u, v, subspace=[2, 0]), (U, V)
    )


def test_gate_fidelity_gradient_through_a_propagator():
    theta = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)

    def f(th):
        U = qd.sepropagator(th * qd.sigmax(), [0.0, 1.0], method=qd.method.Expm()).final_propagator
        return gate_fidelity(U, -1j * qd.sigmax(), phase="sensitive")

    assert torch.autograd.gradcheck(f, (theta,))
    f(theta).backward()
    close(theta.grad, math.cos(0.3))  # F = Re Tr(i σx (cos θ - i sin θ σx)) / 2 = sin θ


# ----------------------------------------------------------------------------- processes


def test_mepropagator_convention_is_qutip_to_super():
    U = rand_unitary(3)
    S = superop(U)
    close(S, qutip.to_super(q(U)).full())


def test_process_fidelity_of_unitaries_is_gate_fidelity():
    U, V = rand_unitary(3), rand_unitary(2)
    S = superop(U)
    for sub in ([0, 1], [2, 0], torch.eye(3, dtype=C128)[:, [1, 2]]):
        close(process_fidelity(S, V, subspace=sub), gate_fidelity(U, V, subspace=sub))
        close(
            average_process_fidelity(S, V, subspace=sub),
            average_gate_fidelity(U, V, subspace=sub),
        )
    W = rand_unitary(3)
    close(process_fidelity(S, W), qutip.process_fidelity(qsuper(S), q(W)))


def test_leaky_qutrit_process_fidelity_hand_value():
    theta = 0.7
    c = math.cos(theta)
    S = superop(leaky_qutrit(theta))
    close(process_fidelity(S, torch.eye(2), subspace=[0, 1]), ((1 + c) / 2) ** 2)
    close(average_process_fidelity(S, torch.eye(2), subspace=[0, 1]), (1 + c**2 + (1 + c) ** 2) / 6)


def test_process_fidelity_decay_matches_qutip_and_lowers():
    H, X = torch.pi / 2 * qd.sigmax(), qd.sigmax()
    rates = torch.tensor([0.0, 0.05, 0.2], dtype=torch.float64)
    Ls = [rates.sqrt()[:, None, None] * qd.sigmam()]
    S = qd.mepropagator(H, Ls, [0.0, 1.0], method=qd.method.Expm()).final_propagator  # (3, 4, 4)
    F, Favg = process_fidelity(S, X), average_process_fidelity(S, X)
    assert F.shape == Favg.shape == (3,)
    close(F[0], 1.0)
    assert F[0] > F[1] > F[2] and Favg[0] > Favg[1] > Favg[2]
    for k in range(3):
        close(F[k], qutip.process_fidelity(qsuper(S[k]), q(X)))
        close(Favg[k], qutip.average_gate_fidelity(qsuper(S[k]), q(X)))


def test_process_fidelity_batch_broadcast_and_gradcheck():
    S = torch.stack([superop(rand_unitary(2)) for _ in range(3)])[:, None]  # (3, 1, 4, 4)
    V = rand_unitary(2, 2)  # (2, 2, 2)
    assert process_fidelity(S, V).shape == (3, 2)
    assert average_process_fidelity(S, V).shape == (3, 2)
    close(process_fidelity(S, V)[1, 0], process_fidelity(S[1, 0], V[0]))
    S1 = superop(rand_unitary(3)).requires_grad_()
    V1 = rand_unitary(2).requires_grad_()
    for f in (process_fidelity, average_process_fidelity):
        assert torch.autograd.gradcheck(lambda s, v, f=f: f(s, v, subspace=[1, 2]), (S1, V1))


def test_process_fidelity_gradient_through_mepropagator():
    theta = torch.tensor(1.2, dtype=torch.float64, requires_grad=True)

    def f(th):
        S = qd.mepropagator(
            th * qd.sigmax(), [0.3 * qd.sigmam()], [0.0, 1.0], method=qd.method.Expm()
        ).final_propagator
        return process_fidelity(S, qd.sigmax())

    assert torch.autograd.gradcheck(f, (theta,))


# ----------------------------------------------------------------------------- bad input


U3, V2 = torch.eye(3, dtype=C128), torch.eye(2, dtype=C128)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: gate_fidelity(torch.ones(3, 2), V2),
            ValueError,
            r"`U` must have shape \(\.\.\., n, n\)",
        ),
        (
            lambda: gate_fidelity(U3, V2),
            ValueError,
            r"`target` .* \(\.\.\., 3, 3\) .* n = 3 of `U`",
        ),
        (
            lambda: gate_fidelity(U3, U3, subspace=[0, 1]),
            ValueError,
            "dimension d = 2 of `subspace`",
        ),
        (lambda: gate_fidelity(U3, V2, subspace=[0, 3]), ValueError, r"`subspace` .* in \[0, 3\)"),
        (lambda: gate_fidelity(U3, V2, subspace=[1, 1]), ValueError, "distinct level indices"),
        (lambda: gate_fidelity(U3, V2, subspace=[]), ValueError, "distinct level indices"),
        (lambda: gate_fidelity(U3, V2, subspace=[0.0, 1.0]), TypeError, "`subspace`"),
        (lambda: gate_fidelity(U3, V2, subspace=torch.tensor([0.0, 1.0])), TypeError, "`subspace`"),
        (lambda: gate_fidelity(U3, V2, subspace="ab"), TypeError, "`subspace`"),
        (lambda: gate_fidelity(U3, V2, subspace=torch.ones(3, 2)), ValueError, "orthonormal"),
        (
            lambda: gate_fidelity(U3, V2, subspace=torch.eye(2)),
            ValueError,
            r"isometry of shape \(3, d\)",
        ),
        (
            lambda: gate_fidelity(U3, V2, subspace=[0, 1], phase="global"),
            ValueError,
            "`phase` must be",
        ),
        (
            lambda: gate_fidelity(rand_unitary(2, 3), rand_unitary(2, 2)),
            ValueError,
            "broadcastable",
        ),
        (lambda: average_gate_fidelity(U3, V2), ValueError, "`target`"),
        (lambda: process_fidelity(torch.eye(5), V2), ValueError, r"`S` must be a superoperator"),
        (lambda: process_fidelity(torch.eye(9), U3, subspace=[0, 1]), ValueError, "`target`"),
        (lambda: process_fidelity(torch.eye(9), V2), ValueError, "n = 3 of `S`"),
        (lambda: average_process_fidelity(torch.ones(9, 4), V2), ValueError, "`S` must have shape"),
        (
            lambda: state_fidelity(rand_ket(3), rand_ket(2)),
            ValueError,
            "`target` must have the Hilbert",
        ),
        (
            lambda: state_fidelity(torch.ones(3, 2), rand_ket(3)),
            ValueError,
            "`state` must be a ket",
        ),
        (lambda: state_fidelity(rand_ket(3), "psi"), TypeError, "`target`"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_results_follow_the_device(device):
    U, S = rand_unitary(3).to(device), superop(rand_unitary(2)).to(device)
    P = torch.eye(3, dtype=C128, device=device)[:, [0, 2]]
    assert gate_fidelity(U, [[1, 0], [0, 1]], subspace=[0, 2]).device == device
    assert average_gate_fidelity(U, np.eye(2), subspace=P).device == device
    assert process_fidelity(S, qutip.sigmax()).device == device
    assert average_process_fidelity(S, np.eye(2)).device == device
    assert state_fidelity(U[:, :1], [[1], [0], [0]]).device == device
