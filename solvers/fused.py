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

__all__ = ["fused_step", "step_vjp", "wants_fused"]


def wants_fused(term, tq: torch.Tensor | None) -> bool:
    """Whether a step should be one autograd node (see module doc)."""
    return term.has_vjp and torch.is_grad_enabled() and (tq is None or not tq.requires_grad)


def _stage_ops(stepper, t: float, h: float, t_lim: float, nstages: int, cache=None):
    """Distinct `ops` tuples of the stages `1..nstages-1` and each stage's index into them.

    With `cache` (a dict), the tuples are looked up and stored there by key (the time,
    or 0 for a constant term), and the keys of the distinct tuples are returned too.
    """
    tab, term = stepper.tab, stepper.term
    times = [min(t + c * h, t_lim) for c in (*tab.c, *tab.c_extra)[:nstages]]
    keys, distinct, index = {}, [], [None]
    for ts in times[1:]:
        key = 0 if term.is_constant else ts
        if key not in keys:
            keys[key] = len(distinct)
            if cache is None:
                distinct.append(term.ops(ts))
            else:
                if key not in cache:
                    cache[key] = term.ops(ts)
                distinct.append(cache[key])
        index.append(keys[key])
    return (distinct, index) if cache is None else (distinct, index, list(keys))


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
        need = [tuple(x.requires_grad for x in ops) for ops in distinct]
        ybar, k0bar, gops = step_vjp(
            tab, term, h, inputs, index, distinct, need, ctx.weights, g_y1, g_k, g_dense, y
        )
        flat_grads = [g for row in gops for g in row]
        return (None, None, None, None, sum_to(ybar, y.shape), sum_to(k0bar, k0.shape), *flat_grads)


def step_vjp(tab, term, h, inputs, index, distinct, need, weights, g_y1, g_k, g_dense, y):
    """The discrete adjoint of one Runge–Kutta step, stage by stage.

    Stage `s >= 1` of the step evaluated `term.apply(distinct[index[s]], inputs[s])`.

    Args:
        tab: The tableau.
        term: The term (with `vjp`).
        h: The step size.
        inputs: The stage inputs `u_s` of the step (`inputs[0]` is `y`).
        index: The index into `distinct` of each stage (`None` for stage 0).
        distinct: The distinct `ops` tuples of the stages.
        need: For each tuple of `distinct`, which of its tensors need a gradient.
        weights: The dense-output weights `(m, S)` if `g_dense` is given.
        g_y1: Cotangent of the new state, or `None`.
        g_k: Cotangent of the last stage (reused as the next step's first), or `None`.
        g_dense: Cotangent of the dense outputs `(m, *y.shape)`, or `None`.
        y: The step's initial state (for its shape and dtype).

    Returns:
        `(ybar, k0bar, gops)`: the cotangents of `y`, of the first stage `k0`, and of
        each tensor of `distinct` (a list of lists, `None` where not needed).
    """
    rows = (*tab.a, *tab.a_extra)
    nstages = len(inputs)
    kbar = [None] * nstages

    # Without a graph to record (the usual backward pass) the sums are taken in place,
    # on tensors this function created.
    inplace = not torch.is_grad_enabled()

    def add(i, x, alpha=1.0):  # kbar[i] += alpha * x, one operation
        if kbar[i] is None:
            kbar[i] = x * alpha if inplace or alpha != 1.0 else x
        elif inplace:
            kbar[i].add_(x, alpha=alpha)
        else:
            kbar[i] = kbar[i].add(x, alpha=alpha)

    ybar = torch.zeros_like(y) if g_y1 is None else g_y1.clone()
    if g_y1 is not None:
        for s, b in enumerate(tab.b):
            if b != 0.0:
                add(s, g_y1, h * b)
    if g_k is not None:
        add(tab.stages - 1, g_k)
    if g_dense is not None:
        ybar = ybar + g_dense.sum(0)
        w = weights.to(g_dense.dtype)  # (m, S)
        for s in range(w.shape[1]):
            add(s, torch.tensordot(w[:, s], g_dense, dims=1))
    gops = [[None] * len(ops) for ops in distinct]
    for s in range(nstages - 1, 0, -1):
        if kbar[s] is None:
            continue
        d = index[s]
        ubar, g = term.vjp(distinct[d], inputs[s], kbar[s], need[d])
        for i, gi in enumerate(g):
            if gi is not None:
                gops[d][i] = gi if gops[d][i] is None else gops[d][i].add(gi)
        ybar = ybar.add_(ubar) if inplace else ybar.add(ubar)
        for j, a in enumerate(rows[s]):
            if a != 0.0:
                add(j, ubar, h * a)
    return ybar, kbar[0], gops
