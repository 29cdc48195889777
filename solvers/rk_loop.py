"""The explicit Runge–Kutta loop: fixed and adaptive stepping, dense output at `tsave`.

One loop serves every tableau. Steps end exactly on the caller's discontinuities
(stage times there are taken just before the jump, so a right-continuous
piecewise-constant term is seen from the left); the first-same-as-last stage is
reused except across a discontinuity. A batch shares one step size: the error is the
largest RMS error over the batch. The only host–device synchronisation per step is
the accept/reject decision.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from ._autograd import vjp_grad
from .compiled import compiled_step, host_dense_weights
from .compiled_loop import compiled_loop
from .controllers import PIController, initial_step, modulus, rms
from .errors import SolverError
from .fused import _stage_ops, fused_step, step_vjp, wants_fused
from .stages import ListStages
from .terms import sum_to

__all__ = ["RKRecord", "rk_loop", "rk_replay", "rk_replay_vjp"]

_MAX_NONFINITE = 24  # steps rejected for a non-finite state before giving up


class _Stepper:
    """One Runge–Kutta step of a tableau on a term, with its stages in a store."""

    def __init__(self, tableau, term, compiled=None):
        self.tab = tableau
        self.term = term
        self.compiled = compiled  # a `CompiledStep`, or None: eager steps
        self.err = None  # error norm of the last compiled step (0-d tensor)
        self.nfev = 0
        self.stages = None
        self.inputs: list[torch.Tensor] = []  # stage inputs of the last step
        self.dense_weights = None  # (m, S) weights of the last dense output
        self.k_last = None  # last stage of the last step (carries autograd in fused steps)
        self.abs_y1 = None  # (y1, |y1|) of the last step, reused as |y| of the next one
        self.tq_host: list[float] = []  # save times inside the next step (compiled steps)

    def f(self, t: float, y: torch.Tensor) -> torch.Tensor:
        self.nfev += 1
        return self.term.vf(t, y)

    def step(self, t: float, h: float, t_lim: float, y, k0, tq, known=None):
        """Return `(y1, dense output at tq or None)` of a step of size `h` from `(t, y)`.

        `known`: the stage values, if an earlier pass computed them; a fused step (or one
        without autograd) uses them instead of evaluating the term again.
        """
        if self.compiled is not None and known is None:
            return self.step_compiled(t, h, y, k0, tq)
        if wants_fused(self.term, tq):
            return fused_step(self, t, h, t_lim, y, k0, tq, known)
        # A recorded step must evaluate its stages for autograd to see them.
        reuse = known is not None and not torch.is_grad_enabled()
        out = self.step_plain(t, h, t_lim, y, k0, tq, (lambda s, u: known[s]) if reuse else None)
        self.k_last = self.stages.get(self.tab.stages - 1)
        return out

    def step_plain(self, t, h, t_lim, y, k0, tq, evaluate=None):
        """The step with its operations recorded as they happen (`evaluate(s, u)`: stage `s`)."""
        tab = self.tab
        if self.stages is None:
            self.stages = ListStages(tab)
        st = self.stages
        st.set(0, k0)
        self.inputs = [y]
        y1 = None

        def stage(s: int, u: torch.Tensor) -> torch.Tensor:
            self.inputs.append(u)
            if evaluate is None:
                return self.f(min(t + (*tab.c, *tab.c_extra)[s] * h, t_lim), u)
            self.nfev += 1
            return evaluate(s, u)

        for i in range(1, tab.stages):
            yi = st.combine(y, tab.a[i], h)
            st.set(i, stage(i, yi))
            if tab.fsal and i == tab.stages - 1:
                y1 = yi
        y1 = st.combine(y, tab.b, h) if y1 is None else y1
        if tq is None:
            return y1, None
        for r, row in enumerate(tab.a_extra):
            st.set(tab.stages + r, stage(tab.stages + r, st.combine(y, row, h)))
        self.dense_weights = _dense_weights(tab, t, h, tq)
        return y1, st.dense(y, self.dense_weights)

    def step_compiled(self, t, h, y, k0, tq):
        """The step by the compiled function (no autograd graph, a constant term)."""
        tab = self.tab
        extra = tq is not None and bool(tab.a_extra)
        y1, self.k_last, self.err = self.compiled(y, k0, h, extra)
        self.nfev += tab.stages - 1 + (len(tab.a_extra) if extra else 0)
        self.abs_y1 = None
        if tq is None:
            return y1, None
        return y1, self.compiled.dense(y, host_dense_weights(tab, t, h, self.tq_host))

    def error(self, h: float, y: torch.Tensor, y1: torch.Tensor, method, event_ndim: int) -> float:
        """Return the largest error norm over the batch (1 is the tolerance)."""
        if self.err is not None:  # computed by the compiled step
            err, self.err = self.err, None
            return float(err)
        with torch.no_grad():
            return self._error(h, y, y1, method, event_ndim)

    def _error(self, h: float, y: torch.Tensor, y1: torch.Tensor, method, event_ndim: int) -> float:
        tab, st = self.tab, self.stages
        hit = self.abs_y1 is not None and self.abs_y1[0] is y
        abs_y = self.abs_y1 if hit else (y, modulus(y))
        self.abs_y1 = (y1, modulus(y1))
        scale = torch.maximum(abs_y[1], self.abs_y1[1]).mul_(method.rtol).add_(method.atol)
        e = rms(st.combine(None, tab.b_err, 1.0), event_ndim, scale)
        if tab.b_err_low is None:
            err = abs(h) * e
        else:  # DOP853's combination of its order-5 and order-3 estimates
            e3 = rms(st.combine(None, tab.b_err_low, 1.0), event_ndim, scale)
            denom = torch.sqrt(e**2 + 0.01 * e3**2)
            err = abs(h) * e**2 / torch.where(denom > 0, denom, torch.ones_like(denom))
        return float(err.max())


def _dense_weights(tab, t: float, h: float, tq: torch.Tensor) -> torch.Tensor:
    """Weights `(m, S)` of the stages in the dense output at the times `tq` of a step."""
    P = tab.tensor("dense", tq.dtype, tq.device)  # (S, p)
    theta = ((tq - t) / h).unsqueeze(-1)  # (m, 1)
    powers = theta ** torch.arange(1, P.shape[1] + 1, device=tq.device, dtype=tq.dtype)
    return (powers @ P.mT) * h


class RKRecord(NamedTuple):
    """One accepted step, enough to replay it exactly.

    The step goes from `t` to `t1`, with stage times clipped to `t_lim`, and holds the
    save times of indices `lo` to `hi - 1`.
    """

    t: float
    t1: float
    t_lim: float
    lo: int
    hi: int
    reuse: bool  # the last stage is a valid first stage of the next step (FSAL)

    @property
    def save_indices(self) -> range:
        """Indices of the save times inside the step."""
        return range(self.lo, self.hi)


def _dense_range(rec_lo: int, hi: int, ts: list[float], t1: float, exact_end: bool) -> int:
    """End of the save indices served by dense output (the last may be the step's end)."""
    return hi - 1 if hi > rec_lo and exact_end and ts[hi - 1] == t1 else hi


def _saves(rec: RKRecord, dense, y1, ts: list[float], save, exact_end: bool):
    """Return the save outputs of the save times inside the step `rec`."""
    mid = _dense_range(rec.lo, rec.hi, ts, rec.t1, exact_end)
    out = [save(dense[i]) for i in range(mid - rec.lo)]
    if mid < rec.hi:
        out.append(save(y1))
    return out


def rk_loop(
    method, term, y0, tsave, t0, discontinuities, save, event_ndim, progress, recorder=None
):
    """Integrate `term` with the Runge–Kutta `method` and save at `tsave` (see module doc).

    `recorder(record, y)`, if given, is called with every accepted step and the state
    at its start, so that a gradient mode can keep checkpoints and replay steps.
    """
    recorded = y0.requires_grad or tsave.requires_grad
    stepper = _Stepper(method.tableau, term, compiled_step(method, term, y0, event_ndim, recorded))
    ts = tsave.detach().cpu().tolist()
    tq_all = tsave.to(dtype=_real_dtype(y0), device=y0.device)
    exact_end = not tsave.requires_grad
    tend = ts[-1]
    stops = [*sorted({d for d in discontinuities if t0 < d < tend}), tend]
    jumps = {d for d in discontinuities if t0 < d <= tend}
    saved = [save(y0)] if ts[0] == t0 else []
    i_save = len(saved)
    t, y = t0, y0
    k0 = stepper.f(t, y) if i_save < len(ts) else None
    if k0 is not None and saved and tsave.requires_grad:
        # The integration starts at tsave[0]: moving it moves the start. The state
        # integrated is y0 + (t0 - tsave[0]) f(t0, y0), equal to y0 but with the
        # derivative -f(t0, y0) with respect to tsave[0] (first order, exact).
        y = y0 + (t0 - tq_all[0]) * k0
        k0 = stepper.f(t, y)
    controller = PIController(method) if method.adaptive else None
    h = method.dt
    if controller is not None and i_save < len(ts):
        h = initial_step(stepper, method, t, y, k0, stops[0], event_ndim)
    steps = rejected = nonfinite = 0
    bar = tqdm(total=tend - t0, disable=not progress, unit="t", leave=False)
    loop = compiled_loop(method, stepper.compiled, y0, recorder, stops[:-1])
    if loop is not None and exact_end and i_save < len(ts):
        out = loop.integrate(t, y, k0, h, ts, i_save, save, bar)
        if out is not None:  # else not compilable: step by step below
            more, y, stats = out
            bar.close()
            return saved + more, y, {**stats, "nfev": stats["nfev"] + stepper.nfev}
    while i_save < len(ts):
        t_stop = stops[0]
        hits = t + h >= t_stop - 1e-12 * max(1.0, abs(t_stop))
        t1 = t_stop if hits else t + h
        t_lim = math.nextafter(t_stop, -math.inf) if t_stop in jumps else t_stop
        steps += 1
        if steps > method.max_steps:
            raise SolverError(
                t, f"reached `max_steps` = {method.max_steps} of {type(method).__name__}"
            )
        j = i_save
        while j < len(ts) and ts[j] <= t1:
            j += 1
        mid = _dense_range(i_save, j, ts, t1, exact_end)
        stepper.tq_host = ts[i_save:mid]
        y1, dense = stepper.step(
            t, t1 - t, t_lim, y, k0, tq_all[i_save:mid] if mid > i_save else None
        )
        if controller is not None:
            err = stepper.error(t1 - t, y, y1, method, event_ndim)
            accepted, h = controller.update(err, t1 - t)
            nonfinite += not math.isfinite(err)
            if nonfinite > _MAX_NONFINITE or not h >= 16 * math.ulp(max(1.0, abs(t))):
                cause = (
                    "the state is not finite"
                    if not math.isfinite(err)
                    else "the step size underflowed"
                )
                raise SolverError(t, f"{cause} (h = {h:.3g}, error {err:.3g})")
            if not accepted:
                rejected += 1
                continue
        rec = RKRecord(
            t, t1, t_lim, i_save, j, method.tableau.fsal and not (hits and len(stops) > 1)
        )
        if recorder is not None:
            recorder(rec, y)
        if j > i_save:
            if controller is None and not bool(torch.isfinite(y1).all()):
                raise SolverError(t1, "the state is not finite")
            saved.extend(_saves(rec, dense, y1, ts, save, exact_end))
            i_save = j
        bar.update(t1 - t)
        t, y = t1, y1
        if hits:
            stops.pop(0)
        if i_save < len(ts):
            k0 = stepper.k_last if rec.reuse else stepper.f(t, y)
        if controller is None:
            h = method.dt
    bar.close()
    if controller is None and not bool(torch.isfinite(y).all()):
        raise SolverError(t, "the state is not finite")
    return saved, y, {"steps": steps - rejected, "rejected": rejected, "nfev": stepper.nfev}


def rk_replay(method, term, records, y, tsave, save, stages: dict | None = None):
    """Replay recorded steps from `y`; return the save outputs inside them and the end state.

    `stages`, if given, maps records to their stage values: a record found there is
    replayed from them without evaluating the term (its stage inputs are recombined);
    the others are evaluated and their stage values stored in it.
    """
    stepper = _Stepper(method.tableau, term)
    ts = tsave.detach().cpu().tolist()
    tq_all = tsave.to(dtype=_real_dtype(y), device=y.device)
    exact_end = not tsave.requires_grad
    saved = []
    k0 = None
    for rec in records:
        k0 = stepper.f(rec.t, y) if k0 is None else k0
        mid = _dense_range(rec.lo, rec.hi, ts, rec.t1, exact_end)
        tq = tq_all[rec.lo : mid] if mid > rec.lo else None
        known = None if stages is None else stages.get(rec)
        y1, dense = stepper.step(rec.t, rec.t1 - rec.t, rec.t_lim, y, k0, tq, known)
        if stages is not None and known is None:
            stages[rec] = list(stepper.stages.ks)
        saved.extend(_saves(rec, dense, y1, ts, save, exact_end))
        k0 = stepper.k_last if rec.reuse else None
        y = y1
    return saved, y


def _real_dtype(y: torch.Tensor) -> torch.dtype:
    return y.real.dtype if y.is_complex() else y.dtype


def rk_replay_vjp(method, term, records, y, tsave, save, lam, cotangents, params):
    """Carry the adjoint state back through recorded steps by their analytic discrete adjoint.

    For terms with their own `vjp` (`term.has_vjp`). The steps are recomputed from `y`
    without autograd, keeping their stage inputs; the adjoint then walks them backwards
    with `step_vjp`, so no step is recorded by autograd. The cotangents of the term's
    operators are summed per distinct time and sent to `params` by one autograd call;
    only the saved outputs (through `save`) are differentiated by autograd.

    `cotangents[i][k]` is the incoming gradient of output `k` at the `i`-th save time
    inside the steps (or `None`), `lam` that of the end state. Returns the adjoint at
    `y` and the gradients of `params` (`None` where unused).
    """
    tab = method.tableau
    stepper = _Stepper(tab, term)
    ts = tsave.detach().cpu().tolist()
    tq_all = tsave.to(dtype=_real_dtype(y), device=y.device)
    exact_end = not tsave.requires_grad
    cache: dict = {}  # key (time, or 0 if constant) -> the term's ops, with their graph
    steps = []
    k0 = None
    with torch.enable_grad():  # the operators keep their graph to the parameters
        for rec in records:
            h = rec.t1 - rec.t
            key0 = None
            if k0 is None:
                key0 = 0 if term.is_constant else rec.t
                if key0 not in cache:
                    cache[key0] = term.ops(rec.t)
                with torch.no_grad():
                    k0 = term.apply(cache[key0], y)
            mid = _dense_range(rec.lo, rec.hi, ts, rec.t1, exact_end)
            tq = tq_all[rec.lo : mid] if mid > rec.lo else None
            nstages = tab.stages + (len(tab.a_extra) if tq is not None else 0)
            distinct, index, keys = _stage_ops(stepper, rec.t, h, rec.t_lim, nstages, cache)
            with torch.no_grad():
                evaluate = lambda s, u, d=distinct, i=index: term.apply(d[i[s]], u)  # noqa: E731
                y1, dense = stepper.step_plain(rec.t, h, rec.t_lim, y, k0, tq, evaluate)
            steps.append((rec, h, y, y1, dense, mid, stepper.inputs, stepper.dense_weights))
            steps[-1] += (distinct, index, keys, key0)
            k0 = stepper.stages.get(tab.stages - 1) if rec.reuse else None
            y = y1
    gops: dict = {}
    pgrads = [None] * len(params)
    g_k = None
    k = len(cotangents)
    for rec, h, y, y1, dense, mid, inputs, weights, distinct, index, keys, key0 in reversed(steps):
        n = len(rec.save_indices)
        cot, k = cotangents[k - n : k], k - n
        g_y1, g_dense = lam, None
        if any(g is not None for c in cot for g in c):
            xs = [*(dense[i] for i in range(mid - rec.lo)), *([y1] if mid < rec.hi else [])]
            gxs, gp = _save_vjp(save, xs, cot, params)
            _add_into(pgrads, gp)
            if mid < rec.hi and gxs[-1] is not None:
                g_y1 = g_y1 + gxs[-1]
            if mid > rec.lo:
                g_dense = torch.stack(
                    [torch.zeros_like(y1) if g is None else g for g in gxs[: mid - rec.lo]]
                )
        need = [tuple(x.requires_grad for x in ops) for ops in distinct]
        ybar, k0bar, g = step_vjp(
            tab, term, h, inputs, index, distinct, need, weights, g_y1, g_k, g_dense, y
        )
        for key, gk in zip(keys, g):
            _add_ops(gops, key, gk)
        if key0 is not None:
            ops0 = cache[key0]
            ubar, gk = term.vjp(ops0, y, k0bar, tuple(x.requires_grad for x in ops0))
            ybar = ybar.add(ubar)
            _add_ops(gops, key0, gk)
            g_k = None
        else:
            g_k = k0bar
        lam = sum_to(ybar, y.shape)
    outs, cots = [], []
    for key, gk in gops.items():
        for x, gx in zip(cache[key], gk):
            if gx is not None and x.requires_grad:
                outs.append(x)
                cots.append(sum_to(gx, x.shape))
    if outs and params:
        grads = vjp_grad(outs, params, cots, allow_unused=True, retain_graph=True)
        _add_into(pgrads, grads)
    return lam, pgrads


def _save_vjp(save, xs, cotangents, params):
    """Vector–Jacobian products of `save` at the states `xs` (and with respect to `params`)."""
    with torch.enable_grad():
        xs = [x.detach().requires_grad_() for x in xs]
        outs, cots = [], []
        for x, grads in zip(xs, cotangents):
            for o, g in zip(save(x), grads):
                if g is not None and o.requires_grad:
                    outs.append(o)
                    cots.append(g)
        if not outs:
            return [None] * len(xs), [None] * len(params)
        grads = vjp_grad(outs, (*xs, *params), cots, allow_unused=True, retain_graph=True)
    return list(grads[: len(xs)]), list(grads[len(xs) :])


def _add_ops(gops: dict, key, grads) -> None:
    """Sum the cotangents `grads` of the operators at `key` into `gops[key]`."""
    if key not in gops:
        gops[key] = list(grads)
        return
    row = gops[key]
    for i, g in enumerate(grads):
        if g is not None:
            row[i] = g if row[i] is None else row[i] + g


def _add_into(total: list, grads) -> None:
    for i, g in enumerate(grads):
        if g is not None:
            total[i] = g if total[i] is None else total[i] + g
