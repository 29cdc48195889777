"""Banded (DIA) operators: products, algebra, gradients and the Lindblad vector field."""

from __future__ import annotations

import math

import pytest
import torch

from dynamics._banded import (
    Banded,
    _real_view_pays,
    band_offsets,
    banded_lindblad_rhs,
    banded_lindblad_vjp,
    banded_schrodinger_vjp,
    is_banded_enough,
    kron,
)
from dynamics._lindblad_rhs import lindblad_rhs, lindblad_vjp

C128 = torch.complex128


def _destroy(n, dtype=C128):
    return torch.diag(torch.arange(1, n, dtype=torch.float64).sqrt(), 1).to(dtype)


def _kerr(n, dtype=C128):
    a = _destroy(n, dtype)
    ad = a.mH
    H = -0.5 * ad @ ad @ a @ a + 2.0 * (a + ad)
    L = math.sqrt(0.7) * a
    return H, L


def _ising(N, dtype=C128):
    sx = torch.tensor([[0, 1], [1, 0]], dtype=dtype)
    sz = torch.tensor([[1, 0], [0, -1]], dtype=dtype)

    def site(ops):
        out = torch.ones(1, 1, dtype=dtype)
        for i in range(N):
            out = torch.kron(out, ops.get(i, torch.eye(2, dtype=dtype)))
        return out

    H = sum(-site({i: sz, i + 1: sz}) for i in range(N - 1))
    return H + sum(-0.7 * site({i: sx}) for i in range(N))


def _random_banded(batch, n, offsets, dtype=C128):
    D = torch.randn(*batch, len(offsets), n, dtype=dtype)
    for j, k in enumerate(offsets):  # zero where out of range (the layout's convention)
        D[..., j, max(0, n - k) :] = 0
        D[..., j, : max(0, -k)] = 0
    return Banded(offsets, D)


def _operators():
    H, L = _kerr(12)
    yield "kerr", H
    yield "destroy", L
    yield "number", torch.diag(torch.arange(12.0)).to(C128)
    yield "ising", _ising(5)
    yield "ising6", _ising(6)
    yield "random", _random_banded((2, 1), 11, (-3, -1, 0, 2)).to_dense()


OPERATORS = dict(_operators())


def _close(x, y, tol=1e-12):
    assert x.shape == y.shape, (x.shape, y.shape)
    assert torch.allclose(x, y, atol=tol, rtol=tol), (x - y).abs().max()


@pytest.mark.parametrize("name", list(OPERATORS))
@pytest.mark.parametrize("m", [1, 5])
def test_products_equal_dense(name, m):
    A = OPERATORS[name]
    B = Banded.from_dense(A)
    _close(B.to_dense(), A)
    X = torch.randn(3, *A.shape[:-2], A.shape[-1], m, dtype=C128)
    _close(B.matmul(X), A @ X)
    _close(B @ X, A @ X)
    Y = X.mT
    _close(B.rmatmul(Y), Y @ A)
    _close(Y @ B, Y @ A)


@pytest.mark.parametrize("name", list(OPERATORS))
@pytest.mark.parametrize("batch", [(), (3,)])
def test_sparse_and_differentiable_kernels_agree(name, batch):
    """Products without a graph take the CSR kernel; with one, the block/diagonal kernels."""
    A = OPERATORS[name]
    X = torch.randn(*batch, *A.shape[:-2], A.shape[-1], 4, dtype=C128)
    B = Banded.from_dense(A)
    sparse = B.matmul(X)
    assert "csr" in B._cache if B.diags.ndim == 2 else "csr" not in B._cache
    recorded = B.matmul(X.clone().requires_grad_())
    assert recorded.grad_fn is not None
    _close(sparse, A @ X)
    _close(recorded.detach(), A @ X)
    _close(B.mH.matmul(X), A.mH @ X)  # the adjoint has its own CSR copy


def test_sparse_kernel_drops_zeros_and_falls_back():
    H = _ising(5)  # the ±2^k diagonals are half zeros
    B = Banded.from_dense(H)
    assert B._csr().values().numel() == int((H != 0).sum()) < B.diags.numel()
    with torch.no_grad():  # diags requiring grad: no graph recorded, the sparse kernel serves
        Bg = Banded(B.offsets, B.diags.clone().requires_grad_())
        assert Bg._sparse_ok(torch.ones(32, 1, dtype=C128))
    assert not Bg._sparse_ok(torch.ones(32, 1, dtype=C128))  # a graph would be recorded
    assert not B._sparse_ok(torch.ones(32, 1, dtype=torch.complex64))  # dtype mismatch
    X = torch.randn(32, 2, dtype=torch.float64)  # a real X is promoted, as by dense products
    _close(B.matmul(X), H @ X.to(C128))
    _close(B.matmul(X.requires_grad_()), H @ X.to(C128))
    R = Banded.from_dense(H.real)  # and a real operator against a complex X
    _close(R.matmul(X.to(C128)), H.real.to(C128) @ X.to(C128))


@pytest.mark.parametrize("phase", [1, 1j, -1j, 0.6 + 0.8j])
@pytest.mark.parametrize("shape", [(1,), (3,), (2, 1), (2, 3)], ids=str)
def test_sparse_kernel_real_view_for_real_or_imaginary_operators(phase, shape):
    """A complex operator that is real or purely imaginary goes through a real CSR copy."""
    H = _ising(5)
    A = H * phase
    B = Banded.from_dense(A)
    *batch, m = shape
    X = torch.randn(*batch, 32, m, dtype=C128)
    _close(B.matmul(X), A @ X)
    _close(B.matmul(X.conj()), A @ X.conj())  # a lazily conjugated view
    _close(B.mH.matmul(X), A.mH @ X)
    kind, C_real, nnz = B._csr_real()
    expected = {1: 1, 1j: 1j, -1j: 1j}.get(phase)
    assert kind == expected
    assert (C_real is None) == (expected is None)
    if expected is not None:
        assert C_real.dtype == torch.float64 and nnz == int((A != 0).sum())
        assert torch.equal(B._csr().to_dense(), (C_real.to_dense() * expected).to(C128))
        X = torch.randn(*batch, 32, 300, dtype=C128)  # enough columns for the real view
        assert _real_view_pays(nnz, 32, 300)
        _close(B.matmul(X), A @ X)


def test_ising_offsets_and_kernels():
    H = _ising(4)
    assert band_offsets(H) == (-8, -4, -2, -1, 0, 1, 2, 4, 8)
    assert not Banded.from_dense(_ising(6)).uses_blocks
    assert Banded.from_dense(_kerr(10)[0]).uses_blocks


@pytest.mark.parametrize("name", list(OPERATORS))
def test_algebra_equals_dense(name):
    A = OPERATORS[name]
    B = Banded.from_dense(A)
    other = Banded.from_dense(OPERATORS["number"]) if A.shape[-1] == 12 else B
    _close(B.mH.to_dense(), A.mH)
    _close((B + other).to_dense(), A + other.to_dense())
    _close((B - other).to_dense(), A - other.to_dense())
    _close((2.5j * B).to_dense(), 2.5j * A)
    s = torch.randn(4, *B.batch_shape, dtype=C128)
    _close((B * s).to_dense(), A * s[..., None, None])
    _close(B.bmatmul(other).to_dense(), A @ other.to_dense())


def test_kron_stays_banded():
    sx = Banded.from_dense(torch.tensor([[0, 1], [1, 0]], dtype=C128))
    a = Banded.from_dense(_destroy(5))
    r = _random_banded((3,), 4, (-1, 0, 2))
    for x, y in [(sx, a), (a, sx), (r, a), (sx, r), (kron(sx, sx), r)]:
        _close(kron(x, y).to_dense(), _dense_kron(x.to_dense(), y.to_dense()))
    H = _ising(3)
    sz = Banded.from_dense(torch.diag(torch.tensor([1.0, -1.0], dtype=C128)))
    eye = Banded.from_dense(torch.eye(2, dtype=C128))
    zz = kron(kron(sz, sz), eye) + kron(eye, kron(sz, sz))
    xs = kron(kron(sx, eye), eye) + kron(kron(eye, sx), eye) + kron(eye, kron(eye, sx))
    _close((-1.0 * zz - 0.7 * xs).to_dense(), H)


def _dense_kron(X, Y):
    out = X[..., :, None, :, None] * Y[..., None, :, None, :]
    return out.reshape(*out.shape[:-4], X.shape[-2] * Y.shape[-2], X.shape[-1] * Y.shape[-1])


def test_batch_broadcasting():
    B = _random_banded((2, 1), 9, (-2, 0, 1, 3))
    X = torch.randn(4, 9, 3, dtype=C128)
    _close(B.matmul(X), B.to_dense() @ X)
    _close(B.rmatmul(X.mT), X.mT @ B.to_dense())


def test_gradients_through_from_dense_equal_dense():
    A = _random_banded((2,), 10, (-1, 0, 1, 4)).to_dense().requires_grad_()
    X = torch.randn(2, 10, 3, dtype=C128, requires_grad=True)
    W = torch.randn(2, 10, 3, dtype=C128)

    def loss(prod):
        return (prod * W).real.sum() + prod.abs().square().sum()

    g_ref = torch.autograd.grad(loss(A @ X) + loss((X.mT @ A).mT), (A, X))
    B = Banded.from_dense(A, (-1, 0, 1, 4))
    g = torch.autograd.grad(loss(B.matmul(X)) + loss(B.rmatmul(X.mT).mT), (A, X))
    _close(g[0], _band(g_ref[0], B.offsets))  # the band's gradient is the dense one, masked
    _close(g[1], g_ref[1])


def _band(X, offsets):
    return Banded.from_dense(X, offsets).to_dense()


@pytest.mark.parametrize("offsets", [(-1, 0, 1), (-2, 1)])
def test_gradcheck(offsets):
    D = _random_banded((), 5, offsets).diags.requires_grad_()
    X = torch.randn(5, 2, dtype=C128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda d, x: Banded(offsets, d).matmul(x), (D, X))
    assert torch.autograd.gradcheck(lambda d, x: Banded(offsets, d).rmatmul(x.mT), (D, X))
    assert torch.autograd.gradcheck(lambda d: Banded(offsets, d).mH.to_dense(), (D,))


def _lindblad_case(batch=()):
    H, L = _kerr(9)
    L2 = _random_banded(batch, 9, (-2, 0, 3)).to_dense()
    Ls = [L, L2]
    A = -1j * H - 0.5 * sum(Li.mH @ Li for Li in Ls)
    rho = torch.randn(*batch, 9, 9, dtype=C128)
    return rho @ rho.mH, A, Ls


@pytest.mark.parametrize("hermitian", [True, False])
@pytest.mark.parametrize("batch", [(), (2,)])
def test_lindblad_rhs_and_vjp_equal_dense(hermitian, batch):
    rho, A, Ls = _lindblad_case(batch)
    if not hermitian:
        rho = torch.randn_like(rho)
    jumps = [(L, L.mH) for L in Ls]
    ref = lindblad_rhs(rho, A, None if hermitian else A.mH, jumps, hermitian)
    Ab = Banded.from_dense(A)
    Lbs = [Banded.from_dense(L) for L in Ls]
    _close(banded_lindblad_rhs(rho, Ab, Lbs, hermitian), ref)
    g = torch.randn_like(ref)
    flat = [x for pair in jumps for x in pair]
    g_rho_ref, g_ops_ref = lindblad_vjp(hermitian, rho, A, A.mH, flat, g)
    g_rho, g_ops = banded_lindblad_vjp(hermitian, rho, Ab, Lbs, g)
    _close(g_rho, g_rho_ref)
    g_A_ref = g_ops_ref[0] + (0 if hermitian else g_ops_ref[1].mH)  # Adag = A^†
    _close(g_ops[0], Banded.from_dense(g_A_ref, Ab.offsets).diags)
    for k, Lb in enumerate(Lbs):  # Ld = L^†: the gradient reaches L by both routes
        g_L_ref = g_ops_ref[2 + 2 * k] + g_ops_ref[3 + 2 * k].mH
        _close(g_ops[1 + k], Banded.from_dense(g_L_ref, Lb.offsets).diags)


def test_lindblad_autograd_equals_dense_autograd():
    rho, A, Ls = _lindblad_case((2,))
    A = A.requires_grad_()
    Ls = [L.requires_grad_() for L in Ls]
    rho = rho.requires_grad_()
    W = torch.randn_like(rho)
    ref = lindblad_rhs(rho, A, None, [(L, L.mH) for L in Ls], True)
    g_ref = torch.autograd.grad((ref * W).real.sum(), (rho, A, *Ls))
    bands = [Banded.from_dense(X) for X in (A, *Ls)]
    out = banded_lindblad_rhs(rho, bands[0], bands[1:])
    g = torch.autograd.grad((out * W).real.sum(), (rho, A, *Ls))
    _close(g[0], g_ref[0])
    for x, y, b in zip(g[1:], g_ref[1:], bands):
        _close(x, _band(y, b.offsets))


def test_lindblad_gradcheck_double_backward():
    rho, A, Ls = _lindblad_case()
    n = 5
    offs = [tuple(k for k in band_offsets(X) if abs(k) < n) for X in (A, *Ls)]
    rho = rho[:n, :n].clone().requires_grad_()
    diags = [_random_banded((), n, k).diags.requires_grad_() for k in offs]

    def f(r, dA, *dLs):
        return banded_lindblad_rhs(
            r, Banded(offs[0], dA), [Banded(k, d) for k, d in zip(offs[1:], dLs)]
        )

    assert torch.autograd.gradcheck(f, (rho, *diags))
    assert torch.autograd.gradgradcheck(f, (rho, *diags))


def test_schrodinger_vjp():
    M = _random_banded((), 8, (-1, 0, 2)) * -1j
    psi = torch.randn(8, 1, dtype=C128, requires_grad=True)
    D = M.diags.detach().requires_grad_()
    out = Banded(M.offsets, D).matmul(psi)
    g = torch.randn_like(out)
    ref = torch.autograd.grad(out, (psi, D), g)
    for x, y in zip(banded_schrodinger_vjp(psi, M, g), ref):
        _close(x, y)


@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64])
def test_single_precision(dtype):
    H = _kerr(16, C128)[0].to(dtype) if dtype.is_complex else _ising(4).real.to(dtype)
    B = Banded.from_dense(H)
    X = torch.randn(H.shape[-1], 3, dtype=dtype)
    out = B.matmul(X)
    assert out.dtype == dtype
    _close(out, H @ X, 1e-4)


def test_meta_device_shapes():
    B = Banded((-1, 0, 2), torch.empty(3, 1, 3, 10, dtype=C128, device="meta"))
    X = torch.empty(4, 10, 2, dtype=C128, device="meta")
    assert B.matmul(X).shape == (3, 4, 10, 2)
    assert B.rmatmul(X.mT).shape == (3, 4, 2, 10)
    S = Banded((-8, 0, 8), torch.empty(3, 16, dtype=C128, device="meta"))
    assert S.matmul(torch.empty(16, 1, dtype=C128, device="meta")).shape == (16, 1)
    rho = torch.empty(10, 10, dtype=C128, device="meta")
    assert banded_lindblad_rhs(rho, B, [B]).shape == (3, 1, 10, 10)


def test_is_banded_enough():
    assert not is_banded_enough((-1, 0, 1), 16)
    assert is_banded_enough((-1, 0, 1), 64)
    assert not is_banded_enough(tuple(range(-20, 21)), 64)
    assert is_banded_enough((-64, -1, 0, 1, 64), 256)
    assert not is_banded_enough(band_offsets(_ising(8)), 256)  # measured 1.45x slower
