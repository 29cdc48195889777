"""One autograd node per Runge–Kutta step, for terms that supply their own vector–Jacobian product.

Recording a step operation by operation costs dozens of autograd nodes and saved
tensors. When the term implements `ops`/`apply`/`vjp` (see `AbstractTerm`), the whole
step — its stages, its new state, its last stage (reused by the next step) and its
dense output at the save times inside it — is one `torch.autograd.Function`. Its
backward pass walks the stages in reverse, calling the term's `vjp` once per stage:
the discrete adjoint of the step, exactly the gradient that recording would give.
The backward pass is written with differentiable operations; for second derivatives
(`create_graph=True`) it recomputes the stage inputs with autograd recording, so that
the gradient it returns depends on the step's inputs as it should.
"""

from __future__ import annotations

import torch

from .terms import sum_to

__all__ = ["fused_step", "wants_fused"]


def wants_fused(term, tq: torch.Tensor | None) -> bool:
    """Whether a step should be one autograd node (see module doc)."""
    return term.has_vjp and torch.is_grad_enabled() and (tq is None or not tq.requires_grad)


def _stage_ops(stepper, t: float, h: float, t_lim: float, nstages: int):
    """Distinct `ops` tuples of the stages `1..nstages-1` and each stage's index into them."""
    tab, term = stepper.tab, stepper.term
    times = [min(t + c * h, t_lim) for c in (*tab.c, *tab.c_extra)[:nstages]]
    keys, distinct, index = {}, [], [None]
    for ts in times[1:]:
        key = 0 if term.is_constant else ts
        if key not in keys:
            keys[key] = len(distinct)
            distinct.append(term.ops(ts))
        index.append(keys[key])
    return distinct, index


def fused_step(stepper, t, h, t_lim, y, k0, tq, known=None):
    """Run one step as one autograd node; return `(y1, dense)` and keep the last stage.

    Without anything that requires grad the step runs plainly, on the same operators.
    """
    tab = stepper.tab
    nstages = tab.stages + (len(tab.a_extra) if tq is not None else 0)
    distinct, index = _stage_ops(stepper, t, h, t_lim, nstages)
    flat = [x for ops in distinct for x in ops]
    if known is not None:
        evaluate = lambda s, u: known[s]  # noqa: E731
    else:
        evaluate = lambda s, u: stepper.term.apply(distinct[index[s]], u)  # noqa: E731
    if not (y.requires_grad or k0.requires_grad or any(x.requires_grad for x in flat)):
        out = stepper.step_plain(t, h, t_lim, y, k0, tq, evaluate=evaluate)
        stepper.k_last = stepper.stages.get(tab.stages - 1)
        return out
    sizes = [len(ops) for ops in distinct]
    outs = _FusedStep.apply(stepper, (t, h, t_lim, index, sizes), evaluate, tq, y, k0, *flat)
    y1, k_last = outs[0], outs[1]
    stepper.k_last = k_last
    return y1, (outs[2] if tq is not None else None)


def _split(flat, sizes):
    out, i = [], 0
    for n in sizes:
        out.append(tuple(flat[i : i + n]))
        i += n
    return out


class _FusedStep(torch.autograd.Function):
    @staticmethod
    def forward(ctx, stepper, geometry, evaluate, tq, y, k0, *flat):
        t, h, t_lim = geometry[:3]
        term = stepper.term
        y1, dense = stepper.step_plain(t, h, t_lim, y, k0, tq, evaluate=evaluate)
        # Not the stepper itself: it holds this node's output (`k_last`), and the
        # reference cycle would keep every step's graph alive.
        ctx.tab, ctx.term, ctx.stepper_cls, ctx.geometry = (
            stepper.tab,
            term,
            type(stepper),
            geometry,
        )
        ctx.inputs = [u.detach() for u in stepper.inputs]  # detached: y1 is among them
        ctx.weights = stepper.dense_weights
        ctx.save_for_backward(tq, y, k0, *flat)
        k_last = stepper.stages.get(stepper.tab.stages - 1)
        return (y1, k_last) if dense is None else (y1, k_last, dense)

    @staticmethod
    def backward(ctx, g_y1, g_k, g_dense=None):
        tq, y, k0, *flat = ctx.saved_tensors
        tab, term, (t, h, t_lim, index, sizes) = ctx.tab, ctx.term, ctx.geometry
        distinct = _split(flat, sizes)
        inputs = ctx.inputs
        if torch.is_grad_enabled():
            # create_graph=True: the stage inputs must carry their dependence on
            # (y, k0, ops), so recompute them with autograd recording.
            fresh = ctx.stepper_cls(tab, term)
            fresh.step_plain(
                t, h, t_lim, y, k0, tq, evaluate=lambda s, u: term.apply(distinct[index[s]], u)
            )
            inputs = fresh.inputs
        rows = (*tab.a, *tab.a_extra)
        nstages = len(inputs)
        kbar = [None] * nstages

        def add(i, x, alpha=1.0):  # kbar[i] += alpha * x, one operation
            kbar[i] = (
                (x if alpha == 1.0 else x * alpha)
                if kbar[i] is None
                else kbar[i].add(x, alpha=alpha)
            )

        ybar = torch.zeros_like(y) if g_y1 is None else g_y1.clone()
        if g_y1 is not None:
            for s, b in enumerate(tab.b):
                if b != 0.0:
                    add(s, g_y1, h * b)
        if g_k is not None:
            add(tab.stages - 1, g_k)
        if g_dense is not None:
            ybar = ybar + g_dense.sum(0)
            w = ctx.weights.to(g_dense.dtype)  # (m, S)
            for s in range(w.shape[1]):
                add(s, torch.tensordot(w[:, s], g_dense, dims=1))
        need = [tuple(x.requires_grad for x in ops) for ops in distinct]
        gops = [[None] * n for n in sizes]
        for s in range(nstages - 1, 0, -1):
            if kbar[s] is None:
                continue
            d = index[s]
            ubar, g = term.vjp(distinct[d], inputs[s], kbar[s], need[d])
            for i, gi in enumerate(g):
                if gi is not None:
                    gops[d][i] = gi if gops[d][i] is None else gops[d][i] + gi
            ybar = ybar.add(ubar)
            for j, a in enumerate(rows[s]):
                if a != 0.0:
                    add(j, ubar, h * a)
        k0bar = kbar[0]
        flat_grads = [g for row in gops for g in row]
        return (None, None, None, None, sum_to(ybar, y.shape), sum_to(k0bar, k0.shape), *flat_grads)
