"""Tests of the pulse parametrisations (`dynamics.control.pulses`)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.interpolate import CubicSpline

import dynamics as qd
from dynamics.control.pulses import (
    DRAG,
    PWC,
    Filtered,
    Fourier,
    Gaussian,
    Pulse,
    Ramped,
    Spline,
    gaussian_kernel,
)

F64 = torch.float64
C128 = torch.complex128
SX, SY, SZ = qd.sigmax(), qd.sigmay(), qd.sigmaz()
TIMES = torch.tensor([0.0, 0.2, 0.5, 0.7, 1.0], dtype=F64)  # non-uniform slices


def make(kind: str, times=TIMES, batch_shape=()) -> Pulse:
    """One pulse of each kind, with generic (non-zero, non-symmetric) parameters."""
    g = torch.Generator().manual_seed(1)
    shape = (*batch_shape, 2)
    if kind == "pwc":
        return PWC.random(
            times, 2, 1.5, bounds=[(-2.0, 2.0), None], batch_shape=batch_shape, generator=g
        )
    if kind == "fourier":
        return Fourier(
            times,
            2,
            2,
            randomize=0.5,
            amplitude=0.8,
            bounds=[None, (-1.0, 3.0)],
            batch_shape=batch_shape,
            generator=g,
        )
    if kind == "spline":
        init = torch.rand((*shape, 3), generator=g, dtype=F64) - 0.3
        return Spline(times, 2, 3, init=init, bounds=[(-1.0, 1.0), None], batch_shape=batch_shape)
    if kind == "gaussian":
        return Gaussian(
            times,
            amplitude=3.0,
            center=0.4,
            sigma=0.3,
            learn=("amplitude", "center", "sigma"),
            batch_shape=batch_shape,
        )
    if kind == "drag":
        return DRAG(
            times,
            amplitude=3.0,
            beta=0.1,
            center=0.55,
            sigma=0.25,
            learn=("amplitude", "beta", "center", "sigma"),
            batch_shape=batch_shape,
        )
    if kind == "filtered":
        return Filtered(make("pwc", times, batch_shape), [0.2, 0.5, 0.3])
    if kind == "ramped":
        return Ramped(make("fourier", times, batch_shape), rise=0.3)
    raise ValueError(kind)


KINDS = ["pwc", "fourier", "spline", "gaussian", "drag", "filtered", "ramped"]


def controls(pulse: Pulse) -> list[torch.Tensor]:
    return [SX / 2, SY / 2][: pulse.ncontrols]


def propagator(pulse: Pulse, H0=0.7 * SZ) -> torch.Tensor:
    H = pulse.hamiltonian(H0, controls(pulse))
    T = float(pulse.times[-1])
    return qd.sepropagator(H, [0.0, T], method=qd.method.Expm()).final_propagator


# ----------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_shape", [(), (2, 3)])
def test_shapes(kind, batch_shape):
    pulse = make(kind, batch_shape=batch_shape)
    K, N = pulse.ncontrols, 4
    assert pulse.nslices == N and pulse.batch_shape == batch_shape
    assert pulse().shape == (*batch_shape, K, N) and pulse().dtype == F64
    assert pulse.values_at(0.3).shape == (*batch_shape, K)
    assert pulse.values_at(torch.linspace(0, 1, 7)).shape == (*batch_shape, K, 7)
    torch.testing.assert_close(pulse.dt, TIMES.diff())
    H = pulse.hamiltonian(SZ, controls(pulse))
    assert H.shape == (*batch_shape, 2, 2) and H.is_piecewise_constant
    assert len(list(pulse.parameters())) > 0
    assert f"nslices={N}" in repr(pulse)


@pytest.mark.parametrize("kind", KINDS)
def test_hamiltonian_values(kind):
    """H(t) = H0 + Σ u_k H_k with the slice amplitudes, on each slice."""
    pulse = make(kind)
    H = pulse.hamiltonian(SZ, controls(pulse))
    u = pulse().detach()
    for j, t in enumerate(pulse.midpoints.tolist()):
        expected = SZ + sum(u[k, j] * Hk for k, Hk in enumerate(controls(pulse)))
        torch.testing.assert_close(H(t).detach(), expected)


def test_hamiltonian_without_drift_and_batched_drift():
    pulse = PWC(TIMES, 2, batch_shape=(3, 1))
    assert pulse.hamiltonian(None, [SX, SY]).shape == (3, 1, 2, 2)
    H0 = torch.stack([d * SZ for d in (0.1, 0.2, 0.3, 0.4)])  # ensemble of detunings
    assert pulse.hamiltonian(H0, [SX, SY]).shape == (3, 4, 2, 2)


def test_values_at_matches_forward_and_vanishes_outside():
    pulse = make("pwc")
    mids = pulse.midpoints
    torch.testing.assert_close(pulse.values_at(mids), pulse())
    outside = pulse.values_at(torch.tensor([-0.1, 1.0, 1.5]))
    assert bool((outside == 0).all())  # zero outside [t0, tN), like qd.pwc
    smooth = make("fourier")
    torch.testing.assert_close(smooth.values_at(mids), smooth())
    assert bool((smooth.values_at(torch.tensor([-0.1, 1.5])) == 0).all())


def test_forward_is_a_new_tensor():
    pulse = PWC(TIMES, 1)
    u = pulse().detach()
    with torch.no_grad():
        pulse.theta += 1
    assert bool((u == 0).all())


# ----------------------------------------------------------------------------- bounds


@settings(max_examples=60, deadline=None)
@given(
    theta=st.lists(st.floats(-1e8, 1e8), min_size=12, max_size=12),
    low=st.floats(-1e3, 1e3),
    width=st.floats(1e-3, 1e3),
)
def test_pwc_bounds_hold_for_any_theta(theta, low, width):
    bounds = [(low, low + width), None, (-0.3, 0.1)]
    pulse = PWC(torch.linspace(0, 1, 5), 3, bounds=bounds)
    with torch.no_grad():
        pulse.theta.copy_(torch.tensor(theta, dtype=F64).reshape(3, 4))
    u = pulse().detach()
    assert bool(((u[0] >= low) & (u[0] <= low + width)).all())
    assert bool(((u[2] >= -0.3) & (u[2] <= 0.1)).all())
    torch.testing.assert_close(u[1], pulse.theta[1].detach())  # unbounded: u = θ


def test_smooth_bounds_hold_for_large_parameters():
    g = torch.Generator().manual_seed(3)
    times = torch.linspace(0, 1, 51)
    fourier = Fourier(times, 2, 4, amplitude=1e3, bounds=[(-1.0, 2.0), (0.0, 0.5)], generator=g)
    spline = Spline(times, 1, 6, bounds=(-1.0, 2.0))
    with torch.no_grad():
        spline.theta.copy_(1e3 * torch.randn(1, 6, generator=g, dtype=F64))
    for pulse in (fourier, spline):
        u = pulse.values_at(torch.linspace(0, 1, 301)).detach()
        assert bool(((u[0] >= -1) & (u[0] <= 2)).all())
        assert u.std() > 0.1  # the parameters do reach the bounded values
    assert bool(((fourier()[1] >= 0) & (fourier()[1] <= 0.5)).all())


def test_init_round_trips_through_the_reparametrisation():
    g = torch.Generator().manual_seed(4)
    init = torch.rand(3, 2, 4, generator=g, dtype=F64) * 3 - 1  # in [-1, 2]
    init[0, 0, 0], init[1, 0, 1] = -1.0, 2.0  # on the bounds: moved a hair inside
    pulse = PWC(TIMES, 2, bounds=[(-1.0, 2.0), None], init=init, batch_shape=(3,))
    torch.testing.assert_close(pulse().detach(), init, atol=1e-5, rtol=0)
    inside = torch.ones_like(init, dtype=torch.bool)
    inside[0, 0, 0] = inside[1, 0, 1] = False
    torch.testing.assert_close(pulse().detach()[inside], init[inside], atol=1e-12, rtol=0)
    theta = pulse.theta.detach()
    assert 0 < abs(abs(theta[0, 0, 0]) - math.pi / 2) < 1e-2  # non-zero gradient on the bound
    knots = Spline(TIMES, 2, 3, init=init[..., :3], bounds=(-1.0, 2.0), batch_shape=(3,))
    torch.testing.assert_close(
        knots.values_at(knots.knots).detach(), init[..., :3], atol=1e-5, rtol=0
    )


def test_init_default_is_zero_or_middle_of_bounds():
    pulse = PWC(TIMES, 3, bounds=[None, (-1.0, 1.0), (1.0, 3.0)])
    u = pulse().detach()
    assert bool((u[:2] == 0).all()) and bool((u[2] == 2).all())
    assert pulse.bounds == (None, (-1.0, 1.0), (1.0, 3.0))


def test_random_draws_within_amplitude_and_bounds():
    g = torch.Generator().manual_seed(0)
    pulse = PWC.random(
        torch.linspace(0, 1, 201), 2, 1.0, bounds=[(0.0, 3.0), None], batch_shape=(4,), generator=g
    )
    u = pulse().detach()
    assert bool(((u[:, 0] > 0) & (u[:, 0] < 1)).all()) and bool((u[:, 1].abs() < 1).all())
    assert u[:, 1].min() < -0.9 and u[:, 1].max() > 0.9
    assert not torch.equal(u[0], u[1])  # each multi-start member gets its own draw
    again = PWC.random(
        torch.linspace(0, 1, 201),
        2,
        1.0,
        bounds=[(0.0, 3.0), None],
        batch_shape=(4,),
        generator=g.manual_seed(0),
    )
    torch.testing.assert_close(again().detach(), u)


# ----------------------------------------------------------------------------- gradients


def loss(pulse: Pulse) -> torch.Tensor:
    U = propagator(pulse)
    target = torch.tensor([[1, 1], [1, -1]], dtype=C128) / math.sqrt(2)
    return (target.mH @ U).diagonal(dim1=-2, dim2=-1).sum(-1).abs().square().sum() / 4 + U[
        ..., 0, 1
    ].real.sum()


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_match_central_finite_differences(kind):
    pulse = make(kind)
    params = list(pulse.parameters())
    grads = torch.autograd.grad(loss(pulse), params)
    h = 1e-6
    for p, grad in zip(params, grads):
        fd = torch.zeros_like(p)
        flat = p.data.view(-1)
        for i in range(flat.numel()):
            x = flat[i].item()
            with torch.no_grad():
                flat[i] = x + h
                plus = loss(pulse).item()
                flat[i] = x - h
                minus = loss(pulse).item()
                flat[i] = x
            fd.view(-1)[i] = (plus - minus) / (2 * h)
        assert grad.abs().max() > 1e-3
        torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-7)


def test_gradients_batched_members_are_independent():
    pulse = make("pwc", batch_shape=(2,))
    U = propagator(pulse)
    assert U.shape == (2, 2, 2)
    (g,) = torch.autograd.grad(U[0, 0, 1].real, pulse.theta)
    assert bool((g[1] == 0).all()) and g[0].abs().max() > 1e-3


def test_pi_pulse_gives_not_gate():
    """A constant u = π/T on σx/2 gives exp(-iπσx/2) = -iσx; bounds |u| ≤ 4 do not bite."""
    times = torch.linspace(0, 1, 11)
    pulse = PWC(
        times,
        2,
        bounds=(-4.0, 4.0),
        init=torch.stack([torch.full((10,), math.pi), torch.zeros(10)]),
    )
    U = propagator(pulse, H0=None)
    torch.testing.assert_close(U.detach(), -1j * SX)
    fidelity = (SX.mH @ U).trace().abs() ** 2 / 4
    assert abs(fidelity.item() - 1) < 1e-12


# ----------------------------------------------------------------------------- shapes against formulas


def test_gaussian_matches_formula():
    times = torch.linspace(0, 8, 81)
    A, tc, s = 1.3, 4.0, 1.5
    pulse = Gaussian(times, amplitude=A, center=tc, sigma=s, batch_shape=(2,))
    t = pulse.midpoints
    edge = math.exp(-(4.0**2) / (2 * s**2))
    expected = A * (torch.exp(-((t - tc) ** 2) / (2 * s**2)) - edge) / (1 - edge)
    torch.testing.assert_close(pulse().detach(), expected.expand(2, 1, 80))
    assert pulse.values_at(tc)[0, 0].item() == pytest.approx(A)
    off = Gaussian(times, amplitude=A, center=3.0, sigma=s)  # off-centre: still zero at both ends
    ends = off.values_at(torch.tensor([0.0, 8.0])).detach()
    torch.testing.assert_close(ends, torch.zeros(1, 2, dtype=F64), atol=1e-15, rtol=0)
    assert off.values_at(3.0).item() == pytest.approx(A)
    assert Gaussian(times, amplitude=A).sigma.item() == 2.0  # default σ = T/4


def test_drag_y_is_beta_times_derivative_of_x():
    times = torch.linspace(0, 20, 201)
    beta = -0.4
    pulse = DRAG(times, amplitude=0.3, beta=beta, center=9.0, sigma=4.0)
    t = torch.linspace(0.5, 19.5, 39, dtype=F64)
    h = 1e-5
    dx = (pulse.values_at(t + h)[0] - pulse.values_at(t - h)[0]) / (2 * h)
    torch.testing.assert_close(pulse.values_at(t)[1], beta * dx, rtol=1e-7, atol=1e-10)
    tt = t.clone().requires_grad_()
    (dx_auto,) = torch.autograd.grad(pulse.values_at(tt)[0].sum(), tt)
    torch.testing.assert_close(pulse.values_at(t)[1], beta * dx_auto)
    gauss = Gaussian(times, amplitude=0.3, center=9.0, sigma=4.0)
    torch.testing.assert_close(pulse()[0], gauss()[0])


def test_fourier_reproduces_known_series():
    times = torch.linspace(0, 2, 41)
    w = torch.tensor([1.0, 2.5], dtype=F64)
    pulse = Fourier(times, 1, 2, frequencies=w, envelope=lambda t: torch.sin(math.pi * t / 2))
    with torch.no_grad():
        pulse.a.copy_(torch.tensor([[0.5, -1.0]]))
        pulse.b.copy_(torch.tensor([[0.25, 2.0]]))
        pulse.c.fill_(0.1)
    t = pulse.midpoints
    s = (
        0.1
        + 0.5 * torch.sin(w[0] * t)
        - torch.sin(w[1] * t)
        + 0.25 * torch.cos(w[0] * t)
        + 2 * torch.cos(w[1] * t)
    )
    torch.testing.assert_close(pulse()[0], s * torch.sin(math.pi * t / 2))


def test_fourier_default_and_random_frequencies():
    times = torch.linspace(1, 3, 11)  # T = 2
    harmonics = Fourier(times, 2, 3, offset=False)
    torch.testing.assert_close(
        harmonics.frequencies, math.pi * torch.tensor([1.0, 2, 3], dtype=F64).expand(2, 3)
    )
    assert harmonics.c is None and bool((harmonics() == 0).all())
    crab = Fourier(
        times, 2, 3, randomize=1.0, batch_shape=(5,), generator=torch.Generator().manual_seed(0)
    )
    shift = crab.frequencies / math.pi - torch.tensor([1.0, 2, 3], dtype=F64)
    assert bool((shift.abs() <= 0.5).all()) and shift.std() > 0.1
    learnt = Fourier(times, 1, 2, learn_frequencies=True)
    assert any(p is learnt.frequencies for p in learnt.parameters())


def test_spline_matches_scipy_natural_spline_and_knots():
    times = torch.linspace(0, 3, 31)
    knots_y = torch.tensor([[0.0, 1.0, -0.5, 2.0, 0.3]], dtype=F64)
    pulse = Spline(times, 1, 5, init=knots_y)
    reference = CubicSpline(np.linspace(0, 3, 5), knots_y[0].numpy(), bc_type="natural")
    t = torch.linspace(0, 3, 97, dtype=F64)
    torch.testing.assert_close(
        pulse.values_at(t)[0].detach(), torch.from_numpy(reference(t.numpy()))
    )
    torch.testing.assert_close(
        pulse()[0].detach(), torch.from_numpy(reference(pulse.midpoints.numpy()))
    )
    torch.testing.assert_close(pulse.values_at(pulse.knots).detach(), knots_y)
    line = Spline(times, 1, 4, init=[[1.0, 2.0, 3.0, 4.0]])  # straight lines are exact
    torch.testing.assert_close(line()[0].detach(), 1 + pulse.midpoints)


def test_filtered_delta_kernel_is_identity():
    inner = make("pwc", batch_shape=(3,))
    for kernel, mode in [
        ([1.0], "centered"),
        ([0.0, 1.0, 0.0], "centered"),
        ([1.0, 0.0], "causal"),
    ]:
        torch.testing.assert_close(Filtered(inner, kernel, mode=mode)(), inner())
    shifted = Filtered(inner, [0.0, 1.0], mode="causal")()  # a delay of one slice
    torch.testing.assert_close(shifted[..., 1:], inner()[..., :-1])
    assert bool((shifted[..., 0] == 0).all())


def test_filtered_gaussian_kernel_smooths_within_bounds():
    times = torch.linspace(0, 1, 41)
    inner = PWC.random(
        times, 1, 1.0, bounds=(-0.5, 0.5), generator=torch.Generator().manual_seed(0)
    )
    smooth = Filtered(inner, gaussian_kernel(2.0))()
    assert bool((smooth.abs() <= 0.5).all())
    assert smooth.diff().abs().max() < inner().diff().abs().max()
    constant = Filtered(PWC(times, 1, init=torch.ones(1, 40)), gaussian_kernel(2.0))()
    torch.testing.assert_close(constant[0, 10:30], torch.ones(20, dtype=F64))


def test_gaussian_kernel():
    k = gaussian_kernel(1.5, truncate=3.0)
    assert k.shape == (11,) and k.dtype == F64
    torch.testing.assert_close(k.sum(), torch.tensor(1.0, dtype=F64))
    torch.testing.assert_close(k, k.flip(0))


def test_ramped_starts_and_ends_at_zero():
    times = torch.linspace(0, 1, 21)
    inner = PWC(times, 2, bounds=(-1.0, 1.0), init=0.9 * torch.ones(2, 20))
    pulse = Ramped(inner, rise=0.25)
    ends = pulse.values_at(torch.tensor([0.0, 1.0]))
    assert bool((ends == 0).all())
    u = pulse().detach()
    assert bool((u.abs() <= inner().detach().abs()).all())
    torch.testing.assert_close(u[:, 5:15], inner().detach()[:, 5:15])  # plateau untouched
    assert u[0, 0] < 0.1 and u[0, -1] < 0.1
    smooth = Ramped(make("fourier"), rise=0.3)
    assert bool((smooth.values_at(torch.tensor([0.0, 1.0])).abs() < 1e-15).all())


# ----------------------------------------------------------------------------- precision and device


def test_precision_and_device(device):
    qd.set_precision("single")
    pulse = PWC(TIMES, 2, bounds=(-1.0, 1.0))
    assert pulse().dtype == torch.float32 and pulse.times.device.type == device.type
    H = pulse.hamiltonian(qd.sigmaz(), [qd.sigmax(), qd.sigmay()])  # on the default device
    assert H.dtype == torch.complex64 and H.device.type == device.type
    qd.set_precision("double")
    assert Fourier(TIMES, 1, 2, dtype=torch.complex64)().dtype == torch.float32
    assert Gaussian(TIMES, amplitude=1.0, dtype=torch.float32)().dtype == torch.float32
    assert pulse.to(F64)().dtype == F64 and pulse.to(F64).times.dtype == F64


def test_gradient_float32():
    pulse = PWC.random(TIMES, 2, 1.0, bounds=(-2.0, 2.0), dtype=torch.float32)
    U = qd.sepropagator(
        pulse.hamiltonian(SZ, [SX, SY]), [0.0, 1.0], method=qd.method.Expm()
    ).final_propagator
    assert U.dtype == torch.complex64
    U[0, 1].abs().backward()
    assert pulse.theta.grad.dtype == torch.float32 and pulse.theta.grad.abs().max() > 0


# ----------------------------------------------------------------------------- bad input


BAD = [
    (lambda: PWC([0.0, 1.0, 1.0], 1), ValueError, r"`times` must be strictly increasing.*slice 1"),
    (lambda: PWC([0.0], 1), ValueError, r"`times` must be 1-D with at least 2"),
    (lambda: PWC([[0.0, 1.0]], 1), ValueError, r"`times` must be 1-D"),
    (lambda: PWC([0.0, 1j], 1), TypeError, r"`times` must be real"),
    (lambda: PWC([0.0, float("nan")], 1), ValueError, r"`times` must contain only finite"),
    (lambda: PWC(TIMES, 0), ValueError, r"`ncontrols` must be an integer ≥ 1"),
    (lambda: PWC(TIMES, 1.5), TypeError, r"`ncontrols` must be an integer"),
    (lambda: PWC(TIMES, 1, batch_shape=(2, -1)), ValueError, r"`batch_shape` must hold positive"),
    (lambda: PWC(TIMES, 1, batch_shape="ab"), TypeError, r"`batch_shape` must be a tuple"),
    (
        lambda: PWC(TIMES, 1, bounds=(1.0, -1.0)),
        ValueError,
        r"`bounds` must have low < high, but got \(1.0, -1.0\)",
    ),
    (
        lambda: PWC(TIMES, 2, bounds=[(0.0, 1.0)] * 3),
        ValueError,
        r"`bounds` must hold ncontrols = 2",
    ),
    (lambda: PWC(TIMES, 1, bounds=(0.0, math.inf)), ValueError, r"`bounds` must be finite"),
    (lambda: PWC(TIMES, 1, bounds="x"), TypeError, r"`bounds` must be None, a pair"),
    (
        lambda: PWC(TIMES, 1, bounds=(-1.0, 1.0), init=[[0.0, 1.5, 0.0, 0.0]]),
        ValueError,
        r"`init` must lie within the bounds \(-1.0, 1.0\) of control 0",
    ),
    (
        lambda: PWC(TIMES, 2, init=torch.zeros(3, 4)),
        ValueError,
        r"`init` must have a shape broadcastable to \(2, 4\)",
    ),
    (lambda: PWC(TIMES, 1, init=torch.zeros(1, 4, dtype=C128)), TypeError, r"`init` must be real"),
    (lambda: PWC.random(TIMES, 1, -1.0), ValueError, r"`amplitude` must be positive"),
    (
        lambda: PWC.random(TIMES, 1, 1.0, bounds=(2.0, 3.0)),
        ValueError,
        r"`amplitude` 1 gives an interval that misses",
    ),
    (lambda: Fourier(TIMES, 1, 0), ValueError, r"`nfrequencies` must be an integer ≥ 1"),
    (lambda: Fourier(TIMES, 1, 2, randomize=2.0), ValueError, r"`randomize` must be in \[0, 1\]"),
    (
        lambda: Fourier(TIMES, 1, 2, frequencies=[1.0, 2.0], randomize=0.5),
        ValueError,
        r"`randomize` applies",
    ),
    (
        lambda: Fourier(TIMES, 1, 2, frequencies=[1.0, 2.0, 3.0]),
        ValueError,
        r"`frequencies` must have a shape",
    ),
    (lambda: Fourier(TIMES, 1, 2, envelope=3.0), TypeError, r"`envelope` must be callable"),
    (lambda: Spline(TIMES, 1, 1), ValueError, r"`nknots` must be an integer ≥ 2"),
    (lambda: Gaussian(TIMES, amplitude=1.0, sigma=0.0), ValueError, r"`sigma` must be positive"),
    (
        lambda: Gaussian(TIMES, amplitude=1.0, center=1.0),
        ValueError,
        r"`center` must lie in \(0, 1\)",
    ),
    (
        lambda: Gaussian(TIMES, amplitude=[1.0, 2.0], batch_shape=(3,)),
        ValueError,
        r"`amplitude` must have a shape",
    ),
    (
        lambda: Gaussian(TIMES, amplitude=1.0, learn=("beta",)),
        ValueError,
        r"`learn` must be a sequence of names",
    ),
    (
        lambda: DRAG(TIMES, amplitude=1.0, learn="beta"),
        ValueError,
        r"`learn` must be a sequence of names",
    ),
    (lambda: Filtered(torch.zeros(3), [1.0]), TypeError, r"`pulse` must be a Pulse"),
    (lambda: Filtered(PWC(TIMES, 1), [[1.0]]), ValueError, r"`kernel` must be 1-D"),
    (
        lambda: Filtered(PWC(TIMES, 1), [1.0], mode="same"),
        ValueError,
        r"`mode` must be 'centered' or 'causal'",
    ),
    (lambda: Ramped(PWC(TIMES, 1), rise=0.6), ValueError, r"`rise` must be in \(0, T/2\]"),
    (lambda: gaussian_kernel(0.0), ValueError, r"`sigma` must be positive"),
    (
        lambda: PWC(TIMES, 2).hamiltonian(SZ, [SX]),
        ValueError,
        r"`controls` must hold ncontrols = 2 operators, but holds 1",
    ),
    (lambda: PWC(TIMES, 1).hamiltonian(SZ, SX[0, 0]), TypeError, r"`controls` must be a sequence"),
    (
        lambda: PWC(TIMES, 2).hamiltonian(SZ, [SX, qd.eye(3)]),
        ValueError,
        r"`controls\[1\]` must have dimension 2",
    ),
    (lambda: PWC(TIMES, 1).hamiltonian(qd.eye(3), [SX]), ValueError, r"`H0` must have dimension 2"),
    (
        lambda: PWC(TIMES, 1).hamiltonian(SZ, [torch.zeros(2, 3)]),
        ValueError,
        r"`controls\[0\]` must have shape \(..., n, n\)",
    ),
    (
        lambda: PWC(TIMES, 1).values_at(torch.zeros(2, 2)),
        ValueError,
        r"`t` must be a scalar or 1-D",
    ),
]


@pytest.mark.parametrize(("build", "error", "match"), BAD)
def test_bad_input(build, error, match):
    with pytest.raises(error, match=match):
        build()
