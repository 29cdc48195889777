"""A compiled step loop: many Runge–Kutta steps per call, step-size control inside.

A compiled step (`compiled.CompiledStep`) returns to Python after every step: the
accept/reject decision, the controller, the dense output and the bookkeeping cost
100–150 µs per step here, as much as the generated code of the step of a small
system. A compiled loop traces the step, the PI controller and the dense output at
the save times into one `while_loop` (a higher-order operation that TorchInductor
compiles to a loop in its C++ wrapper), and returns to Python once per window of
save times.

Each call gets a window of `W` save times (the last window is padded with the end
time) and runs until the window is filled, the solve fails (a status code says how),
or `max_steps` attempts are made. Two nested loops: the inner one steps until an
accepted step reaches the next save time; the outer one then fills up to `_SLOTS`
save times inside that step by dense output and starts the inner one again. A step
holding more ends the call, and the caller fills the rest from the step's stages.
Steps without a save time touch neither the window nor the dense output (which cost
a quarter of a Kerr oscillator's time at n = 128 when every step paid for them). The
steps are those of the per-step loop: the same tableau, controller and end-time
rule, with times in double precision.

It serves traced compiled steps (`CompiledStep.traced`) of solves that record no
steps (no replaying gradient mode), have no discontinuities before the end, and use
a tableau without extra dense-output stages. The loop carries its window of saved
states, so it serves states of at most `_MAX_NUMEL` real numbers, where the Python
overhead it removes matters.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch

from .compiled import (
    CompiledStep,
    dense_matrix,
    host_dense_weights,
    pairs_of,
    planes,
    trace_and_compile,
)
from .errors import SolverError

__all__ = ["CompiledLoop", "compiled_loop"]

_SLOTS = 2  # save times filled per accepted step inside the loop
_MAX_NUMEL = 1 << 16  # largest state (real numbers) served by the loop
_MAX_NONFINITE = 24  # as the per-step loop: rejected non-finite steps before giving up
_LOOPS: OrderedDict = OrderedDict()  # key with input shapes -> compiled loop
_MAX_LOOPS = 32

# The scalars carried in and out of a call, as one float64 vector.
_T, _H, _ERR_PREV, _AFTER_REJECT, _STEPS, _REJECTED, _NONFINITE = range(7)
_STATUS, _ERR, _T_PREV, _DT, _FILLED, _CROSSED = range(7, 13)
_NSCALARS = 13
_NONFINITE_STATE, _UNDERFLOW = 1.0, 2.0  # status codes


def _window(numel: int) -> int:
    """Save times per call: at most 16, and a window of at most 2^14 real numbers."""
    return max(_SLOTS, min(16, (1 << 14) // max(numel, 1)))


def _make_loop(method, step, fn, static, window: int, pairs: bool):
    """The loop of `(v, tq, ends, y, k, P, *ops)`, returning `(v, y, k, y_prev, K, buf)`.

    `v`: the scalars (`_T`...); `tq`: the window of save times; `ends`: the end time,
    the time from which a step ends there, and `max_steps`; `P`: the dense-output
    polynomial coefficients (`S × p`). With `pairs`, the states come and go as real
    views `(..., 2)` and the loop works on their planes (`step` and `fn` take planes).
    """
    from torch._higher_order_ops.while_loop import while_loop_op

    tab = method.tableau
    S = tab.stages
    adaptive = method.adaptive
    if adaptive:
        order = tab.error_order + 1
        alpha, beta = 0.7 / order, 0.4 / order
        safety, min_f, max_f = method.safety, method.min_factor, method.max_factor

    def control(v, t, dt, err):
        """The PI controller of `controllers.PIController`, on tensors."""
        finite = torch.isfinite(err)
        acc = finite & (err <= 1.0)
        e = torch.where(finite & (err > 0), err, torch.ones_like(err))
        shrink = torch.where(finite, safety * e ** (-1.0 / order), min_f).clamp(min=min_f)
        grow = safety * e ** (-alpha) * v[_ERR_PREV] ** beta
        grow = torch.where(err == 0, max_f, grow).clamp(min_f, max_f)
        grow = torch.where(v[_AFTER_REJECT] > 0, grow.clamp(max=1.0), grow)
        h = dt * torch.where(acc, grow, shrink)
        nonfinite = v[_NONFINITE] + (~finite).double()
        one = torch.clamp(t.abs(), min=1.0)
        ulp = torch.nextafter(one, torch.full_like(one, math.inf)) - one
        fail = (nonfinite > _MAX_NONFINITE) | ~(h >= 16 * ulp)
        code = torch.where(finite, _UNDERFLOW, _NONFINITE_STATE)
        status = torch.where(fail, code, v[_STATUS])
        err_prev = torch.where(acc, err.clamp(min=1e-4), v[_ERR_PREV])
        return acc, h, err_prev, (~acc).double(), nonfinite, status

    def next_save(v, tq):
        """The save time the window waits for (the last one once it is full)."""
        return tq.index_select(0, v[_FILLED].clamp(max=window - 1).long().reshape(1))[0]

    def step_cond(v, y, k, y_prev, K, tq, ends, *ops):
        go = (v[_STATUS] == 0) & (v[_STEPS] < ends[2])
        return go & (v[_CROSSED] == 0)

    def step_body(v, y, k, y_prev, K, tq, ends, *ops):
        """One step attempt; `_CROSSED` once an accepted step reaches the next save time."""
        rdtype = y.dtype
        t_end, t_hit = ends[0], ends[1]
        t, h = v[_T], v[_H]
        t1 = torch.where(t + h >= t_hit, t_end, t + h)
        dt = t1 - t
        y1, K1, err = step(static, ops, y, k, dt.to(rdtype), adaptive, False)
        saves = (v[_FILLED] < window) & (next_save(v, tq) <= t1)
        if adaptive:
            err = err.double()
            acc, h, err_prev, after_reject, nonfinite, status = control(v, t, dt, err)
        else:
            err = torch.zeros_like(t)
            acc = torch.ones_like(t, dtype=torch.bool)
            err_prev, after_reject = v[_ERR_PREV], v[_AFTER_REJECT]
            nonfinite = v[_NONFINITE]
            # as the per-step loop: a fixed step that saves must end finite
            bad = saves & ~torch.isfinite(y1).all()
            status = torch.where(bad, _NONFINITE_STATE, v[_STATUS])
        k1 = K1[S - 1] if tab.fsal else fn(static, ops, y1)
        v = torch.stack(
            [
                torch.where(acc, t1, t),
                h,
                err_prev,
                after_reject,
                v[_STEPS] + 1,
                v[_REJECTED] + (~acc).double(),
                nonfinite,
                status,
                err,
                torch.where(acc, t, v[_T_PREV]),
                dt,
                v[_FILLED],
                (acc & saves).double(),
            ]
        )
        y_prev = torch.where(acc, y, y_prev)
        return v, torch.where(acc, y1, y), torch.where(acc, k1, k), y_prev, K1

    def cond(v, y, k, y_prev, K, buf, tq, ends, *rest):
        # `v[_DT] < 0`: the last step holds save times left to the caller
        go = (v[_STATUS] == 0) & (v[_FILLED] < window) & (v[_STEPS] < ends[2])
        return go & (v[_DT] >= 0)

    def body(v, y, k, y_prev, K, buf, tq, ends, P, arange, *ops):
        """Steps up to the next save time, then the save times inside the last step."""
        rdtype = P.dtype
        v = torch.cat([v[:_CROSSED], torch.zeros_like(v[_CROSSED:])])
        inner = (v, y, k, y_prev, K)
        v, y, k, y_prev, K = while_loop_op(step_cond, step_body, inner, (tq, ends, *ops))
        crossed = v[_CROSSED] > 0
        t, t1, dt = v[_T_PREV], v[_T], v[_DT]
        Kd = K[: P.shape[0]].reshape(P.shape[0], -1)
        j = v[_FILLED]
        for _ in range(_SLOTS):  # dense output at the save times inside the step
            index = j.clamp(max=window - 1).long().reshape(1)
            ts = tq.index_select(0, index)[0]
            inside = crossed & (j < window) & (ts <= t1)
            w = (P @ (((ts - t) / dt).to(rdtype) ** arange)) * dt.to(rdtype)
            value = torch.where(ts == t1, y, y_prev + (w @ Kd).view(y.shape))
            old = torch.ops.aten.index.Tensor(buf, [index])
            new = torch.where(inside, value.unsqueeze(0), old)
            buf = torch.ops.aten.index_put.default(buf, [index], new)
            j = j + inside.double()
        index = j.clamp(max=window - 1).long().reshape(1)
        more = crossed & (j < window) & (tq.index_select(0, index)[0] <= t1)
        v = torch.cat([v[:_DT], torch.where(more, -dt, dt).reshape(1), j.reshape(1), v[_CROSSED:]])
        return v, y, k, y_prev, K, buf

    def run(v, tq, ends, y, k, P, *ops):
        if pairs:
            y, k = planes(y).contiguous(), planes(k).contiguous()
        arange = torch.arange(1, P.shape[1] + 1, dtype=P.dtype, device=P.device)
        K = y.new_zeros((S, *y.shape))
        buf = y.new_zeros((window, *y.shape))
        carried = (v, y, k, y.clone(), K, buf)
        v, y, k, y_prev, K, buf = while_loop_op(cond, body, carried, (tq, ends, P, arange, *ops))
        if pairs:
            y, k, y_prev = pairs_of(y), pairs_of(k), pairs_of(y_prev)
            K, buf = pairs_of(K, 1), pairs_of(buf, 1)
        return v, y, k, y_prev, K, buf

    return run


class CompiledLoop:
    """Runs a solve in compiled calls of many steps each (see the module doc).

    Built from the `CompiledStep` of the solve, whose vector field, operators and
    settings it shares.
    """

    def __init__(self, method, compiled: CompiledStep, y0: torch.Tensor):
        self.method = method
        self.compiled = compiled
        self.tab = method.tableau
        self.window = _window(compiled._real(y0).numel())

    def _function(self, args: tuple):
        """The loop compiled for these inputs (`None` if it cannot be traced)."""
        cs = self.compiled
        m = self.method
        sig = tuple((x.shape, x.stride(), x.dtype, x.device) for x in args)
        control = (m.safety, m.min_factor, m.max_factor) if m.adaptive else ()
        key = (*cs.key, cs.static, m.adaptive, self.window, control, sig)
        if key not in _LOOPS:
            fn = cs.key[1]
            run = _make_loop(m, cs.make_planes(), fn, cs.static, self.window, cs.pairs)
            _LOOPS[key] = trace_and_compile(run, args, cs.key[6])
            while len(_LOOPS) > _MAX_LOOPS:
                _LOOPS.popitem(last=False)
        _LOOPS.move_to_end(key)
        return _LOOPS[key]

    def integrate(self, t: float, y, k0, h: float, ts: list[float], i_save: int, save, bar):
        """Step from `(t, y)` with first stage `k0` and step `h` through `ts[i_save:]`.

        Returns the save outputs, the final state and the statistics, or `None` if the
        loop cannot be compiled (nothing has been done then: the caller steps instead).
        """
        cs, tab, m = self.compiled, self.tab, self.method
        real = cs._real
        tend = ts[-1]
        dev = y.device
        rdtype = cs.h.dtype
        ends = torch.tensor(
            [tend, tend - 1e-12 * max(1.0, abs(tend)), m.max_steps],
            dtype=torch.float64,
        ).to(dev)
        P = torch.as_tensor(dense_matrix(tab), dtype=rdtype).to(dev)
        v = [0.0] * _NSCALARS
        v[_T], v[_H], v[_ERR_PREV] = t, h, 1.0
        yr, kr = real(y), real(k0)
        saved = []
        fn = None
        while i_save < len(ts):
            window = ts[i_save : i_save + self.window]
            tq = torch.tensor(window + [tend] * (self.window - len(window)), dtype=torch.float64)
            v[_FILLED] = v[_DT] = 0.0
            args = (torch.tensor(v, dtype=torch.float64).to(dev), tq.to(dev), ends, yr, kr, P)
            args += tuple(cs.ops)
            if fn is None:
                fn = self._function(args)
                if fn is None:
                    return None
            out, yr, kr, y_prev, K, buf = fn(*args)
            t_before = v[_T]
            v = out.tolist()
            filled = min(int(v[_FILLED]), len(window))
            saved.extend(_save_all(save, self._complex(buf[:filled])))
            i_save += filled
            if i_save < len(ts) and ts[i_save] <= v[_T]:  # left inside the last step
                saved.extend(self._fill(v, ts, i_save, y_prev, yr, K, save))
                i_save = _after(ts, i_save, v[_T])
            bar.update(v[_T] - t_before)
            self._check(v, yr, i_save < len(ts))
        steps, rejected = int(v[_STEPS]), int(v[_REJECTED])
        nfev = steps * (tab.stages - (1 if tab.fsal else 0))
        stats = {"steps": steps - rejected, "rejected": rejected, "nfev": nfev}
        return saved, self._complex(yr), stats

    def _complex(self, x: torch.Tensor) -> torch.Tensor:
        return torch.view_as_complex(x) if self.compiled.pairs else x

    def _fill(self, v, ts, i_save, y_prev, y1, K, save):
        """The save outputs at the save times left inside the last (accepted) step."""
        t, t1 = v[_T_PREV], v[_T]
        j = _after(ts, i_save, t1)
        mid = j - 1 if ts[j - 1] == t1 else j
        states = []
        if mid > i_save:
            self.compiled.K_real = K
            w = host_dense_weights(self.tab, t, t1 - t, ts[i_save:mid])
            states.append(self.compiled.dense(self._complex(y_prev), w))
        if mid < j:
            states.append(self._complex(y1).unsqueeze(0))
        return _save_all(save, torch.cat(states) if len(states) > 1 else states[0])

    def _check(self, v, yr, unfinished: bool) -> None:
        """Raise `SolverError` for a failed call, as the per-step loop would."""
        t, h, err = v[_T], v[_H], v[_ERR]
        adaptive = self.method.adaptive
        if v[_STATUS] == _NONFINITE_STATE or v[_STATUS] == _UNDERFLOW:
            finite = v[_STATUS] != _NONFINITE_STATE
            cause = "the step size underflowed" if finite else "the state is not finite"
            raise SolverError(t, f"{cause} (h = {h:.3g}, error {err:.3g})" if adaptive else cause)
        if not adaptive and not unfinished and not bool(torch.isfinite(yr).all()):
            raise SolverError(t, "the state is not finite")
        if unfinished and v[_STEPS] >= self.method.max_steps:
            name = type(self.method).__name__
            raise SolverError(t, f"reached `max_steps` = {self.method.max_steps} of {name}")


def _save_all(save, states: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
    """The save outputs of `states` (stacked): one call if `save` takes them stacked."""
    if not getattr(save, "stacked", False):
        return [save(x) for x in states]
    outs = save(states)
    return [tuple(o[i] for o in outs) for i in range(len(states))]


def _after(ts: list[float], i: int, t1: float) -> int:
    """The first index from `i` whose save time is after `t1`."""
    while i < len(ts) and ts[i] <= t1:
        i += 1
    return i


def compiled_loop(
    method, compiled: CompiledStep | None, y0, recorder, discontinuities: list
) -> CompiledLoop | None:
    """Return a `CompiledLoop` if the solve can run in one (see the module doc), else `None`."""
    if compiled is None or not compiled.traced or recorder is not None or discontinuities:
        return None
    if method.tableau.a_extra or compiled._real(y0).numel() > _MAX_NUMEL:
        return None
    return CompiledLoop(method, compiled, y0) if _has_while_loop() else None


def _has_while_loop() -> bool:
    """Whether this torch has the `while_loop` operation (torch >= 2.5)."""
    try:
        from torch._higher_order_ops.while_loop import while_loop_op  # noqa: F401
    except ImportError:
        return False
    return True
