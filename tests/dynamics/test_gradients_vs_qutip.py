"""Gradients against central finite differences of QuTiP solves, for a random open system.

`H = H0 + θ1 H1` (θ1 enters H linearly), jump operators `√θ2 A` (θ2 is a rate) and `B`,
n = 3, a mixed initial state; the loss is a weighted sum of two expectation values at
five save times. QuTiP's `mesolve` at atol 1e-12 / rtol 1e-10 with a fourth-order
central stencil of step 3e-3 gives the reference derivatives to ~1e-8; every gradient
mode, with every method that reaches that accuracy (adaptive ones at rtol 1e-10, exact
step maps), must match them to 1e-5 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from systems.gradients import make_gradient, one_thread, supports  # noqa: F401 (fixture)
from systems.methods import exact_on_pwc, is_adaptive

import dynamics as qd
from dynamics.gradient import ALL_GRADIENTS
from dynamics.method import ALL_METHODS

qutip = pytest.importorskip("qutip")

N = 3
THETA = (0.7, 0.45)  # (θ1, θ2)
TSAVE = np.linspace(0.0, 2.0, 5)
WEIGHTS = np.array([[0.3, -1.0, 0.8, 0.5, 1.2], [1.0, 0.4, -0.6, 0.9, -0.3]])  # (nexp, nt)
FD_STEP = 3e-3
REL_TOL = 1e-5
# Methods that reach 1e-5 on gradients at reasonable cost: adaptive at tight tolerances,
# or exact on this constant problem. Fixed-step methods are checked in test_gradient_modes.
ACCURATE = [cls for cls in ALL_METHODS if is_adaptive(cls) or exact_on_pwc(cls)]


def _random_system(seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def cmat(scale=1.0):
        return scale * (rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N))) / np.sqrt(2 * N)

    def herm(scale=1.0):
        X = cmat(scale)
        return (X + X.conj().T) / 2

    psi = rng.normal(size=(N, 2)) @ np.array([1.0, 1j])  # one ket
    psi /= np.linalg.norm(psi)
    rho0 = 0.7 * np.outer(psi, psi.conj()) + 0.3 * np.eye(N) / N
    return {
        "H0": herm(1.5),
        "H1": herm(1.0),
        "A": cmat(1.0),
        "B": cmat(0.5),
        "rho0": rho0,
        "E1": herm(1.0),
        "E2": herm(1.0),
    }


SYSTEM = _random_system()


def _qutip_loss(theta1: float, theta2: float) -> float:
    s = {k: qutip.Qobj(v) for k, v in SYSTEM.items()}
    res = qutip.mesolve(
        s["H0"] + theta1 * s["H1"],
        s["rho0"],
        TSAVE,
        c_ops=[np.sqrt(theta2) * s["A"], s["B"]],
        e_ops=[s["E1"], s["E2"]],
        options={"atol": 1e-12, "rtol": 1e-10, "nsteps": 100_000},
    )
    return float((WEIGHTS * np.real(np.array(res.expect))).sum())


@pytest.fixture(scope="module")
def qutip_reference() -> dict[str, float]:
    """QuTiP's loss and its derivatives in θ1, θ2 by a 4th-order central stencil."""
    out = {"loss": _qutip_loss(*THETA)}
    for i, name in enumerate(("theta1", "theta2")):

        def f(delta, i=i):
            theta = list(THETA)
            theta[i] += delta
            return _qutip_loss(*theta)

        h = FD_STEP
        out[name] = (f(-2 * h) - 8 * f(-h) + 8 * f(h) - f(2 * h)) / (12 * h)
    return out


def _method(cls):
    """The method at tight tolerances (adaptive) or exact (a step map without `dt`)."""
    return cls(rtol=1e-10, atol=1e-12) if is_adaptive(cls) else cls()


@pytest.mark.parametrize("method_cls", ACCURATE, ids=[c.__name__ for c in ACCURATE])
@pytest.mark.parametrize("gradient_cls", ALL_GRADIENTS, ids=[c.__name__ for c in ALL_GRADIENTS])
def test_gradients_match_qutip_finite_differences(qutip_reference, method_cls, gradient_cls):
    if not supports(method_cls, gradient_cls):
        pytest.skip(f"{method_cls.__name__} does not support {gradient_cls.__name__}")
    t = {k: torch.as_tensor(v, dtype=torch.complex128) for k, v in SYSTEM.items()}
    theta1 = torch.tensor(THETA[0], dtype=torch.float64, requires_grad=True)
    theta2 = torch.tensor(THETA[1], dtype=torch.float64, requires_grad=True)
    res = qd.mesolve(
        t["H0"] + theta1 * t["H1"],
        [torch.sqrt(theta2) * t["A"], t["B"]],
        t["rho0"],
        torch.as_tensor(TSAVE),
        exp_ops=[t["E1"], t["E2"]],
        method=_method(method_cls),
        gradient=make_gradient(gradient_cls),
    )
    loss = (torch.as_tensor(WEIGHTS) * res.expects.real).sum()
    assert float(loss.detach()) == pytest.approx(qutip_reference["loss"], rel=1e-8)
    g1, g2 = torch.autograd.grad(loss, (theta1, theta2))
    assert float(g1) == pytest.approx(qutip_reference["theta1"], rel=REL_TOL)
    assert float(g2) == pytest.approx(qutip_reference["theta2"], rel=REL_TOL)
