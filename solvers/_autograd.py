"""Vector–Jacobian products through `torch.autograd.grad`, without `grad_outputs`.

In torch 2.13 the first `torch.autograd.grad` call given `grad_outputs` imports the
symbolic-shapes machinery and SymPy (about 0.3 s, more than a small solve). The
vector–Jacobian product of outputs `o_k` with cotangents `g_k` is the gradient of the
real scalar `Σ_k Re⟨g_k, o_k⟩` (exactly, for real and complex tensors alike), which
needs no `grad_outputs`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["vjp_grad"]


def vjp_grad(
    outputs: Sequence[torch.Tensor],
    inputs: Sequence[torch.Tensor],
    cotangents: Sequence[torch.Tensor],
    **kwargs,
) -> tuple[torch.Tensor | None, ...]:
    """`torch.autograd.grad(outputs, inputs, cotangents, **kwargs)`, computed as a scalar's gradient.

    Examples:
        >>> import torch
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> vjp_grad([x**2], [x], [torch.tensor([1.0, 10.0])])
        (tensor([ 2., 40.]),)
    """
    with torch.enable_grad():  # also inside a backward pass, where grad mode is off
        total = sum(
            (g.conj() * o).real.sum() if o.is_complex() else (g * o).sum()
            for o, g in zip(outputs, cotangents)
        )
    return torch.autograd.grad(total, inputs, **kwargs)
