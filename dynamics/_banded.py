r"""Banded (diagonal-offset, "DIA") operators and their products with dense tensors.

A `Banded` operator stores only the diagonals of an `(..., n, n)` matrix that may be
nonzero: `offsets` (sorted host ints, fixed at construction) and `diags` with

    diags[..., j, i] = A[..., i, i + offsets[j]]      (zero where i + offsets[j] ∉ [0, n))

("row-aligned": entry `i` of every stored diagonal lives in row `i`). Ladder, number,
Kerr, Pauli and spin operators, their sums and tensor products are banded; products
with a dense `(..., n, m)` right-hand side cost O(ndiag · n · m) instead of O(n² · m).

Two kernels, chosen per operator from its offsets (`Banded.uses_blocks`):

- *block* kernel, for compact bands (span `offsets[-1] - offsets[0] + 1` at most four
  times the number of diagonals): rows are cut into blocks of `BLOCK` rows; block `r`
  of `A @ X` is a dense `(BLOCK, BLOCK + span - 1)` block of `A` times a window of
  rows of `X` (an overlapping `as_strided` view). One pad and one batched matrix
  product: BLAS speed, no large temporary.
- *diagonal* kernel, for sparse offsets spread over the matrix (Ising-type chains,
  offsets ±2^k): one row gather of the padded `X` and one multiply-reduce.

- *sparse* kernel, when no autograd graph is recorded through the product (solves
  without gradients, replaying gradient modes, vector–Jacobian products) and the
  operator is unbatched on a CPU or CUDA device: a CSR copy of the operator (built
  once, zeros dropped) times `X` through the sparse BLAS (MKL on CPU, cuSPARSE on
  CUDA). It beats both kernels above: Kerr `A @ ρ` at n = 128 takes 31 µs against 48
  (block), Ising `H @ ψ` at n = 4096 103 µs against 455 (diagonal), because the
  diagonals of a spin chain are half zeros and the gather of the diagonal kernel is
  never formed. Where a graph is recorded the two differentiable kernels are used.

Everything is differentiable with autograd (gradients reach `diags` and, through
`from_dense`, the dense tensor), broadcasts over leading batch dimensions and stays
on the device of its inputs (no host syncs in products).

When is banded worth it (one core, complex128, eager; `benchmarks/banded_kernels.py`)?
Per torch call overhead is ~3–6 µs and a banded product takes 3–4 calls, while a dense
product below n ≈ 48 costs less than that: dense wins at n ≤ 32 whatever the band.
From n = 64 on the block kernel wins when its cost `span + BLOCK` is below about a
quarter to a third of `n` (n = 64, 9 diagonals: 47 vs 60 µs; n = 64, 17: tie; n = 128,
17: 160 vs 320 µs; n = 256, 17: 0.7 vs 2.6 ms). `is_banded_enough` encodes this.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from solvers.terms import sum_to

from ._memo import memo_by_tensor

__all__ = [
    "BLOCK",
    "Banded",
    "band_offsets",
    "banded_lindblad_rhs",
    "banded_lindblad_vjp",
    "banded_schrodinger_vjp",
    "is_banded_enough",
    "kron",
]

BLOCK = 8  # rows per block of the block kernel (4–16 measured equal within noise)


@memo_by_tensor
def band_offsets(A: torch.Tensor, tol: float = 0.0) -> tuple[int, ...]:
    """Return the sorted offsets of the diagonals of `A` with an entry `|a| > tol`.

    `A` has shape `(..., n, n)`; the offsets are the union over the batch. One host
    sync. An all-zero `A` gives `(0,)` (a banded operator has at least one diagonal).
    Memoised per tensor while it is unmodified (`dynamics._memo`).
    """
    n = A.shape[-1]
    if tol > 0:
        nz = A.abs() > tol
    elif A.is_complex():
        nz = torch.view_as_real(A).ne(0).any(-1)  # 3x faster than abs() on large operators
    else:
        nz = A.ne(0)
    ij = nz.reshape(-1, n, n).any(0).nonzero()  # (nnz, 2)
    offsets = torch.unique(ij[:, 1] - ij[:, 0]).tolist()
    return tuple(offsets) or (0,)


def _cost(offsets: Sequence[int]) -> int:
    """Cost of one banded product in units of `n · m` multiply-adds at BLAS speed."""
    span = offsets[-1] - offsets[0] + 1
    return span + BLOCK if span <= 4 * len(offsets) else 8 * len(offsets)


def is_banded_enough(
    offsets: Sequence[int], n: int, max_fraction: float = 0.3, min_n: int = 64
) -> bool:
    """Whether banded products beat dense ones for an `n × n` operator with `offsets`.

    False below `min_n` (per-call overhead dominates: dense wins at n ≤ 32 whatever the
    band; the Kerr Lindblad right-hand side ties at n = 64 and is 2.4× faster banded at
    n = 128) and when the kernel's cost exceeds `max_fraction · n` (block kernel: `span +
    BLOCK`, crossover measured between 0.25 n and 0.4 n at n = 64–256; diagonal kernel:
    `8 · ndiag`, elementwise work being ~8× dearer than BLAS work: Ising `H @ psi` with 17
    diagonals is 1.45× slower than dense at n = 256, 21 diagonals 9× faster at n = 1024).
    """
    return n >= min_n and _cost(sorted(offsets)) <= max_fraction * n


@functools.lru_cache(maxsize=256)
def _flat_diag_index(
    offsets: tuple[int, ...], n: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices of `A[i, i + k]` in an `(n, n)` matrix (clamped) and where they exist."""
    i = torch.arange(n, device=device)
    k = torch.tensor(offsets, device=device)[:, None]
    inside = (i + k >= 0) & (i + k < n)  # (ndiag, n)
    index = (i * (n + 1) + k).clamp(0, n * n - 1).flatten()
    return index, inside


@functools.lru_cache(maxsize=256)
def _row_index(offsets: tuple[int, ...], n: int, lo: int, device: torch.device) -> torch.Tensor:
    """Flat index `i + offsets[j] + lo` of the shifted rows, shape `(ndiag · n,)`."""
    ks = torch.tensor(offsets, device=device)
    return (torch.arange(n, device=device)[None, :] + ks[:, None] + lo).flatten()


def _shifted(X: torch.Tensor, offsets: tuple[int, ...]) -> torch.Tensor:
    """Return `S[..., j, i, :] = X[..., i + offsets[j], :]` (zero out of range), `(..., ndiag, n, m)`."""
    n = X.shape[-2]
    lo, hi = max(0, -offsets[0]), max(0, offsets[-1])
    Xp = F.pad(X, (0, 0, lo, hi))
    idx = _row_index(offsets, n, lo, X.device)
    return Xp.index_select(-2, idx).unflatten(-2, (len(offsets), n))


def _shift_rows(E: torch.Tensor, shifts: tuple[int, ...]) -> torch.Tensor:
    """Return `out[..., j, i] = E[..., j, i + shifts[j]]` (zero out of range)."""
    ndiag, n = E.shape[-2:]
    lo, hi = max(0, -min(shifts)), max(0, max(shifts))
    W = n + lo + hi
    Ep = F.pad(E, (lo, hi)).flatten(-2)  # (..., ndiag · W)
    base = torch.arange(ndiag, device=E.device)[:, None] * W
    idx = base + torch.arange(n, device=E.device)[None, :] + lo
    idx = idx + torch.tensor(shifts, device=E.device)[:, None]
    return Ep.index_select(-1, idx.flatten()).unflatten(-1, (ndiag, n))


def _scatter_diags(diags: torch.Tensor, pos: Sequence[int], ndiag: int) -> torch.Tensor:
    """Place rows `diags[..., j, :]` at rows `pos[j]` of a zero `(..., ndiag, n)` tensor."""
    if list(pos) == list(range(ndiag)):
        return diags
    shape = (*diags.shape[:-2], ndiag, diags.shape[-1])
    idx = torch.tensor(pos, device=diags.device)
    return diags.new_zeros(shape).index_add(-2, idx, diags)


class Banded:
    """A banded `(..., n, n)` operator stored by diagonals (see the module docstring).

    Attributes:
        offsets: Sorted offsets of the stored diagonals (host ints).
        diags: Values, shape `(..., ndiag, n)`, `diags[..., j, i] = A[..., i, i + offsets[j]]`.
        n: Matrix size.
    """

    __slots__ = ("_cache", "diags", "n", "offsets")

    def __init__(self, offsets: Sequence[int], diags: torch.Tensor):
        offsets = tuple(int(k) for k in offsets)
        if list(offsets) != sorted(set(offsets)):
            raise ValueError(f"Argument `offsets` must be sorted and distinct, but is {offsets}.")
        if diags.ndim < 2 or diags.shape[-2] != len(offsets):
            raise ValueError(
                f"Argument `diags` must have shape (..., {len(offsets)}, n), "
                f"but has shape {tuple(diags.shape)}."
            )
        self.offsets, self.diags, self.n = offsets, diags, diags.shape[-1]
        if any(abs(k) >= self.n for k in offsets):
            raise ValueError(f"Argument `offsets` must lie in (-{self.n}, {self.n}): {offsets}.")
        self._cache = {}

    # ----------------------------------------------------------------- conversions
    @classmethod
    def from_dense(
        cls, A: torch.Tensor, offsets: Sequence[int] | None = None, tol: float = 0.0
    ) -> Banded:
        """Take the diagonals `offsets` (default: `band_offsets(A, tol)`) of `A` `(..., n, n)`.

        Differentiable: gradients with respect to `diags` flow back to `A`.
        """
        n = A.shape[-1]
        if A.ndim < 2 or A.shape[-2] != n:
            raise ValueError(f"Argument `A` must have shape (..., n, n), but has {tuple(A.shape)}.")
        offsets = band_offsets(A, tol) if offsets is None else tuple(sorted(offsets))
        # A[i, i + k] sits at i (n + 1) + k of the flattened matrix; entries outside the
        # matrix read a clamped index and are masked to zero (no padded copy of A).
        index, inside = _flat_diag_index(offsets, n, A.device)
        diags = A.flatten(-2).index_select(-1, index).unflatten(-1, (len(offsets), n))
        return cls(offsets, diags * inside)

    def to_dense(self) -> torch.Tensor:
        """Return the dense `(..., n, n)` matrix (differentiable)."""
        n, offsets = self.n, self.offsets
        lo, hi = max(0, -offsets[0]), max(0, offsets[-1])
        W = n + lo + hi
        idx = _diag_index(offsets, n, W, lo, self.diags.device)
        flat = self.diags.new_zeros((*self.batch_shape, n * W))
        flat = flat.index_add(-1, idx, self.diags.flatten(-2))
        return flat.unflatten(-1, (n, W))[..., lo : lo + n]

    @property
    def batch_shape(self) -> torch.Size:
        """Leading batch dimensions of `diags`."""
        return self.diags.shape[:-2]

    @property
    def shape(self) -> torch.Size:
        """Shape of the dense operator, `(..., n, n)`."""
        return torch.Size((*self.batch_shape, self.n, self.n))

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of `diags`."""
        return self.diags.dtype

    @property
    def device(self) -> torch.device:
        """Device of `diags`."""
        return self.diags.device

    @property
    def uses_blocks(self) -> bool:
        """Whether products use the block kernel (compact band) or the diagonal kernel."""
        span = self.offsets[-1] - self.offsets[0] + 1
        return span <= 4 * len(self.offsets)

    def __repr__(self) -> str:
        return f"Banded(n={self.n}, offsets={self.offsets}, batch={tuple(self.batch_shape)})"

    def _cached(self, name: str, fn):
        """Memo of a derived tensor; rebuilt when autograd records but the memo did not."""
        grad = torch.is_grad_enabled()
        hit = self._cache.get(name)
        if hit is None or (grad and not hit[1]):
            hit = self._cache[name] = (fn(), grad)
        return hit[0]

    # ----------------------------------------------------------------- algebra
    @property
    def mH(self) -> Banded:
        """The adjoint, banded with offsets `-offsets` (memoised)."""
        return self._cached("mH", self._adjoint)

    def _adjoint(self) -> Banded:
        # A^†[i, i + k] = conj(A[i + k, i]) = conj(diags_{-k}[i + k])
        offsets = tuple(-k for k in reversed(self.offsets))
        E = self.diags.flip(-2).conj()
        return Banded(offsets, _shift_rows(E, offsets))

    def _embed(self, offsets: tuple[int, ...]) -> torch.Tensor:
        pos = [offsets.index(k) for k in self.offsets]
        return _scatter_diags(self.diags, pos, len(offsets))

    def __add__(self, other: Banded) -> Banded:
        if not isinstance(other, Banded):
            return NotImplemented
        if other.n != self.n:
            raise ValueError(f"Cannot add banded operators of sizes {self.n} and {other.n}.")
        if other.offsets == self.offsets:
            return Banded(self.offsets, self.diags + other.diags)
        offsets = tuple(sorted(set(self.offsets) | set(other.offsets)))
        return Banded(offsets, self._embed(offsets) + other._embed(offsets))

    def __neg__(self) -> Banded:
        return Banded(self.offsets, -self.diags)

    def __sub__(self, other: Banded) -> Banded:
        return self + (-other)

    def __mul__(self, s) -> Banded:
        """Scalar product; a tensor `s` of shape `(...)` scales each batch element."""
        if isinstance(s, Banded):
            return NotImplemented
        if isinstance(s, torch.Tensor) and s.ndim > 0:
            s = s[..., None, None]
        return Banded(self.offsets, self.diags * s)

    __rmul__ = __mul__

    def __truediv__(self, s) -> Banded:
        return self * (1 / s)

    def __matmul__(self, X):
        if isinstance(X, Banded):
            return self.bmatmul(X)
        return self.matmul(X)

    def __rmatmul__(self, X: torch.Tensor) -> torch.Tensor:
        return self.rmatmul(X)

    def bmatmul(self, B: Banded) -> Banded:
        """Product of two banded operators, banded with offsets `{k_a + k_b}`."""
        ka, kb = self.offsets, B.offsets
        # C[i, i + ka + kb] = A[i, i + ka] · B[i + ka, i + ka + kb]
        Bs = _shift_rows(
            B.diags.unsqueeze(-3).expand(*B.batch_shape, len(ka), len(kb), B.n).flatten(-3, -2),
            tuple(a for a in ka for _ in kb),
        )
        terms = self.diags.repeat_interleave(len(kb), dim=-2) * Bs  # pair (ja, jb) at ja·nb + jb
        return _combine(terms, [a + b for a in ka for b in kb], self.n)

    # ----------------------------------------------------------------- products
    def matmul(self, X: torch.Tensor) -> torch.Tensor:
        """Return `A @ X` for dense `X` `(..., n, m)`, in O(ndiag · n · m)."""
        if X.shape[-2] != self.n:
            raise ValueError(
                f"Argument `X` must have shape (..., {self.n}, m), but has {tuple(X.shape)}."
            )
        if X.dtype != self.dtype:  # as dense products promote (a real state, a complex H)
            X = X.to(torch.promote_types(X.dtype, self.dtype))
        if self._sparse_ok(X):
            phase, C_real, nnz = self._csr_real()
            m = X.shape[-1]
            if phase is None or not _real_view_pays(nnz, self.n, m):
                return _csr_matmul(self._csr(), X)
            out = _csr_matmul(C_real, torch.view_as_real(X.resolve_conj()).flatten(-2))
            out = torch.view_as_complex(out.unflatten(-1, (m, 2)))
            return out if phase == 1 else out * phase
        if self.uses_blocks and X.dtype == self.dtype:
            return _block_matmul(self._cached("blocks", self._blocks), self.offsets, X)
        S = _shifted(X, self.offsets)  # (..., ndiag, n, m)
        return (self.diags[..., None] * S).sum(-3)

    def rmatmul(self, X: torch.Tensor) -> torch.Tensor:
        """Return `X @ A` for dense `X` `(..., m, n)`, as `(A^† X^†)^†`."""
        return self.mH.matmul(X.mH).mH

    def _sparse_ok(self, X: torch.Tensor) -> bool:
        """Whether `matmul(X)` may use the (non-differentiable) sparse kernel."""
        if self.diags.ndim != 2 or X.device.type not in _SPARSE_DEVICES:
            return False
        if X.device != self.diags.device or X.dtype != self.diags.dtype:
            return False
        return not (torch.is_grad_enabled() and (X.requires_grad or self.diags.requires_grad))

    def _csr(self) -> torch.Tensor:
        """The operator as a CSR tensor without its zeros (memoised; never differentiated)."""
        csr = self._cache.get("csr")
        if csr is None:
            with torch.no_grad():
                csr = self._cache["csr"] = _to_csr(self.offsets, self.diags)
        return csr

    def _csr_real(self) -> tuple[complex | None, torch.Tensor | None, int]:
        """`(phase, C, nnz)` with `A = phase · C`, `C` a real CSR tensor without zeros.

        For a complex operator that is real (`phase` 1) or purely imaginary (`phase`
        1j); otherwise `(None, None, 0)`. Memoised; never differentiated.
        """
        hit = self._cache.get("csr_real")
        if hit is None:
            with torch.no_grad():
                D, hit = self.diags, (None, None, 0)
                if D.is_complex():
                    phase = 1 if not bool(D.imag.any()) else 1j if not bool(D.real.any()) else None
                    if phase is not None:
                        C = _to_csr(self.offsets, (D.real if phase == 1 else D.imag).contiguous())
                        hit = (phase, C, C.values().shape[0])
            self._cache["csr_real"] = hit
        return hit

    def _blocks(self) -> torch.Tensor:
        """Dense blocks `(..., nb, BLOCK, BLOCK + span - 1)` of the block kernel."""
        b, n, offsets = min(BLOCK, self.n), self.n, self.offsets
        nb, span = -(-n // b), offsets[-1] - offsets[0]
        D = F.pad(self.diags, (0, nb * b - n)).unflatten(-1, (nb, b)).movedim(-3, -1)
        pos = [k - offsets[0] for k in offsets]  # (..., nb, b, ndiag) -> columns pos
        if pos != list(range(span + 1)):
            idx = torch.tensor(pos, device=D.device)
            D = D.new_zeros((*D.shape[:-1], span + 1)).index_add(-1, idx, D)
        Z = F.pad(D, (0, b)).flatten(-2)[..., : b * (b + span)]  # row t shifted by t
        return Z.unflatten(-1, (b, b + span))


@functools.lru_cache(maxsize=256)
def _diag_index(
    offsets: tuple[int, ...], n: int, W: int, lo: int, device: torch.device
) -> torch.Tensor:
    """Flat index `i · W + i + offsets[j] + lo` into an `(n, W)` column-padded matrix."""
    ks = torch.tensor(offsets, device=device)
    i = torch.arange(n, device=device)
    return (i[None, :] * (W + 1) + ks[:, None] + lo).flatten()


_SPARSE_DEVICES = ("cpu", "cuda")


def _to_csr(offsets: tuple[int, ...], diags: torch.Tensor) -> torch.Tensor:
    """CSR `(n, n)` tensor of the unbatched operator with `diags` `(ndiag, n)` (one host sync)."""
    n = diags.shape[-1]
    index, inside = _flat_diag_index(offsets, n, diags.device)  # row i, column i + k
    values = diags.flatten()
    keep = (inside.flatten() & (values != 0)).nonzero()[:, 0]
    flat, order = index[keep].sort()
    values = values[keep][order]
    rows = torch.div(flat, n, rounding_mode="floor")
    crow = torch.zeros(n + 1, dtype=torch.int64, device=diags.device)
    crow[1:] = torch.bincount(rows, minlength=n).cumsum(0)
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, flat - rows * n, values, (n, n))


def _real_view_pays(nnz: int, n: int, m: int) -> bool:
    """Whether a real CSR operator with `nnz` entries is applied to the real view of `X`.

    `X` is complex, `(..., n, m)`. The real kernel on the real view runs 2–4× faster
    than the complex CSR kernel on operators with several entries per row (Ising H ψ,
    n = 4096: 61 vs 102 µs; 8 columns: 191 vs 677 µs), but its view calls cost ~5 µs,
    and on one entry per row (a ladder operator) the complex kernel is as fast
    (measured, one core).
    """
    return nnz >= 2 * n and nnz * m >= 8192


def _csr_matmul(C: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """`C @ X` for a CSR `(n, n)` `C` and dense `X` `(..., n, m)`."""
    if X.ndim == 2:
        return C @ X
    n, m, batch = X.shape[-2], X.shape[-1], X.shape[:-2]
    out = C @ X.movedim(-2, 0).reshape(n, -1)  # (n, batch · m)
    return out.reshape(n, *batch, m).movedim(0, -2)


def _block_matmul(blocks: torch.Tensor, offsets: tuple[int, ...], X: torch.Tensor) -> torch.Tensor:
    """`A @ X` from the blocks of `A` and an overlapping window view of the rows of `X`."""
    nb, b, w = blocks.shape[-3:]
    n, m = X.shape[-2:]
    lo = max(0, -offsets[0])
    start = offsets[0] + lo
    hi = max(0, start + nb * b + w - b - lo - n)
    Xp = F.pad(X, (0, 0, lo, hi)).contiguous()
    batch_strides = Xp.stride()[:-2]
    win = Xp.as_strided(
        (*Xp.shape[:-2], nb, w, m), (*batch_strides, b * m, m, 1), Xp.storage_offset() + start * m
    )
    out = torch.matmul(blocks, win).flatten(-3, -2)  # (..., nb · b, m)
    return out if nb * b == n else out[..., :n, :]


def _combine(terms: torch.Tensor, ks: list[int], n: int) -> Banded:
    """Sum the rows of `terms` `(..., P, n)` that share an offset in `ks` into a `Banded`."""
    offsets = tuple(sorted(set(ks)))
    keep = [j for j, k in enumerate(offsets) if abs(k) < n]
    pos = [offsets.index(k) for k in ks]
    if pos == list(range(len(offsets))):
        diags = terms
    else:
        idx = torch.tensor(pos, device=terms.device)
        shape = (*terms.shape[:-2], len(offsets), n)
        diags = terms.new_zeros(shape).index_add(-2, idx, terms)
    if len(keep) < len(offsets):  # offsets beyond the matrix hold only zeros
        diags = diags[..., keep, :]
        offsets = tuple(offsets[j] for j in keep)
    return Banded(offsets, diags)


def kron(a: Banded, b: Banded) -> Banded:
    """Tensor product `a ⊗ b`, banded with offsets `k_a · n_b + k_b`."""
    nb = b.n
    terms = a.diags[..., :, None, :, None] * b.diags[..., None, :, None, :]  # (.., ja, jb, ia, ib)
    terms = terms.flatten(-2).flatten(-3, -2)  # (..., ja · nbd + jb, n_a · n_b)
    ks = [ka * nb + kb for ka in a.offsets for kb in b.offsets]
    return _combine(terms, ks, a.n * nb)


# --------------------------------------------------------------------- equations
def _band_of(P: torch.Tensor, Q: torch.Tensor, offsets: tuple[int, ...]) -> torch.Tensor:
    """Diagonals `offsets` of `P @ Q` (`(..., n, m)` times `(..., m, n)`), in O(ndiag · n · m).

    `out[..., j, i] = Σ_c P[i, c] Q[c, i + offsets[j]]`: the product is never formed.
    """
    S = _shifted(Q.mT, offsets)  # (..., ndiag, n, m): S[j, i, c] = Q[c, i + k_j]
    return (P.unsqueeze(-3) * S).sum(-1)


def _rhs(hermitian: bool, rho: torch.Tensor, A: Banded, Ls: Sequence[Banded]) -> torch.Tensor:
    X = A.matmul(rho)
    if hermitian:  # Z + Z^† with Z = A ρ + ½ Σ L (L ρ)^†: Hermitian to the last bit
        for L in Ls:
            X = X + 0.5 * L.matmul(L.matmul(rho).mH)
        return X + X.mH
    acc = A.matmul(rho.mH)  # ρ A^† = (A ρ^†)^†
    for L in Ls:  # (L ρ) L^† = (L (L ρ)^†)^†, exact for any ρ
        acc = acc + L.matmul(L.matmul(rho).mH)
    return X + acc.mH


def banded_lindblad_vjp(
    hermitian: bool,
    rho: torch.Tensor,
    A: Banded,
    Ls: Sequence[Banded],
    g: torch.Tensor,
    need_rho: bool = True,
    need_ops: Sequence[bool] | None = None,
) -> tuple[torch.Tensor | None, tuple[torch.Tensor | None, ...]]:
    """Vector–Jacobian product of `banded_lindblad_rhs` with cotangent `g` `(..., n, n)`.

    Mirrors `dynamics._lindblad_rhs.lindblad_vjp` (with `Adag = A^†` and `Ld = L^†` tied
    to `A` and `L`): for `hermitian=True` the function differentiated is `Z + Z^†` with
    `Z = A ρ + ½ Σ L ρ^† L^†`, so the gradients are right for any ρ.

    Returns:
        The gradient with respect to `rho` and the tuple of gradients with respect to
        `(A.diags, L_1.diags, ...)` (`None` where not needed), each summed to the shape
        of its input. Diagonal gradients cost O(ndiag · n²): only the needed diagonals
        of products such as `g ρ^†` are computed.
    """
    need_ops = need_ops if need_ops is not None else (True,) * (1 + len(Ls))
    gH, rhoH = g.mH, rho.mH
    Ah = A.mH
    if hermitian:  # y = Z + Z^†, Z = A ρ + ½ Σ L (L ρ)^†: on Z, the cotangent is g + g^†
        s = g + gH
        g_rho = Ah.matmul(s) if need_rho else None
        g_A = _band_of(s, rhoH, A.offsets) if need_ops[0] else None
    else:  # y = A ρ + ρ A^†
        g_rho = Ah.matmul(g) + Ah.matmul(gH).mH if need_rho else None
        g_A = _band_of(g, rhoH, A.offsets) + _band_of(gH, rho, A.offsets) if need_ops[0] else None
    g_Ls = []
    for L, need in zip(Ls, need_ops[1:]):
        Lh = L.mH
        if hermitian:  # ½ (L ρ L^† + L ρ^† L^†) against s = g + g^† (s Hermitian)
            if need_rho:  # ½ L^† s L = ½ L^† (L^† s)^†
                g_rho = g_rho + 0.5 * Lh.matmul(Lh.matmul(s).mH)
            gL = 0.5 * _band_of(s, L.matmul(rho + rhoH), L.offsets) if need else None
        else:  # L ρ L^†
            if need_rho:  # L^† g L = L^† (L^† g^†)^†
                g_rho = g_rho + Lh.matmul(Lh.matmul(gH).mH)
            # g L ρ^† + g^† L ρ (L directly, and through L^†)
            gL = (
                _band_of(g, L.matmul(rhoH), L.offsets) + _band_of(gH, L.matmul(rho), L.offsets)
                if need
                else None
            )
        g_Ls.append(sum_to(gL, L.diags.shape) if gL is not None else None)
    return sum_to(g_rho, rho.shape), (sum_to(g_A, A.diags.shape), *g_Ls)


class _BandedLindbladRHS(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hermitian, A, Ls, rho, *diags):
        ctx.hermitian, ctx.A, ctx.Ls = hermitian, A, Ls
        ctx.save_for_backward(rho)
        return _rhs(hermitian, rho, A, Ls)

    @staticmethod
    def backward(ctx, g):
        (rho,) = ctx.saved_tensors
        need = ctx.needs_input_grad
        g_rho, g_ops = banded_lindblad_vjp(ctx.hermitian, rho, ctx.A, ctx.Ls, g, need[3], need[4:])
        return (None, None, None, g_rho, *g_ops)


def banded_lindblad_rhs(
    rho: torch.Tensor, A: Banded, Ls: Sequence[Banded], hermitian: bool = True
) -> torch.Tensor:
    r"""Return $A\rho + \rho A^\dagger + \sum_k L_k \rho L_k^\dagger$ with banded `A` and `L_k`.

    Same semantics as `dynamics._lindblad_rhs.lindblad_rhs`: with `hermitian=True`
    (density matrices) the value is `Z + Z^†` with `Z = A ρ + ½ Σ L (L ρ)^†`, one
    product for the coherent part and Hermitian to the last bit; otherwise the jump
    terms are `(L ρ) L^†`, computed as `(L (L ρ)^†)^†` (products on the left only). `A` is
    `-i H - ½ Σ L^† L`. Autograd records one node, whose backward pass is
    `banded_lindblad_vjp` (gradients reach `rho`, `A.diags` and each `L.diags`).

    Args:
        rho: Dense states `(..., n, n)`.
        A: Banded `(..., n, n)`.
        Ls: Banded jump operators `(..., n, n)`.
        hermitian: Whether `rho` is Hermitian (one product for the coherent part).
    """
    tensors = (rho, A.diags, *(L.diags for L in Ls))
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return _BandedLindbladRHS.apply(hermitian, A, list(Ls), *tensors)
    return _rhs(hermitian, rho, A, Ls)


def banded_schrodinger_vjp(
    psi: torch.Tensor, M: Banded, g: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Vector–Jacobian products of `M.matmul(psi)` (e.g. `M = -i H`, psi a ket or propagator).

    Returns the gradients with respect to `psi` and to `M.diags`, O(ndiag · n · m).
    """
    g_psi = sum_to(M.mH.matmul(g), psi.shape)
    return g_psi, sum_to(_band_of(g, psi.mH, M.offsets), M.diags.shape)
