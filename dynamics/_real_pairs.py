"""Vector fields of constant Schrödinger and Lindblad terms on real pairs (compiled steps).

TorchInductor generates no code for complex dtypes, so a compiled step
(`solvers.compiled`) works on the real view of the state, `(..., 2)` pairs, and calls
these module-level functions (`AbstractTerm.real_form`). Complex products are spelt
out on real and imaginary parts: dense operators by real matrix products, banded ones
by shifted, scaled copies of the state that TorchInductor fuses into one loop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "banded_lindblad_pairs",
    "banded_schrodinger_pairs",
    "lindblad_pairs",
    "parts",
    "schrodinger_pairs",
    "super_pairs",
]


def parts(*ops: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Real and imaginary parts of each operator, contiguous: `(re_0, im_0, re_1, ...)`."""
    return tuple(x for op in ops for x in (op.real.contiguous(), op.imag.contiguous()))


def _mm(ar, ai, xr, xi):
    """`A @ X` on real and imaginary parts."""
    return ar @ xr - ai @ xi, ar @ xi + ai @ xr


def _pairs(r, i):
    return torch.stack((r, i), -1)


def schrodinger_pairs(static, ops, y):
    """`M y` (`M = -i H`, `ops = parts(M)`) on real pairs."""
    r, i = _mm(*ops, y[..., 0], y[..., 1])
    return _pairs(r, i)


def super_pairs(static, ops, y):
    """`𝓛 vec(ρ)` with the superoperator `𝓛` (`ops = parts(𝓛)`) on row-major ρ."""
    n = y.shape[-2]
    v = y.reshape(*y.shape[:-3], n * n, 1, 2)
    r, i = _mm(*ops, v[..., 0], v[..., 1])
    return _pairs(r, i).reshape(y.shape)


def lindblad_pairs(static, ops, y):
    """`A ρ + ρ A^† + Σ L ρ L^†` on real pairs (see `LindbladTerm`).

    `static = (hermitian,)`; `ops = parts(A, [A^†,] L_1, L_1^†, ...)`. For Hermitian ρ
    the coherent part is one product, `Y + Y^†` with `Y = A ρ + ½ Σ L ρ L^†`.
    """
    (hermitian,) = static
    xr, xi = y[..., 0], y[..., 1]
    yr, yi = _mm(ops[0], ops[1], xr, xi)
    rest = ops[2:]
    if not hermitian:
        # ρ A^† = (A ρ^†)^† is a product of X on the right: X B = (X_r B_r - X_i B_i) + ...
        br, bi = _mm(xr, xi, rest[0], rest[1])
        yr, yi = yr + br, yi + bi
        rest = rest[2:]
    w = 0.5 if hermitian else 1.0
    for j in range(0, len(rest), 4):
        lr, li, ldr, ldi = rest[j : j + 4]
        pr, pi = _mm(lr, li, xr, xi)
        qr, qi = _mm(pr, pi, ldr, ldi)
        yr, yi = yr + w * qr, yi + w * qi
    if hermitian:
        yr, yi = yr + yr.mT, yi - yi.mT
    return _pairs(yr, yi)


def _shift(x: torch.Tensor, o: int, dim: int) -> torch.Tensor:
    """`out[..., i, ...] = x[..., i + o, ...]` along `dim` (negative), for diagonal products.

    Where `i + o` leaves the range the value is either zero (a padded shift) or wraps
    around (a roll): the diagonal coefficients are zero there (`Banded` stores them
    so), so the products are the same. A roll compiles to plain index arithmetic, a
    padded shift to masked loads. Measured with TorchInductor's CPU code: rolls make a
    Tsit5 step of the Kerr Lindbladian at n = 64 take 0.66 ms instead of 2.1; but for a
    ket (rows of one column) the roll's wrapped index is dearer than the mask (P2
    Ising chain, N = 8: 20% slower), so rows of fewer than 8 columns are padded.
    """
    if o == 0:
        return x
    if dim == -1 or x.shape[-1] >= 8:
        return torch.roll(x, -o, dim)
    pad = [0] * (2 * -dim)
    pad[-2 if o < 0 else -1] = abs(o)  # F.pad lists the last dimension first
    return F.pad(x, pad).narrow(dim, max(o, 0), x.shape[dim])


def _cmul(ar, ai, xr, xi, conj: bool = False):
    """`a x` (or `conj(a) x`) on real and imaginary parts, broadcast."""
    if conj:
        ai = -ai
    return ar * xr - ai * xi, ar * xi + ai * xr


def _rows(offsets, dr, di, xr, xi):
    """`A @ X` for banded `A` (row-aligned diagonals `dr + i di`, `(..., ndiag, n)`)."""
    outr = outi = 0.0
    for j, o in enumerate(offsets):
        r, i = _cmul(dr[..., j, :, None], di[..., j, :, None], _shift(xr, o, -2), _shift(xi, o, -2))
        outr, outi = outr + r, outi + i
    return outr, outi


def _cols(offsets, dr, di, xr, xi):
    """`X @ B^†` for banded `B`: `(X B^†)[i, j] = Σ_o X[i, j + o] conj(b_o[j])`."""
    outr = outi = 0.0
    for j, o in enumerate(offsets):
        r, i = _cmul(
            dr[..., j, None, :], di[..., j, None, :], _shift(xr, o, -1), _shift(xi, o, -1), True
        )
        outr, outi = outr + r, outi + i
    return outr, outi


def banded_schrodinger_pairs(static, ops, y):
    """`M y` for banded `M` (`static = (offsets,)`, `ops = parts(diagonals)`)."""
    (offsets,) = static
    r, i = _rows(offsets, ops[0], ops[1], y[..., 0], y[..., 1])
    return _pairs(r, i)


def banded_lindblad_pairs(static, ops, y):
    """`A ρ + ρ A^† + Σ L ρ L^†` for banded `A`, `L` (row and column shifts of ρ).

    `static = (hermitian, offsets of A, offsets of L_1, ...)`; `ops` the real and
    imaginary parts of their diagonals. With `hermitian`, `Y + Y^†` as in
    `lindblad_pairs`.
    """
    hermitian, off_a, *off_ls = static
    xr, xi = y[..., 0], y[..., 1]
    yr, yi = _rows(off_a, ops[0], ops[1], xr, xi)
    if not hermitian:
        br, bi = _cols(off_a, ops[0], ops[1], xr, xi)
        yr, yi = yr + br, yi + bi
    w = 0.5 if hermitian else 1.0
    for k, off in enumerate(off_ls):
        lr, li = ops[2 + 2 * k], ops[3 + 2 * k]
        pr, pi = _rows(off, lr, li, xr, xi)
        qr, qi = _cols(off, lr, li, pr, pi)
        yr, yi = yr + w * qr, yi + w * qi
    if hermitian:
        yr, yi = yr + yr.mT, yi - yi.mT
    return _pairs(yr, yi)
