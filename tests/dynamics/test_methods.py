"""Properties of the methods on the Lindblad equation: measured order, positivity.

Convergence order is measured, not assumed: the slope of log(error) against log(dt) on
a driven, damped qubit (time-dependent Hamiltonian and jump operator, non-commuting
terms) must be within 0.3 of the order the method claims. The reference is Dopri8 at
`rtol=1e-13`. Every method of the registry whose only mode is a fixed step is measured
(the adaptive Runge–Kutta methods' fixed-step orders are the engine's tests).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from systems.methods import is_adaptive, kinds, method_order

import dynamics as qd
from dynamics.method import ALL_METHODS

F64 = torch.float64
C128 = torch.complex128

FIXED_METHODS = [c for c in ALL_METHODS if not is_adaptive(c) and c.term_kind in kinds("mesolve")]
# Kraus-map methods step the Lindblad operators themselves (term kind "lindblad").
KRAUS_METHODS = [c for c in ALL_METHODS if c.term_kind == "lindblad"]
# Explicit Runge–Kutta methods without error estimate: nothing keeps ρ positive.
EXPLICIT_FIXED_RK = [c for c in ALL_METHODS if hasattr(c, "tableau") and not is_adaptive(c)]


def _ids(classes) -> list[str]:
    return [c.__name__ for c in classes]


def driven_damped_qubit(gamma: float = 0.6, amplitude: float = 1.5):
    """`H = 0.35 σz + A cos(2t) σx/2`, `L1 = √γ σ−`, `L2 = 0.4 (1 + sin(t)/2) σz`."""
    sx, sz, sm = qd.sigmax(), qd.sigmaz(), qd.sigmam()
    H = 0.35 * sz + qd.modulated(lambda t: amplitude * torch.cos(2.0 * t), sx / 2)
    L = [gamma**0.5 * sm, qd.modulated(lambda t: 0.4 * (1 + 0.5 * torch.sin(t)), sz)]
    rho0 = qd.unit(qd.basis(2, 0) + 0.5j * qd.basis(2, 1))
    return H, L, rho0


def random_lindblad(n: int = 4, njumps: int = 3, rate: float = 2.0, seed: int = 3):
    """A random Hamiltonian (driven by `cos t`) and strong random jump operators."""
    g = torch.Generator().manual_seed(seed)

    def gaussian(*shape):
        return torch.complex(
            torch.randn(*shape, generator=g, dtype=F64), torch.randn(*shape, generator=g, dtype=F64)
        )

    X = gaussian(n, n)
    H0 = (X + X.mH) / 2
    Y = gaussian(n, n)
    H1 = (Y + Y.mH) / 2
    H = H0 + qd.modulated(lambda t: torch.cos(t), H1)
    L = [(rate / n) ** 0.5 * gaussian(n, n) for _ in range(njumps)]
    psi = gaussian(n, 1)
    return H, L, psi @ psi.mH / (psi.mH @ psi)


# ------------------------------------------------------------------ convergence order


@pytest.mark.parametrize("method_cls", FIXED_METHODS, ids=_ids(FIXED_METHODS))
def test_measured_order_on_time_dependent_lindblad(method_cls):
    H, L, rho0 = driven_damped_qubit()
    tsave = torch.tensor([0.0, 1.0, 2.0], dtype=F64)
    ref = qd.mesolve(H, L, rho0, tsave, method=qd.method.Dopri8(rtol=1e-13, atol=1e-15))
    dts = np.array([0.1, 0.05, 0.025, 0.0125])
    errors = []
    for dt in dts:
        res = qd.mesolve(H, L, rho0, tsave, method=method_cls(dt=float(dt)))
        errors.append((res.states - ref.states).abs().max().item())
    errors = np.array(errors)
    assert errors.min() > 1e-11, f"errors {errors} reach the reference's accuracy"
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    order = method_order(method_cls)
    assert abs(slope - order) <= 0.3, f"measured order {slope:.2f}, claimed {order}"


# ------------------------------------------------------------------ positivity


def _check_density_matrices(states: torch.Tensor) -> tuple[float, float, float]:
    """Return the smallest eigenvalue, the trace error and the Hermiticity error."""
    herm = (states - states.mH).abs().max().item()
    eig = torch.linalg.eigvalsh((states + states.mH) / 2).min().item()
    trace = (states.diagonal(dim1=-2, dim2=-1).sum(-1) - 1).abs().max().item()
    return eig, trace, herm


PROBLEMS = {
    "qubit": lambda: driven_damped_qubit(gamma=6.0, amplitude=2.0),
    "random_n4": lambda: random_lindblad(n=4, njumps=3, rate=8.0),
}
LARGE_DT = 0.5  # γ dt = 3 for the qubit: far outside the explicit methods' positivity range
TSAVE = torch.linspace(0.0, 5.0, 11, dtype=F64)


@pytest.mark.parametrize("problem", PROBLEMS, ids=list(PROBLEMS))
@pytest.mark.parametrize("method_cls", KRAUS_METHODS, ids=_ids(KRAUS_METHODS))
def test_kraus_methods_preserve_positivity_and_trace_at_large_dt(method_cls, problem):
    H, L, rho0 = PROBLEMS[problem]()
    res = qd.mesolve(H, L, rho0, TSAVE, method=method_cls(dt=LARGE_DT))
    eig, trace, herm = _check_density_matrices(res.states)
    assert eig >= -1e-12, f"smallest eigenvalue {eig:.2e}"
    assert trace <= 1e-12, f"trace error {trace:.2e}"
    assert herm <= 1e-12, f"Hermiticity error {herm:.2e}"


@pytest.mark.parametrize("method_cls", EXPLICIT_FIXED_RK, ids=_ids(EXPLICIT_FIXED_RK))
def test_explicit_methods_lose_positivity_at_large_dt(method_cls):
    """The contrast: with the same large `dt`, explicit Runge–Kutta steps leave the set of
    density matrices (the trace is kept, positivity is not)."""
    H, L, rho0 = PROBLEMS["qubit"]()
    res = qd.mesolve(H, L, rho0, TSAVE, method=method_cls(dt=LARGE_DT))
    eig, _, _ = _check_density_matrices(res.states)
    assert eig < -1e-2, f"smallest eigenvalue {eig:.2e}: expected a clearly negative one"
