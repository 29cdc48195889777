import math

import numpy as np
import pytest
import qutip
import torch

from dynamics.states import coherent, fock
from dynamics.wigner import wigner

ATOL = 1e-10


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


XVEC = np.linspace(-4.0, 4.0, 33)
YVEC = np.linspace(-3.0, 3.5, 27)  # nx != ny catches transposed outputs


@pytest.mark.parametrize(
    "state",
    [
        qutip.rand_dm(10, seed=1),
        qutip.rand_ket(10, seed=2),
        qutip.coherent(20, 1.5 - 0.8j),
        qutip.fock_dm(6, 5),
        qutip.Qobj(qutip.rand_dm(8, seed=3).full() + 0.1 * qutip.destroy(8).full()),
        qutip.basis(2, 1),
    ],
    ids=["dm", "ket", "coherent", "fock5", "non-hermitian", "qubit"],
)
@pytest.mark.parametrize("g", [math.sqrt(2), 2.0])
def test_matches_qutip(state, g):
    x, y, W = wigner(state, xvec=XVEC, yvec=YVEC, g=g)
    assert W.shape == (len(YVEC), len(XVEC)) and W.dtype == torch.float64
    np.testing.assert_allclose(x, XVEC)
    np.testing.assert_allclose(y, YVEC)
    np.testing.assert_allclose(W, qutip.wigner(state, XVEC, YVEC, g=g), atol=ATOL, rtol=0)


def test_vacuum_single_level():
    # n = 1 (qutip.wigner doubles the n = 1 case): W = exp(-x^2 - y^2) / pi.
    x, y, W = wigner(torch.ones(1, 1, dtype=torch.complex128), npixels=21)
    expected = torch.exp(-(x[None, :] ** 2) - y[:, None] ** 2) / math.pi
    torch.testing.assert_close(W, expected, atol=ATOL, rtol=0)


def test_default_grid():
    x, y, W = wigner(fock(3, 0), xmax=3.0, ymax=2.0, npixels=11)
    torch.testing.assert_close(x, torch.linspace(-3.0, 3.0, 11, dtype=torch.float64))
    torch.testing.assert_close(y, torch.linspace(-2.0, 2.0, 11, dtype=torch.float64))
    assert W.shape == (11, 11)
    assert wigner(fock(3, 0))[2].shape == (201, 201)


@pytest.mark.parametrize("kind", ["ket", "dm"])
def test_batched(kind):
    psi = coherent(12, torch.tensor([[0.5, -1.0j], [0.3 + 0.3j, 1.2]]))  # (2, 2, 12, 1)
    state = psi if kind == "ket" else psi @ psi.mH
    _, _, W = wigner(state, xvec=XVEC, yvec=YVEC)
    assert W.shape == (2, 2, len(YVEC), len(XVEC))
    for idx in np.ndindex(2, 2):
        expected = qutip.wigner(qutip.Qobj(psi[idx].numpy()), XVEC, YVEC)
        np.testing.assert_allclose(W[idx], expected, atol=ATOL, rtol=0)


def test_normalised():
    x, y, W = wigner(qutip.rand_dm(6, seed=4), xmax=7.0, ymax=7.0, npixels=141)
    dx, dy = x[1] - x[0], y[1] - y[0]
    assert abs((W.sum() * dx * dy).item() - 1.0) < 1e-6


def test_single_precision_and_device():
    x, y, W = wigner(fock(4, 2, dtype=torch.complex64, device="cpu"), npixels=9)
    assert x.dtype == y.dtype == W.dtype == torch.float32
    assert W.device == torch.device("cpu")
    _, _, W64 = wigner(fock(4, 2), npixels=9)
    torch.testing.assert_close(W, W64.float(), atol=1e-6, rtol=0)


def test_gradcheck():
    A = torch.randn(3, 3, dtype=torch.complex128, requires_grad=True)
    grid = np.linspace(-1.0, 1.0, 3)
    assert torch.autograd.gradcheck(lambda a: wigner(a @ a.mH, xvec=grid, yvec=grid)[2], (A,))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"state": torch.zeros(3, 4)}, ValueError, "`state`"),
        ({"state": "abc"}, TypeError, "`state`"),
        ({"npixels": 0}, ValueError, "`npixels`"),
        ({"npixels": 10.5}, TypeError, "`npixels`"),
        ({"xmax": -1.0}, ValueError, "`xmax`"),
        ({"ymax": 0.0}, ValueError, "`ymax`"),
        ({"g": -2.0}, ValueError, "`g`"),
        ({"g": "a"}, TypeError, "`g`"),
        ({"xvec": np.zeros((2, 2))}, ValueError, "`xvec`"),
        ({"yvec": []}, ValueError, "`yvec`"),
        ({"yvec": np.array([1j])}, ValueError, "`yvec`"),
    ],
)
def test_errors(kwargs, error, match):
    kwargs = {"state": fock(3, 0), **kwargs}
    with pytest.raises(error, match=match):
        wigner(**kwargs)
