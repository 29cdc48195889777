"""Gradients by replaying recorded steps: the machinery of `Checkpointed` and `Adjoint`.

The forward pass runs without an autograd graph and records every step (times only,
a few floats) plus the state at some steps (checkpoints). The backward pass walks the
checkpoint segments from last to first: each segment is replayed from its checkpoint
(the same steps, so the same numbers as the forward pass) and its vector–Jacobian
product carries the adjoint state `λ = ∂loss/∂y` back to the segment start while the
parameter gradients accumulate. The incoming gradients of every saved output enter at
their save times. Nothing is integrated backwards in time, so dissipative dynamics
stay stable: the adjoint contracts where the state decays.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .._autograd import vjp_grad
from .base import AbstractGradient, Problem

__all__ = ["AbstractReplayGradient", "Segment"]


class Segment:
    """Records `lo` to `hi - 1` of the forward pass, starting from the state `y`."""

    __slots__ = ("hi", "lo", "y")

    def __init__(self, lo: int, y: torch.Tensor):
        self.lo, self.hi, self.y = lo, lo, y


class AbstractReplayGradient(AbstractGradient):
    """Shared code of the gradient modes that replay checkpointed segments.

    Subclasses choose where checkpoints go (`new_segment`, which may also merge
    segments) and how a segment's vector–Jacobian product is taken (`segment_vjp`).
    """

    def new_segment(self, segments: list[Segment], index: int) -> bool:
        """Whether step `index` starts a new segment (`segments` is never empty)."""
        raise NotImplementedError

    def segment_vjp(self, problem, records, y_start, lam, cotangents, params):
        """Return `(λ at the segment start, parameter gradients)` of one segment."""
        raise NotImplementedError

    def solve(self, problem: Problem):
        """Integrate without a graph; gradients come from replaying segments."""
        if problem.tsave.requires_grad:
            raise ValueError(
                f"Gradients with respect to `tsave` need `gradient=Direct()`, not {self!r}."
            )
        params = independent(p for p in problem.params if p.requires_grad)
        stats: dict = {}
        out = _ReplayFunction.apply(self, problem, stats, problem.y0, *params)
        return tuple(out[:-1]), out[-1], stats

    def _forward(self, problem: Problem):
        records: list = []
        segments: list[Segment] = []

        def recorder(record, y):
            if not segments or self.new_segment(segments, len(records)):
                segments.append(Segment(len(records), y))
            records.append(record)
            segments[-1].hi = len(records)

        saved, y_final, stats = problem.run(recorder=recorder)
        return saved, y_final, stats, records, segments

    def _backward(self, problem, records, segments, params, grads_out, g_final, y_final):
        lam = torch.zeros_like(y_final) if g_final is None else g_final
        pgrads = [torch.zeros_like(p) for p in params]
        for seg in reversed(segments):
            recs = records[seg.lo : seg.hi]
            cot = _cotangents(grads_out, [i for r in recs for i in r.save_indices])
            lam, grads = self.segment_vjp(problem, recs, seg.y, lam, cot, params)
            _accumulate(pgrads, grads)
        if problem.saves_at_t0:
            lam, grads = vjp(
                lambda y: ([], y),
                problem,
                problem.y0,
                lam,
                _cotangents(grads_out, [0]),
                params,
                first_save=True,
            )
            _accumulate(pgrads, grads)
        return lam, pgrads


def vjp(fn, problem, y_start, lam, cotangents, params, first_save=False):
    """Vector–Jacobian product of `y_start ↦ (saved outputs, y_end) = fn(y)`.

    `cotangents[i][k]` is the incoming gradient of output `k` at the `i`-th save time
    inside `fn` (or `None`); `lam` that of the end state.
    """
    with torch.enable_grad():
        y = y_start.detach().requires_grad_()
        saved, y_end = fn(y)
        if first_save:
            saved = [problem.save(y)]
        outs, cots = [y_end], [lam]
        for outputs, grads in zip(saved, cotangents):
            for o, g in zip(outputs, grads):
                if g is not None and o.requires_grad:
                    outs.append(o)
                    cots.append(g)
        grads = vjp_grad(outs, (y, *params), cots, allow_unused=True, retain_graph=True)
    g_y = grads[0] if grads[0] is not None else torch.zeros_like(y)
    return g_y, grads[1:]


def _cotangents(grads_out: Sequence[torch.Tensor | None], indices) -> list[list]:
    return [[None if g is None else g[i] for g in grads_out] for i in indices]


def _accumulate(total: list[torch.Tensor], grads) -> None:
    for i, g in enumerate(grads):
        if g is not None:
            total[i] = total[i] + g


def independent(params) -> tuple[torch.Tensor, ...]:
    """The tensors of `params` (once each) that have no other one among their ancestors.

    The replaying backward pass differentiates with respect to these tensors through
    the whole graph, including the graph that built the others from them; returning
    a gradient for a descendant too would count that path twice.
    """
    unique = list({id(p): p for p in params}.values())
    nodes = {}
    for p in unique:
        node = p.grad_fn if p.grad_fn is not None else _accumulator(p)
        if node is not None:
            nodes[node] = p
    return tuple(p for p in unique if not _has_ancestor_in(p, nodes))


def _accumulator(p: torch.Tensor):
    """The AccumulateGrad node of a leaf (what the graph of its descendants points to)."""
    return p.view_as(p).grad_fn.next_functions[0][0] if p.requires_grad else None


def _has_ancestor_in(p: torch.Tensor, nodes: dict, limit: int = 100_000) -> bool:
    start = p.grad_fn
    if start is None:
        return False
    seen, stack = {start}, [start]
    while stack and len(seen) < limit:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None or nxt in seen:
                continue
            if nxt in nodes and nodes[nxt] is not p:
                return True
            seen.add(nxt)
            stack.append(nxt)
    return False


class _ReplayFunction(torch.autograd.Function):
    """`(y0, *params) ↦ (*saved outputs, y_final)` with a replaying backward pass."""

    @staticmethod
    def forward(ctx, mode, problem, stats, y0, *params):
        saved, y_final, st, records, segments = mode._forward(problem)
        stats.update(st)
        ctx.mode, ctx.problem, ctx.records, ctx.segments = mode, problem, records, segments
        ctx.params = params
        ctx.save_for_backward(y_final)
        nout = len(saved[0]) if saved else 0
        ctx.nout = nout
        return (*(torch.stack(out) for out in zip(*saved)), y_final)

    @staticmethod
    def backward(ctx, *grads):
        if torch.is_grad_enabled():
            raise RuntimeError(
                f"Second derivatives (create_graph=True) need gradient=Direct(), not {ctx.mode!r}."
            )
        (y_final,) = ctx.saved_tensors
        grads_out, g_final = grads[: ctx.nout], grads[ctx.nout]
        lam, pgrads = ctx.mode._backward(
            ctx.problem, ctx.records, ctx.segments, ctx.params, grads_out, g_final, y_final
        )
        return (None, None, None, lam, *pgrads)
