"""Penalties on hand-made arrays, batch shapes, gradcheck and bad input."""

import math

import numpy as np
import pytest
import torch

from dynamics.control.fidelities import average_gate_fidelity
from dynamics.control.penalties import amplitude, energy, leakage, smoothness

ATOL = 1e-12
C128 = torch.complex128


def close(x: torch.Tensor, expected) -> None:
    np.testing.assert_allclose(x.detach().numpy(), np.asarray(expected), atol=ATOL, rtol=0)


def rand_unitary(n: int, *batch: int) -> torch.Tensor:
    Q, R = torch.linalg.qr(torch.randn(*batch, n, n, dtype=C128))
    d = R.diagonal(dim1=-2, dim2=-1)
    return Q * (d / d.abs())[..., None, :]


def leaky_qutrit(theta: float) -> torch.Tensor:
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=C128)


# ----------------------------------------------------------------------------- leakage


def test_leakage_of_gates():
    theta = 0.7
    U = leaky_qutrit(theta)
    close(leakage(U, [0, 1]), math.sin(theta) ** 2 / 2)
    close(leakage(U, [0]), 0.0)
    close(leakage(U, [1, 2]), 0.0)
    close(leakage(U, torch.eye(3, dtype=C128)[:, [0, 1]]), math.sin(theta) ** 2 / 2)
    # unitary U: L = 1 - Tr(M M†)/d, and the average gate fidelity to M's polar part is
    # consistent: Tr(M M†) = d (1 - L)
    V = rand_unitary(4)
    M = V[:2, :2]
    close(leakage(V, [0, 1]), 1 - (M @ M.mH).trace().real / 2)
    close(leakage(V, [0, 1], kind="gate"), leakage(V, [0, 1]))
    assert 0 < average_gate_fidelity(V, torch.eye(2), subspace=[0, 1]) < 1


def test_leakage_of_states():
    psi = torch.tensor([[0.6], [0.0], [0.8j]], dtype=C128)
    close(leakage(psi, [0, 1]), 0.64)
    close(leakage(psi, [2]), 0.36)
    rho = psi @ psi.mH
    close(leakage(rho, [0, 1], kind="state"), 0.64)
    close(leakage(psi, torch.eye(3, dtype=C128)[:, [0, 1]]), 0.64)
    # complex isometry: |+i> = (|0> + i|1>)/√2 spans one level, a ket orthogonal to it leaks
    P = torch.tensor([[1], [1j]], dtype=C128) / math.sqrt(2)
    close(leakage(torch.tensor([[1], [-1j]], dtype=C128) / math.sqrt(2), P), 1.0)
    close(leakage(torch.tensor([[1], [1j]], dtype=C128) / math.sqrt(2), P), 0.0)
    close(leakage(P @ P.mH, P, kind="state"), 0.0)


def test_leakage_batch():
    U = rand_unitary(3, 4, 2)
    L = leakage(U, [0, 2])
    assert L.shape == (4, 2) and L.dtype == torch.float64
    close(L[3, 1], leakage(U[3, 1], [0, 2]))
    kets = U[..., :, :1]  # (4, 2, 3, 1)
    assert leakage(kets, [1]).shape == (4, 2)
    assert leakage(U.to(torch.complex64), [0]).dtype == torch.float32


def test_leakage_gradcheck():
    U = rand_unitary(3).requires_grad_()
    psi = torch.randn(3, 1, dtype=C128, requires_grad=True)
    P = torch.eye(3, dtype=C128)[:, [0, 2]]
    assert torch.autograd.gradcheck(lambda u: leakage(u, [0, 1]), (U,))
    assert torch.autograd.gradcheck(lambda u: leakage(u, P), (U,))
    assert torch.autograd.gradcheck(lambda p: leakage(p, [1]), (psi,))
    assert torch.autograd.gradcheck(lambda u: leakage(u, [1], kind="state"), (U,))


# ----------------------------------------------------------------------------- controls


U_HAND = [[1.0, -3.0, 0.5], [0.0, 2.0, -1.0]]  # 2 controls, 3 slices


def test_amplitude_values():
    close(amplitude(U_HAND), (1 + 9 + 0.25 + 0 + 4 + 1) / 6)
    close(amplitude(U_HAND, bound=2.0), 1.0 / 6)  # only |-3| exceeds 2
    close(amplitude(U_HAND, bound=[0.5, 1.5]), (0.25 + 6.25 + 0 + 0 + 0.25 + 0) / 6)
    close(amplitude(U_HAND, bound=5), 0.0)
    close(amplitude(torch.tensor([[3j, 4.0]]), bound=3.0), 0.5)  # complex: |u|


def test_smoothness_values():
    close(smoothness(U_HAND), ((4**2 + 3.5**2) + (2**2 + 3**2)) / 4)
    close(smoothness(U_HAND, dt=0.5), 4 * ((4**2 + 3.5**2) + (2**2 + 3**2)) / 4)
    # non-uniform slices: differences over the distances between slice midpoints
    dt = [1.0, 3.0, 1.0]  # midpoints 0.5, 2.5, 4.5
    close(smoothness([[0.0, 2.0, 6.0]], dt=dt), ((2 / 2) ** 2 + (4 / 2) ** 2) / 2)
    close(smoothness(torch.ones(2, 5)), 0.0)


def test_energy_values():
    close(energy(U_HAND, dt=0.1), 0.1 * (1 + 9 + 0.25 + 0 + 4 + 1))
    dt = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    close(energy(U_HAND, dt), (1 * 0.5 + 9 * 1 + 0.25 * 2) + (4 * 1 + 1 * 2))


@pytest.mark.parametrize(
    "penalty",
    [
        amplitude,
        lambda u: amplitude(u, bound=0.3),
        smoothness,
        lambda u: smoothness(u, dt=torch.tensor([0.1, 0.3, 0.2, 0.2, 0.5], dtype=torch.float64)),
        lambda u: energy(u, 0.2),
    ],
)
def test_penalties_keep_batch_dims_and_gradcheck(penalty):
    u = torch.randn(3, 2, 4, 5, dtype=torch.float64)  # (*batch, ncontrols, N)
    R = penalty(u)
    assert R.shape == (3, 2) and R.dtype == torch.float64
    close(R[2, 1], penalty(u[2, 1]))
    assert penalty(u.float()).dtype == torch.float32
    assert torch.autograd.gradcheck(penalty, (u[0].clone().requires_grad_(),))


def test_amplitude_gradient_is_zero_inside_bound():
    u = torch.tensor([[0.1, -0.2, 0.5]], dtype=torch.float64, requires_grad=True)
    amplitude(u, bound=0.3).backward()
    close(u.grad, [[0.0, 0.0, 2 * 0.2 / 3]])


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: leakage(torch.eye(3), [0, 1], kind="ket"), ValueError, "`kind` must be"),
        (lambda: leakage(torch.ones(3, 2), [0, 1]), ValueError, r"`x` must have shape"),
        (
            lambda: leakage(torch.ones(3, 1), [0, 1], kind="gate"),
            ValueError,
            r"`x` must have shape",
        ),
        (lambda: leakage(torch.eye(3), [0, 3]), ValueError, "`subspace`"),
        (lambda: leakage(torch.eye(3), None), TypeError, "`subspace`"),
        (
            lambda: amplitude([1.0, 2.0]),
            ValueError,
            r"`u` must have shape \(\.\.\., ncontrols, N\)",
        ),
        (lambda: amplitude("abc"), TypeError, "`u`"),
        (lambda: amplitude(U_HAND, bound=-1.0), ValueError, "`bound` must be non-negative"),
        (lambda: amplitude(U_HAND, bound=[1.0, 2.0, 3.0]), ValueError, "`bound` must be a number"),
        (lambda: amplitude(U_HAND, bound="big"), TypeError, "`bound`"),
        (lambda: smoothness([[1.0]]), ValueError, "at least 2 slices"),
        (
            lambda: smoothness(U_HAND, dt=[1.0, 1.0]),
            ValueError,
            r"`dt` must be a scalar or have shape \(3,\)",
        ),
        (lambda: smoothness(U_HAND, dt=0.0), ValueError, "`dt` must be positive"),
        (lambda: energy(U_HAND, dt=[1.0, -1.0, 1.0]), ValueError, "`dt` must be positive"),
        (lambda: energy(U_HAND, dt=torch.ones(3, dtype=C128)), TypeError, "`dt` must be real"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_results_follow_the_device(device):
    u = torch.randn(2, 3, 4, dtype=torch.float64, device=device)
    assert leakage(rand_unitary(3).to(device), [0, 1]).device == device
    assert amplitude(u, bound=[0.1, 0.2, 0.3]).device == device
    assert smoothness(u, dt=[0.1, 0.2, 0.3, 0.4]).device == device
    assert energy(u, dt=0.1).device == device
