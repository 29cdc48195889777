"""The Lindblad vector field as one autograd node with a hand-written backward pass.

Recording the vector field operation by operation costs an autograd node and a saved
tensor per product; this function records one node, saves only its inputs, and its
backward pass applies the adjoint Lindbladian. The backward is written with
differentiable torch operations, so second derivatives (`create_graph=True`) work.

The forward pass computes, for `hermitian=True`, `Y + Y^†` with
`Y = A ρ + ½ Σ_k L_k ρ L_k^†`: on Hermitian ρ this is `A ρ + ρ A^† + Σ_k L_k ρ L_k^†`
at the cost of one product for the coherent part, and its value is Hermitian to the
last bit. That matters: rounding leaves ρ with a tiny anti-Hermitian part, which the
unsymmetrised jump term `L ρ L^†` would amplify without the damping of the
anticommutator (the coherent part `X + X^†` is Hermitian whatever ρ is), so
integrations with large jump operators (e.g. two-photon loss `L = a² − α²`) would
blow up. Gradients are those of exactly this function, so they stay correct for any ρ.
"""

from __future__ import annotations

import torch

from solvers.terms import sum_to

__all__ = ["lindblad_rhs", "lindblad_vjp"]


def _forward(hermitian, rho, A, Adag, jumps):
    out = A @ rho
    if not hermitian:
        out = out + rho @ Adag
    w = 0.5 if hermitian else 1.0  # Y = A ρ + ½ Σ L ρ L^†, returned as Y + Y^†
    for L, Ld in jumps:
        LR = L @ rho
        if out.ndim == LR.ndim == Ld.ndim == 2:
            out = torch.addmm(out, LR, Ld, alpha=w)
        else:
            out = out + w * (LR @ Ld)
    return out + out.mH if hermitian else out


class _LindbladRHS(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hermitian, rho, A, Adag, *LLd):
        jumps = list(zip(LLd[::2], LLd[1::2]))
        ctx.hermitian = hermitian
        ctx.save_for_backward(rho, A, Adag, *LLd)
        return _forward(hermitian, rho, A, Adag, jumps)

    @staticmethod
    def backward(ctx, g):
        rho, A, Adag, *LLd = ctx.saved_tensors
        need = ctx.needs_input_grad
        g_rho, g_ops = lindblad_vjp(ctx.hermitian, rho, A, Adag, LLd, g, need[1], need[2:])
        return (None, g_rho, *g_ops)


def lindblad_vjp(hermitian, rho, A, Adag, LLd, g, need_rho=True, need_ops=None):
    """Vector–Jacobian product of `lindblad_rhs` with cotangent `g`.

    Each `Ld` must be the adjoint of its `L` (as `lindblad_rhs` is always called): the
    products use the value of one for the adjoint of the other.

    Returns the gradient with respect to `rho` and the tuple of gradients with respect
    to `(A, Adag, L_1, Ld_1, L_2, Ld_2, ...)` (`None` where not needed).
    """
    need_ops = need_ops if need_ops is not None else (True,) * (2 + len(LLd))
    rho_h = rho.mH
    if hermitian:  # y = Y + Y^†, Y = A ρ + ½ Σ L ρ L_d: the cotangent of Y is g + g^†
        g, w = g + g.mH, 0.5
        g_rho = A.mH @ g if need_rho else None
        g_A = g @ rho_h if need_ops[0] else None
        g_Adag = None
    else:  # y = A ρ + ρ A_dag + Σ L ρ L_d
        w = 1.0
        g_rho = A.mH @ g + g @ Adag.mH if need_rho else None
        g_A = g @ rho_h if need_ops[0] else None
        g_Adag = rho_h @ g if need_ops[1] else None
    g_jumps = []
    for k in range(0, len(LLd), 2):  # w L ρ L_d, with L_d = L^† (so L^† g L_d^† = L_d g L)
        L, Ld = LLd[k], LLd[k + 1]
        if need_rho:
            Ldg = Ld @ g
            both2d = g_rho.ndim == Ldg.ndim == L.ndim == 2
            g_rho = torch.addmm(g_rho, Ldg, L, alpha=w) if both2d else g_rho + w * (Ldg @ L)
        g_jumps.append(sum_to(w * (g @ L @ rho_h), L.shape) if need_ops[2 + k] else None)
        g_jumps.append(sum_to(w * (rho_h @ Ld @ g), Ld.shape) if need_ops[3 + k] else None)
    g_Adag = sum_to(g_Adag, Adag.shape) if g_Adag is not None else None
    return sum_to(g_rho, rho.shape), (sum_to(g_A, A.shape), g_Adag, *g_jumps)


def lindblad_rhs(
    rho: torch.Tensor,
    A: torch.Tensor,
    Adag: torch.Tensor | None,
    jumps: list[tuple[torch.Tensor, torch.Tensor]],
    hermitian: bool,
) -> torch.Tensor:
    """Return `A ρ + ρ A^† + Σ_k L_k ρ L_k^†` (with `A^† = Adag`, `L_k^† = Ld_k` given).

    With `hermitian=True` (`Adag` unused) the value is computed as `Y + Y^†` with
    `Y = A ρ + ½ Σ_k L_k ρ L_k^†`, exactly Hermitian (see the module docstring).

    Autograd records a single node when any input requires grad, none otherwise.
    """
    flat = [x for pair in jumps for x in pair]
    tensors = (rho, A, *flat) if Adag is None else (rho, A, Adag, *flat)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        if Adag is None:
            Adag = A.mH
        return _LindbladRHS.apply(hermitian, rho, A, Adag, *flat)
    return _forward(hermitian, rho, A, Adag, jumps)
