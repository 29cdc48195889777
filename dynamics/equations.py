"""Schrödinger and Lindblad equations as terms of the `solvers` engine.

An equation builds the term a method asks for (`method.term_kind`): a vector field
for Runge–Kutta methods, a linear generator for `Expm`, Lindblad operators for the
Rouchon Kraus maps. The right-hand sides do no wasted work: constant operators are
combined once, the effective Hamiltonian is computed once per distinct time, and the
Lindblad vector field uses the Hermiticity of ρ (one product for the coherent part,
two per jump operator).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from solvers import AbstractTerm, LinearTerm
from solvers.terms import sum_to

from ._banded import (
    Banded,
    band_offsets,
    banded_lindblad_rhs,
    banded_lindblad_vjp,
    banded_schrodinger_vjp,
    is_banded_enough,
)
from ._lindblad_rhs import lindblad_rhs, lindblad_vjp
from ._memo import memo_by_tensor
from ._real_pairs import (
    banded_lindblad_pairs,
    banded_schrodinger_pairs,
    lindblad_pairs,
    schrodinger_pairs,
    split,
    super_pairs,
)
from ._shapes import broadcast_shapes
from .time_operators import TimeOperator, _lead

__all__ = [
    "BandedLindbladTerm",
    "BandedSchrodingerTerm",
    "Lindblad",
    "LindbladTerm",
    "Schrodinger",
    "SchrodingerTerm",
    "SuperLindbladTerm",
    "dm_codec",
    "lindbladian",
    "superop_codec",
    "superop_kron",
    "unvec",
    "vec",
]


class _Cached:
    """Memo of a function of time for the last time it was called with.

    A value computed without autograd is not reused while autograd records (a
    gradient mode replaying steps needs the graph from the operators to the value).
    """

    def __init__(self, fn, constant: bool):
        self.fn, self.constant = fn, constant
        self.t, self.value, self.grad_mode = None, None, None

    def __call__(self, t: float):
        grad_mode = torch.is_grad_enabled()
        if (
            self.value is None
            or (not self.constant and t != self.t)
            or (grad_mode and not self.grad_mode)
        ):
            self.t, self.value, self.grad_mode = t, self.fn(t), grad_mode
        return self.value


def _flags(ops: list[TimeOperator]) -> dict:
    return {
        "is_constant": all(op.is_constant for op in ops),
        "is_piecewise_constant": all(op.is_piecewise_constant for op in ops),
    }


def _dense_real_form(term, pairs: bool, fn, static: tuple):
    """Real form of a dense term: `fn` on its own operators, or that of `term.real_term`.

    `real_term`, if set, holds banded storage that pays only in compiled steps.
    """
    if term.real_term is not None:
        return term.real_term.real_form(pairs)
    if not (pairs and term.is_constant):
        return None
    kinds, parts = split(*term.ops(0.0))
    return fn, (*static, kinds), parts


class SchrodingerTerm(AbstractTerm):
    """Vector field `-i H(t) ψ` (ψ a ket or a propagator)."""

    has_vjp = True
    pure_real_form = True  # the `_real_pairs` functions use only their arguments

    def __init__(self, H: TimeOperator):
        self.__dict__.update(_flags([H]))
        self.minus_iH = _Cached(lambda t: -1j * H(t), self.is_constant)
        self.real_term: AbstractTerm | None = None  # its real form serves compiled steps

    def vf(self, t: float, y: torch.Tensor) -> torch.Tensor:
        """Return `-i H(t) y`."""
        return self.minus_iH(t) @ y

    def ops(self, t: float) -> tuple[torch.Tensor, ...]:
        """Return `(-i H(t),)`."""
        return (self.minus_iH(t),)

    def apply(self, ops, y: torch.Tensor) -> torch.Tensor:
        """Return `M y` with `(M,) = ops`."""
        return ops[0] @ y

    def real_form(self, pairs: bool):
        """`M y` on real planes (constant `H`; see `AbstractTerm.real_form`).

        That of `real_term` if set: banded storage that pays only in compiled steps.
        """
        return _dense_real_form(self, pairs, schrodinger_pairs, ())

    def vjp(self, ops, y: torch.Tensor, g: torch.Tensor, need):
        """Return the vector–Jacobian products of `M y`."""
        (M,) = ops
        return sum_to(M.mH @ g, y.shape), (sum_to(g @ y.mH, M.shape) if need[0] else None,)


class LindbladTerm(AbstractTerm):
    r"""Lindblad vector field $\mathcal{L}(t)\rho = A\rho + \rho A^\dagger + \sum_k L_k\rho L_k^\dagger$.

    Here $A = -i H_\mathrm{eff}$ with $H_\mathrm{eff} = H - \frac{i}{2}\sum_k L_k^\dagger L_k$.
    With `hermitian=True` (density matrices) the coherent part is one product,
    $X + X^\dagger$ with $X = A\rho$; with `hermitian=False` (propagator columns) two.
    Each jump operator costs two products (`addmm` when unbatched); autograd records
    the whole vector field as one node (`lindblad_rhs`).
    """

    def __init__(self, H: TimeOperator, jump_ops: list[TimeOperator], hermitian: bool = True):
        self.__dict__.update(_flags([H, *jump_ops]))
        self.hermitian = hermitian
        self.H, self.jump_ops = H, jump_ops
        jumps_constant = all(L.is_constant for L in jump_ops)
        self.jumps = _Cached(
            lambda t: [(L, L.mH.contiguous()) for L in (op(t) for op in jump_ops)], jumps_constant
        )
        self.A = _Cached(lambda t: self._A(H, t), self.is_constant)
        self.Adag = _Cached(lambda t: self.A(t).mH.contiguous(), self.is_constant)
        self.real_term: AbstractTerm | None = None  # its real form serves compiled steps

    def _A(self, H: TimeOperator, t: float) -> torch.Tensor:
        A = -1j * H(t)
        for L, Ld in self.jumps(t):
            A = A - 0.5 * (Ld @ L)
        return A

    def L(self, t: float) -> torch.Tensor | None:
        """Return the jump operators at time `t` stacked as `(..., K, n, n)` (`None` if none)."""
        return _stack([L for L, _ in self.jumps(t)])

    has_vjp = True
    pure_real_form = True  # the `_real_pairs` functions use only their arguments

    def vf(self, t: float, y: torch.Tensor) -> torch.Tensor:
        """Return `𝓛(t) ρ`."""
        Adag = None if self.hermitian else self.Adag(t)
        return lindblad_rhs(y, self.A(t), Adag, self.jumps(t), self.hermitian)

    def ops(self, t: float) -> tuple[torch.Tensor, ...]:
        """Return `(A, A^†, L_1, L_1^†, ...)` at time `t` (`A^†` only if not Hermitian)."""
        flat = tuple(x for pair in self.jumps(t) for x in pair)
        return (self.A(t), *flat) if self.hermitian else (self.A(t), self.Adag(t), *flat)

    def apply(self, ops, y: torch.Tensor) -> torch.Tensor:
        """Return `𝓛 ρ` from `ops = self.ops(t)`."""
        A, Adag, flat = (ops[0], None, ops[1:]) if self.hermitian else (ops[0], ops[1], ops[2:])
        return lindblad_rhs(y, A, Adag, list(zip(flat[::2], flat[1::2])), self.hermitian)

    def real_form(self, pairs: bool):
        """`𝓛 ρ` on real planes (constant operators; see `AbstractTerm.real_form`).

        That of `real_term` if set: banded storage that pays only in compiled steps.
        """
        return _dense_real_form(self, pairs, lindblad_pairs, (self.hermitian,))

    def vjp(self, ops, y: torch.Tensor, g: torch.Tensor, need):
        """Return the vector–Jacobian products with respect to `ρ` and to `ops`."""
        if self.hermitian:
            need_all = (need[0], False, *need[1:])
            g_y, (g_A, _, *g_jumps) = lindblad_vjp(
                True, y, ops[0], ops[0], ops[1:], g, True, need_all
            )
            return g_y, (g_A, *g_jumps)
        return lindblad_vjp(False, y, ops[0], ops[1], ops[2:], g, True, need)

    def superop(self, t: float) -> torch.Tensor:
        """Return the Lindbladian as a matrix on column-stacked ρ, shape `(..., n², n²)`."""
        return lindbladian(self.A(t), [L for L, _ in self.jumps(t)])

    def superops(self, ts: Sequence[float]) -> torch.Tensor:
        """Return the Lindbladians at the times `ts`, stacked: shape `(len(ts), ..., n², n²)`."""
        stacks = [op.at_times(ts) for op in (self.H, *self.jump_ops)]
        ndim = max(x.ndim for x in stacks)  # batch shapes align after the time axis
        H, *Ls = (_lead(x, ndim) for x in stacks)
        A = -1j * H
        for L in Ls:
            A = A - 0.5 * (L.mH @ L)
        return lindbladian(A, Ls)


def banded_offsets(
    layout: str, matrices: list[torch.Tensor], compiled: bool = False
) -> list[tuple[int, ...]] | None:
    """The band offsets of each matrix if `layout` asks for banded storage, else `None`.

    `'banded'` always gives them; `'auto'` only when every matrix is worth it
    (`is_banded_enough`: narrow band, dimension ≥ 64), or, for a `compiled` solve, has
    a compact band (span at most n / 4) or few diagonals (at most n / 8, spread as in
    spin chains): compiled banded products are fused loops over shifted copies, not
    BLAS calls, and win at any size (compiled, P1 Kerr at n = 16: 0.275 s against
    0.45 s dense; P2 Ising chain at N = 8, 17 diagonals: 0.08 s against 0.15 s). One
    host sync per matrix.
    """
    if layout == "dense":
        return None
    offsets = [band_offsets(M) for M in matrices]
    n = matrices[0].shape[-1]

    def worth(o: tuple[int, ...]) -> bool:
        return is_banded_enough(o, n) or (
            compiled and (o[-1] - o[0] + 1 <= n // 4 or len(o) <= n // 8)
        )

    if layout == "banded" or all(worth(o) for o in offsets):
        return offsets
    return None


class _Known:
    """The `Banded` operators a term handed out, found again from their `diags` tensor.

    `ops(t)` must return tensors (the engine differentiates them), while products
    need the `Banded` objects (whose product blocks are memoised): this maps one back
    to the other, and rebuilds a `Banded` for a tensor it has not seen.
    """

    def __init__(self):
        self.items: dict[int, Banded] = {}

    def add(self, bands: list[Banded]) -> tuple[torch.Tensor, ...]:
        if len(self.items) > 16:  # constant terms: a handful (with and without autograd)
            self.items.clear()
        for b in bands:
            self.items[id(b.diags)] = b
        return tuple(b.diags for b in bands)

    def __call__(self, diags: torch.Tensor, offsets: tuple[int, ...]) -> Banded:
        b = self.items.get(id(diags))
        return b if b is not None and b.diags is diags else Banded(offsets, diags)


@memo_by_tensor
def _generator(H: torch.Tensor, offsets: tuple[int, ...]) -> Banded:
    """`-i H` stored banded, memoised per unmodified `H` without autograd (`_memo`).

    Repeated solves with the same Hamiltonian (sweeps, fits) then share it and what it
    memoises: its sparse copy for eager products (built with a sort, 1 ms for a
    10-spin chain) and its real form for compiled steps.
    """
    with torch.no_grad():
        return Banded.from_dense(H, offsets) * -1j


class BandedSchrodingerTerm(AbstractTerm):
    """Vector field `-i H ψ` with a constant `H` stored by its diagonals (`Banded`)."""

    has_vjp = True
    pure_real_form = True  # the `_real_pairs` functions use only their arguments
    is_constant = True
    is_piecewise_constant = True

    def __init__(self, H: TimeOperator, offsets: tuple[int, ...]):
        self.offsets = offsets

        def build(t: float) -> Banded:
            Ht = H(t)
            if torch.is_grad_enabled() and Ht.requires_grad:
                return Banded.from_dense(Ht, offsets) * -1j
            return _generator(Ht, offsets)

        self.M = _Cached(build, True)
        self.known = _Known()

    def vf(self, t: float, y: torch.Tensor) -> torch.Tensor:
        """Return `-i H y`."""
        return self.M(t).matmul(y)

    def ops(self, t: float) -> tuple[torch.Tensor, ...]:
        """Return the diagonals of `-i H`."""
        return self.known.add([self.M(t)])

    def apply(self, ops, y: torch.Tensor) -> torch.Tensor:
        """Return `M y` from the diagonals `ops`."""
        return self.known(ops[0], self.offsets).matmul(y)

    def real_form(self, pairs: bool):
        """`M y` on real planes, by shifts of `y` (see `AbstractTerm.real_form`)."""
        if not pairs:
            return None
        M = self.M(0.0)
        kinds, parts = M._cached("split", lambda: split(M.diags, banded=True))
        return banded_schrodinger_pairs, (M.offsets, kinds), parts

    def vjp(self, ops, y: torch.Tensor, g: torch.Tensor, need):
        """Return the vector–Jacobian products of `M y` (banded, O(ndiag · n · m))."""
        g_y, g_M = banded_schrodinger_vjp(y, self.known(ops[0], self.offsets), g)
        return g_y, (g_M if need[0] else None,)


class BandedLindbladTerm(AbstractTerm):
    """The Lindblad vector field of a constant `LindbladTerm`, its operators stored banded."""

    has_vjp = True
    pure_real_form = True  # the `_real_pairs` functions use only their arguments
    is_constant = True
    is_piecewise_constant = True

    def __init__(self, dense: LindbladTerm, offsets: list[tuple[int, ...]]):
        self.hermitian = dense.hermitian
        self.offsets = offsets
        self.bands = _Cached(
            lambda t: [
                Banded.from_dense(M, o)
                for M, o in zip([dense.A(t), *(L for L, _ in dense.jumps(t))], offsets)
            ],
            True,
        )
        self.known = _Known()

    def _bands(self, ops) -> list[Banded]:
        return [self.known(d, o) for d, o in zip(ops, self.offsets)]

    def vf(self, t: float, y: torch.Tensor) -> torch.Tensor:
        """Return `𝓛 ρ`."""
        A, *Ls = self.bands(t)
        return banded_lindblad_rhs(y, A, Ls, self.hermitian)

    def ops(self, t: float) -> tuple[torch.Tensor, ...]:
        """Return the diagonals of `A` and of each jump operator."""
        return self.known.add(self.bands(t))

    def apply(self, ops, y: torch.Tensor) -> torch.Tensor:
        """Return `𝓛 ρ` from the diagonals `ops`."""
        A, *Ls = self._bands(ops)
        return banded_lindblad_rhs(y, A, Ls, self.hermitian)

    def real_form(self, pairs: bool):
        """`𝓛 ρ` on real planes, by row and column shifts of ρ (`AbstractTerm.real_form`)."""
        if not pairs:
            return None
        bands = self.bands(0.0)
        kinds, parts = split(*(b.diags for b in bands), banded=True)
        offsets = tuple(b.offsets for b in bands)
        return banded_lindblad_pairs, (self.hermitian, offsets, kinds), parts

    def vjp(self, ops, y: torch.Tensor, g: torch.Tensor, need):
        """Return the vector–Jacobian products with respect to `ρ` and to `ops`."""
        A, *Ls = self._bands(ops)
        return banded_lindblad_vjp(self.hermitian, y, A, Ls, g, True, need)


SUPEROP_MAX_N = 12  # unbatched: 7 vs 13 µs per evaluation at n = 12, a tie at n = 16
SUPEROP_MAX_WORK = 1 << 17  # batch size × n⁴: n = 4 × 512 still wins (138 vs 219 µs)


def superop_pays(n: int, batch: torch.Size) -> bool:
    """Whether a small constant Lindbladian is cheaper as one superoperator product.

    Compares one `(n², n²)` matrix against products of `n × n` matrices, for size `n`
    and operator batch `batch`. Small systems: the product form costs ~4 torch calls
    and 3 matrix products per evaluation, the matrix form one product, `n²` times
    larger (measured, one core, complex128: n = 2 × 512 batched 15 vs 64 µs, n = 5 ×
    512 a tie).
    """
    return n <= SUPEROP_MAX_N and batch.numel() * n**4 <= SUPEROP_MAX_WORK


class SuperLindbladTerm(AbstractTerm):
    """The vector field of a small constant `LindbladTerm` as one matrix–vector product.

    The state stays an `(..., n, n)` matrix; its row-major flattening is a view, and
    `vec(A ρ B) = (A ⊗ Bᵀ) vec(ρ)` for it, so `𝓛 = A ⊗ 1 + 1 ⊗ Ā + Σ L ⊗ L̄`. Valid for
    any ρ (Hermitian or not); gradients reach the operators through the construction
    of `𝓛`, whose own cotangent is one outer product.
    """

    has_vjp = True
    pure_real_form = True  # the `_real_pairs` functions use only their arguments
    is_constant = True
    is_piecewise_constant = True

    def __init__(self, dense: LindbladTerm):
        # On row-major ρ, 𝓛 is the column-stacking Lindbladian of the conjugate operators.
        def build(t: float) -> torch.Tensor:
            return lindbladian(dense.A(t).conj(), [L.conj() for L, _ in dense.jumps(t)])

        self.G = _Cached(build, True)

    @staticmethod
    def _apply(G: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        n = y.shape[-1]
        out = G @ y.reshape(*y.shape[:-2], n * n, 1)
        return out.reshape(*out.shape[:-2], n, n)

    def vf(self, t: float, y: torch.Tensor) -> torch.Tensor:
        """Return `𝓛 ρ`."""
        return self._apply(self.G(t), y)

    def ops(self, t: float) -> tuple[torch.Tensor, ...]:
        """Return `(𝓛,)` on row-major flattened ρ, shape `(..., n², n²)`."""
        return (self.G(t),)

    def apply(self, ops, y: torch.Tensor) -> torch.Tensor:
        """Return `𝓛 ρ` with `(𝓛,) = ops`."""
        return self._apply(ops[0], y)

    def real_form(self, pairs: bool):
        """`𝓛 vec(ρ)` on real planes (see `AbstractTerm.real_form`)."""
        if not pairs:
            return None
        kinds, parts = split(self.G(0.0))
        return super_pairs, (kinds,), parts

    def vjp(self, ops, y: torch.Tensor, g: torch.Tensor, need):
        """Return the vector–Jacobian products with respect to `ρ` and to `𝓛`."""
        (G,) = ops
        n = y.shape[-1]
        gv = g.reshape(*g.shape[:-2], n * n, 1)
        g_y = sum_to(self._apply(G.mH, g), y.shape)
        if not need[0]:
            return g_y, (None,)
        return g_y, (sum_to(gv @ y.reshape(*y.shape[:-2], 1, n * n).conj(), G.shape),)


def lindbladian(A: torch.Tensor, Ls: list[torch.Tensor]) -> torch.Tensor:
    """Return the superoperator of `ρ ↦ Aρ + ρA^† + Σ LρL^†` on column-stacked ρ."""
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    G = superop_kron(eye, A) + superop_kron(A.conj(), eye)
    for L in Ls:
        G = G + superop_kron(L.conj(), L)
    return G


def superop_kron(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Batched Kronecker product `X ⊗ Y`, so that `vec(Y ρ Xᵀ) = (X ⊗ Y) vec(ρ)` (column stacking)."""
    n, m = X.shape[-2] * Y.shape[-2], X.shape[-1] * Y.shape[-1]
    out = X[..., :, None, :, None] * Y[..., None, :, None, :]
    return out.reshape(*out.shape[:-4], n, m)


def _batch_of(ops: list[torch.Tensor]) -> torch.Size:
    return broadcast_shapes(*(x.shape[:-2] for x in ops))


def _stack(ops: list[torch.Tensor]) -> torch.Tensor | None:
    return torch.stack(torch.broadcast_tensors(*ops), dim=-3) if ops else None


class Schrodinger:
    """The Schrödinger equation `dψ/dt = -i H(t) ψ`, for kets or propagators."""

    kinds = ("ode", "linear")

    def __init__(self, H: TimeOperator, name: str = "sesolve"):
        self.H, self.solver_name = H, name
        self.discontinuities = H.discontinuities

    def term(self, kind: str, layout: str = "dense", compiled: bool = False) -> AbstractTerm:
        """Return the term for a method of kind `kind` (`layout`: see `qd.set_layout`).

        `compiled`: the method compiles its steps. Operators banded enough only for
        compiled steps (see `banded_offsets`) stay dense for the eager work (a
        gradient's backward pass) and give banded real forms to the compiled steps.
        """
        if kind == "ode":
            term = SchrodingerTerm(self.H)
            if layout != "dense" and self.H.is_constant:
                with torch.no_grad():
                    offsets = banded_offsets(layout, [self.H(0.0)])
                    if offsets is not None:
                        return BandedSchrodingerTerm(self.H, offsets[0])
                    if compiled:
                        offsets = banded_offsets(layout, [self.H(0.0)], compiled)
                if offsets is not None:  # bands for the compiled steps only
                    term.real_term = BandedSchrodingerTerm(self.H, offsets[0])
            return term
        if kind == "linear":
            H = self.H
            G = _Cached(lambda t: -1j * H(t), H.is_constant)
            return LinearTerm(G, Gs=lambda ts: -1j * H.at_times(ts), **_flags([H]))
        raise ValueError(f"`{self.solver_name}` has no term of kind {kind!r}.")


class Lindblad:
    """The Lindblad master equation, for density matrices or superoperator columns."""

    kinds = ("ode", "linear", "lindblad")

    def __init__(self, H: TimeOperator, jump_ops: list[TimeOperator], name: str, hermitian: bool):
        self.H, self.jump_ops, self.solver_name = H, jump_ops, name
        self.hermitian = hermitian
        self.discontinuities = tuple(
            sorted({d for op in (H, *jump_ops) for d in op.discontinuities})
        )

    def term(self, kind: str, layout: str = "dense", compiled: bool = False) -> AbstractTerm:
        """Return the term for a method of kind `kind` (`layout`: see `qd.set_layout`).

        `compiled`: the method compiles its steps (see `Schrodinger.term`).
        """
        term = LindbladTerm(self.H, self.jump_ops, self.hermitian)
        if kind == "ode" and layout != "dense" and term.is_constant:
            with torch.no_grad():
                ops = [term.A(0.0), *(L for L, _ in term.jumps(0.0))]
                if layout == "auto" and superop_pays(ops[0].shape[-1], _batch_of(ops)):
                    return SuperLindbladTerm(term)
                offsets = banded_offsets(layout, ops)
                if offsets is not None:
                    return BandedLindbladTerm(term, offsets)
                if compiled:
                    offsets = banded_offsets(layout, ops, compiled)
            if offsets is not None:  # bands for the compiled steps only
                term.real_term = BandedLindbladTerm(term, offsets)
        if kind in ("ode", "lindblad"):
            return term
        if kind == "linear":
            return LinearTerm(
                term.superop,
                Gs=term.superops,
                is_constant=term.is_constant,
                is_piecewise_constant=term.is_piecewise_constant,
            )
        raise ValueError(f"`{self.solver_name}` has no term of kind {kind!r}.")


def vec(rho: torch.Tensor) -> torch.Tensor:
    """Column-stack `(..., n, n)` into `(..., n², 1)`."""
    return rho.mT.reshape(*rho.shape[:-2], -1, 1)


def unvec(y: torch.Tensor) -> torch.Tensor:
    """Inverse of `vec`: `(..., n², 1)` to `(..., n, n)`."""
    n = round(y.shape[-2] ** 0.5)
    return y.reshape(*y.shape[:-2], n, n).mT


def dm_codec(kind: str, rho0: torch.Tensor):
    """Return the engine's initial state and the decoder back to density matrices.

    The decoder is `None` where the state is the density matrix itself.
    """
    if kind == "linear":
        return vec(rho0), unvec
    return rho0, None


def superop_codec(kind: str, batch: torch.Size, n: int, like: torch.Tensor):
    """Return the initial state and decoder that make the engine compute superoperators.

    For a linear (superoperator) term the state is the `(n², n²)` identity; otherwise it
    is the n² matrix units `E_b` (column-stacking index `b`), stacked in front of the
    batch dimensions as `(n², *batch, n, n)` so that operators `(*batch, n, n)`
    broadcast against them; their images are the columns of the superoperator.
    """
    eye = torch.eye(n * n, dtype=like.dtype, device=like.device)
    if kind == "linear":
        return eye.expand(*batch, n * n, n * n), None  # the superoperator itself
    units = unvec(eye.unsqueeze(-1))  # (n², n, n): E_b with vec(E_b) = e_b
    units = units.reshape(n * n, *(1,) * len(batch), n, n).expand(n * n, *batch, n, n)

    def decode(y: torch.Tensor) -> torch.Tensor:  # (n², *batch, n, n) -> (*batch, n², n²)
        return y.movedim(0, -3).mT.reshape(*y.shape[1:-2], n * n, n * n).mT

    return units, decode
