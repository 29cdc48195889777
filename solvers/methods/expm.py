"""Exponential stepping of linear equations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..map_loop import linear_map_loop, map_loop
from ..terms import AbstractTerm, LinearTerm
from .base import AbstractStepMap, check_positive

__all__ = ["Expm"]


def matrix_exp(G: torch.Tensor) -> torch.Tensor:
    """`torch.linalg.matrix_exp`, always on a batch of at least two matrices.

    torch 2.13 evaluates a lone matrix of norm ~3e-4 to 0.08 with a faulty degree-8
    path (errors up to 2e-10, pytorch/pytorch#196592); batched evaluation is exact.
    A zero matrix padding the batch costs almost nothing.
    """
    if G.shape[:-2].numel() > 1:
        return torch.linalg.matrix_exp(G.contiguous())  # it rejects expanded views
    flat = G.reshape(G.shape[-2:])
    pair = torch.stack([flat, torch.zeros_like(flat)])
    return torch.linalg.matrix_exp(pair)[0].reshape(G.shape)


def expm_skew_hermitian(G: torch.Tensor) -> torch.Tensor:
    """`exp(G)` for anti-Hermitian `G` `(..., d, d)` (a unitary), by an eigendecomposition.

    With `iG = V diag(λ) V^†`, `exp(G) = V diag(e^{-iλ}) V^†`. Its vector–Jacobian
    product is the Daleckii–Krein formula, a few products instead of the exponential
    of a `2d × 2d` block matrix that `torch.linalg.matrix_exp` differentiates (about 3×
    cheaper for a batch of small matrices). Second derivatives go through
    `torch.linalg.matrix_exp`.

    Examples:
        >>> import torch
        >>> G = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.complex128)
        >>> torch.allclose(expm_skew_hermitian(G), torch.linalg.matrix_exp(G))
        True
    """
    return _ExpSkewHermitian.apply(G)


class _ExpSkewHermitian(torch.autograd.Function):
    @staticmethod
    def forward(ctx, G):
        lam, V = torch.linalg.eigh(1j * G)
        U = (V * torch.exp(-1j * lam).unsqueeze(-2)) @ V.mH
        ctx.save_for_backward(G, lam, V)
        return U

    @staticmethod
    def backward(ctx, gU):
        G, lam, V = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: a gradient that is itself differentiable
            with torch.enable_grad():
                (gG,) = torch.autograd.grad(matrix_exp(G), G, gU, create_graph=True)
            return gG
        # dU = V (F ∘ (V^† dG V)) V^† with F_jk = (e^{μ_j} - e^{μ_k}) / (μ_j - μ_k), μ = -iλ:
        # F_jk = e^{-i(λ_j + λ_k)/2} sinc((λ_j - λ_k)/2), stable for equal eigenvalues.
        d = lam.unsqueeze(-1) - lam.unsqueeze(-2)
        s = lam.unsqueeze(-1) + lam.unsqueeze(-2)
        F = torch.exp(-0.5j * s) * torch.sinc(d / (2 * torch.pi))
        return V @ (F.conj() * (V.mH @ gU @ V)) @ V.mH


def _is_skew_hermitian(G: torch.Tensor) -> bool:
    """Whether `G = -G^†` to rounding (one host sync)."""
    if not G.is_complex():
        return False
    tol = 64 * torch.finfo(G.real.dtype).eps
    return bool((G + G.mH).abs().amax() <= tol * G.abs().amax().clamp(min=1.0))


def exp_generator(G: torch.Tensor) -> torch.Tensor:
    """`exp(G)`, by an eigendecomposition when `G` is anti-Hermitian (a unitary flow)."""
    return expm_skew_hermitian(G) if _is_skew_hermitian(G) else matrix_exp(G)


@dataclass(frozen=True, kw_only=True)
class Expm(AbstractStepMap):
    r"""Exact exponential stepping for linear equations $\dot y = G(t)\, y$.

    Each step is $y \to e^{G(t + dt/2)\, dt}\, y$ (a matrix exponential of the
    generator at the midpoint). For constant and piecewise-constant generators this is
    exact, and without `dt` the method steps from one save time or discontinuity to
    the next, reusing each exponential where it can. For other time dependences give
    `dt`: the method is then the exponential midpoint rule, of order 2.

    Args:
        dt: Maximal step; `None` (the default) steps between save times and
            discontinuities and requires a piecewise-constant generator.
        max_steps: Maximum number of steps.

    Supports every gradient mode.

    Examples:
        >>> from solvers import Expm
        >>> Expm()
        Expm(dt=None, max_steps=100000)
    """

    term_kind: ClassVar[str] = "linear"
    order: ClassVar[int] = 2
    dt: float | None = None
    max_steps: int = 100_000

    def __post_init__(self):
        if self.dt is not None:
            check_positive("Expm", "dt", self.dt)
        check_positive("Expm", "max_steps", self.max_steps, integer=True)

    def check_term(self, term: AbstractTerm) -> None:
        """Require a linear term, piecewise constant unless `dt` is given."""
        if not isinstance(term, LinearTerm):
            raise TypeError(f"Method Expm needs a LinearTerm, but got {type(term).__name__}.")
        if self.dt is None and not (term.is_constant or term.is_piecewise_constant):
            raise ValueError(
                "Method Expm without `dt` is exact only for constant or piecewise-constant "
                "generators; give `dt` (e.g. `Expm(dt=1e-2)`) for other time dependences."
            )

    def prepare(self, term: LinearTerm, t: float, dt: float) -> torch.Tensor:
        """Return the propagator `exp(G(t + dt/2) dt)`."""
        return matrix_exp(term.generator(t + dt / 2) * dt)

    def prepare_many(self, term: LinearTerm, ts: Sequence[float], dts: Sequence[float]):
        """Return the propagators `exp(G(t_i) dt_i)`, stacked: shape `(len(ts), ..., d, d)`."""
        G = term.generators(ts)
        dts = torch.tensor(dts, dtype=G.real.dtype, device=G.device)
        return exp_generator(G * dts.reshape(-1, *(1,) * (G.ndim - 1)))

    def integrate(
        self, term, y0, tsave, t0, discontinuities, save, event_ndim, progress, recorder=None
    ):
        """Integrate; piecewise-constant generators take all their steps at once.

        Without `recorder` (no step replay) and `dt`, with a constant or piecewise-constant
        generator, every exponential comes from one batched call and the products
        between save times are taken as a tree (`linear_map_loop`); otherwise the
        steps run one by one (`map_loop`).
        """
        args = (self, term, y0, tsave, t0, discontinuities, save, progress)
        if (
            recorder is None
            and self.dt is None
            and (term.is_constant or term.is_piecewise_constant)
        ):
            return linear_map_loop(*args)
        return map_loop(*args, recorder)

    def apply(self, prepared: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Apply the propagator."""
        return prepared @ y
