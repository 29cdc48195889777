"""Vector fields of constant Schrödinger and Lindblad terms on real planes (compiled steps).

TorchInductor generates no code for complex dtypes, so a compiled step
(`solvers.compiled`) works on the real form of the state, its real and imaginary
planes stacked in front, `(2, ...)`, and calls these module-level functions
(`AbstractTerm.real_form`). Complex products are spelt out on the planes: dense
operators by real matrix products, banded ones by shifted, scaled copies of the state
that TorchInductor fuses into one loop.

Many operators are real or imaginary (ladder and number operators, σx and σz, `-i H`
for a real `H`), or banded with diagonals that are: `split` records which parts are
nonzero (`kinds`, static), and the products skip the others: half the work for a
real or imaginary operator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "banded_lindblad_pairs",
    "banded_schrodinger_pairs",
    "lindblad_pairs",
    "schrodinger_pairs",
    "split",
    "super_pairs",
]

_BOTH = (True, True)
_BLOCK = 8  # rows per block in banded products with few columns (`_rows`)


def split(*ops: torch.Tensor, banded: bool = False) -> tuple[tuple, tuple[torch.Tensor, ...]]:
    """The real and imaginary parts of each operator, and which of them are nonzero.

    Returns `(kinds, parts)`: `parts = (re_0, im_0, re_1, ...)`, contiguous; `kinds`
    one entry per operator, `(re nonzero, im nonzero)`, or with `banded` (the operator
    is the `(..., ndiag, n)` diagonals of a `Banded`) a tuple of such pairs, one per
    diagonal. An entry is never `(False, False)`: a zero operator counts as real. One
    host sync per operator.
    """
    kinds, parts = [], []
    for op in ops:
        re, im = op.real.contiguous(), op.imag.contiguous()
        parts += [re, im]
        if banded:
            nz = torch.stack((re.ne(0), im.ne(0)), -1).reshape(-1, *re.shape[-2:], 2)
            nz = nz.any(0).any(-2)  # (ndiag, 2)
            kinds.append(tuple(_kind(*pair) for pair in nz.tolist()))
        else:
            kinds.append(_kind(bool(re.ne(0).any()), bool(im.ne(0).any())))
    return tuple(kinds), tuple(parts)


def _kind(re: bool, im: bool) -> tuple[bool, bool]:
    return (re or not im, im)


def _mm(ar, ai, xr, xi, kind=_BOTH):
    """`A @ X` on real and imaginary parts (`kind`: which parts of `A` are nonzero)."""
    if kind == _BOTH:
        return ar @ xr - ai @ xi, ar @ xi + ai @ xr
    if kind[0]:
        return ar @ xr, ar @ xi
    return -(ai @ xi), ai @ xr


def _mm_right(xr, xi, br, bi, kind=_BOTH):
    """`X @ B` as `(B^T X^T)^T` (`kind`: which parts of `B` are nonzero; views only)."""
    r, i = _mm(br.mT, bi.mT, xr.mT, xi.mT, kind)
    return r.mT, i.mT


def _planes(r, i):
    return torch.stack((r, i))


def schrodinger_pairs(static, ops, y):
    """`M y` (`M = -i H`; `static = (kinds,)`, `(kinds, ops) = split(M)`) on real planes."""
    ((kind,),) = static
    return _planes(*_mm(*ops, y[0], y[1], kind))


def super_pairs(static, ops, y):
    """`𝓛 vec(ρ)` with the superoperator `𝓛` (`(kinds, ops) = split(𝓛)`) on row-major ρ."""
    ((kind,),) = static
    n = y.shape[-2]
    v = y.reshape(2, *y.shape[1:-2], n * n, 1)
    return _planes(*_mm(*ops, v[0], v[1], kind)).reshape(y.shape)


def lindblad_pairs(static, ops, y):
    """`A ρ + ρ A^† + Σ L ρ L^†` on real planes (see `LindbladTerm`).

    `static = (hermitian, kinds)`; `(kinds, ops) = split(A, [A^†,] L_1, L_1^†, ...)`.
    For Hermitian ρ the coherent part is one product, `Y + Y^†` with
    `Y = A ρ + ½ Σ L ρ L^†`.
    """
    hermitian, kinds = static
    xr, xi = y[0], y[1]
    yr, yi = _mm(ops[0], ops[1], xr, xi, kinds[0])
    rest, kinds = ops[2:], kinds[1:]
    if not hermitian:
        # ρ A^† = (A ρ^†)^† is a product of X on the right: X B = (X_r B_r - X_i B_i) + ...
        br, bi = _mm_right(xr, xi, rest[0], rest[1], kinds[0])
        yr, yi = yr + br, yi + bi
        rest, kinds = rest[2:], kinds[1:]
    w = 0.5 if hermitian else 1.0
    for j in range(0, len(rest), 4):
        lr, li, ldr, ldi = rest[j : j + 4]
        pr, pi = _mm(lr, li, xr, xi, kinds[j // 2])
        qr, qi = _mm_right(pr, pi, ldr, ldi, kinds[j // 2 + 1])
        yr, yi = yr + w * qr, yi + w * qi
    if hermitian:
        yr, yi = yr + yr.mT, yi - yi.mT
    return _planes(yr, yi)


def _shift(x: torch.Tensor, o: int, dim: int) -> torch.Tensor:
    """`out[..., i, ...] = x[..., i + o, ...]` along `dim` (negative), for diagonal products.

    Where `i + o` leaves the range the value is either zero (a padded shift) or wraps
    around (a roll): the diagonal coefficients are zero there (`Banded` stores them
    so), so the products are the same. A roll compiles to plain index arithmetic, a
    padded shift to masked loads. Measured with TorchInductor's CPU code: rolls make a
    Tsit5 step of the Kerr Lindbladian at n = 64 take 0.66 ms instead of 2.1; but for a
    ket (rows of one column) the roll's wrapped index is dearer than the mask (P2
    Ising chain, N = 12: 2.3× slower), so rows of fewer than 8 columns are padded.
    """
    if o == 0:
        return x
    if dim == -1 or x.shape[-1] >= 8:
        return torch.roll(x, -o, dim)
    pad = [0] * (2 * -dim)
    pad[-2 if o < 0 else -1] = abs(o)  # F.pad lists the last dimension first
    return F.pad(x, pad).narrow(dim, max(o, 0), x.shape[dim])


def _cmul(ar, ai, xr, xi, kind=_BOTH, conj: bool = False):
    """`a x` (or `conj(a) x`) on real and imaginary parts, broadcast (`kind`: of `a`)."""
    if conj:
        ai = -ai
    if kind == _BOTH:
        return ar * xr - ai * xi, ar * xi + ai * xr
    if kind[0]:
        return ar * xr, ar * xi
    return -(ai * xi), ai * xr


def _rows(offsets, kinds, dr, di, xr, xi):
    """`A @ X` for banded `A` (row-aligned diagonals `dr + i di`, `(..., ndiag, n)`).

    `X` of few columns (kets) is seen as blocks of `_BLOCK` rows, `(..., n / B, B, m)`:
    an offset that is a multiple of `B` shifts whole blocks, and its padded shift
    then needs one mask per block instead of one per element (spin chains: the
    offsets are powers of two; the Ising chain at N = 12: 2× faster).
    """
    n, m = xr.shape[-2:]
    B = _BLOCK
    if m >= 8 or n % B or n == B or all(o % B for o in offsets):
        blocks = None
    else:
        blocks = (n // B, B)
        dr, di = dr.unflatten(-1, blocks), di.unflatten(-1, blocks)
    outr = outi = 0.0
    for j, (o, kind) in enumerate(zip(offsets, kinds)):
        if blocks is None:
            sr, si = _shift(xr, o, -2), _shift(xi, o, -2)
            ar, ai = dr[..., j, :, None], di[..., j, :, None]
        else:
            if o % B == 0:  # whole blocks
                sr, si = (_shift(x.unflatten(-2, blocks), o // B, -3) for x in (xr, xi))
            else:
                sr, si = (_shift(x, o, -2).unflatten(-2, blocks) for x in (xr, xi))
            ar, ai = dr[..., j, :, :, None], di[..., j, :, :, None]
        r, i = _cmul(ar, ai, sr, si, kind)
        outr, outi = outr + r, outi + i
    if blocks is not None:
        outr, outi = outr.flatten(-3, -2), outi.flatten(-3, -2)
    return outr, outi


def _cols(offsets, kinds, dr, di, xr, xi):
    """`X @ B^†` for banded `B`: `(X B^†)[i, j] = Σ_o X[i, j + o] conj(b_o[j])`."""
    outr = outi = 0.0
    for j, (o, kind) in enumerate(zip(offsets, kinds)):
        sr, si = _shift(xr, o, -1), _shift(xi, o, -1)
        r, i = _cmul(dr[..., j, None, :], di[..., j, None, :], sr, si, kind, conj=True)
        outr, outi = outr + r, outi + i
    return outr, outi


def banded_schrodinger_pairs(static, ops, y):
    """`M y` for banded `M` (`static = (offsets, kinds)`, `(kinds, ops) = split(diagonals)`)."""
    offsets, (kinds,) = static
    return _planes(*_rows(offsets, kinds, ops[0], ops[1], y[0], y[1]))


def banded_lindblad_pairs(static, ops, y):
    """`A ρ + ρ A^† + Σ L ρ L^†` for banded `A`, `L` (row and column shifts of ρ).

    `static = (hermitian, offsets, kinds)`: the offsets of `A`, `L_1`, ... and the
    kinds of `split` of their diagonals, which `ops` holds. With `hermitian`,
    `Y + Y^†` as in `lindblad_pairs`.
    """
    hermitian, (off_a, *off_ls), (kind_a, *kind_ls) = static
    xr, xi = y[0], y[1]
    yr, yi = _rows(off_a, kind_a, ops[0], ops[1], xr, xi)
    if not hermitian:
        br, bi = _cols(off_a, kind_a, ops[0], ops[1], xr, xi)
        yr, yi = yr + br, yi + bi
    w = 0.5 if hermitian else 1.0
    for k, (off, kind) in enumerate(zip(off_ls, kind_ls)):
        lr, li = ops[2 + 2 * k], ops[3 + 2 * k]
        pr, pi = _rows(off, kind, lr, li, xr, xi)
        qr, qi = _cols(off, kind, lr, li, pr, pi)
        yr, yi = yr + w * qr, yi + w * qi
    if hermitian:
        yr, yi = yr + yr.mT, yi - yi.mT
    return _planes(yr, yi)
