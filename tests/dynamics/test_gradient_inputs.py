"""How the solve functions treat gradient requests: errors, parameter discovery, memory.

- a requested mode with nothing to differentiate, a mode given as a string or a class,
  bad mode settings and an unsupported method/mode pair raise clear errors before any
  integration;
- `gradient=None` with nothing requiring grad builds no graph;
- a tensor captured in a plain closure is differentiated by `Direct` (autograd sees
  everything) but, by design, not by the replaying modes unless listed in `params=`;
- `Checkpointed(ncheckpoints=k)` never holds more than `k` checkpoints.
"""

from __future__ import annotations

import weakref

import pytest
import torch
from systems.gradients import make_gradient, one_thread  # noqa: F401 (autouse fixture)

import dynamics as qd
import solvers.gradients.replay as replay
from dynamics.gradient import ALL_GRADIENTS, Checkpointed, Direct

F64 = torch.float64
TSAVE = torch.linspace(0.0, 1.0, 4, dtype=F64)
SOLVERS = ("sesolve", "mesolve", "sepropagator", "mepropagator")
REPLAYING = tuple(g for g in ALL_GRADIENTS if g is not Direct)


def _ids(classes) -> list[str]:
    return [c.__name__ for c in classes]


def _solve(solver: str, H, jump_ops=(), *, tsave=TSAVE, **kwargs):
    """Run `solver` on a qubit; return every output tensor of the result."""
    psi0 = qd.basis(2, 0)
    if solver == "sesolve":
        res = qd.sesolve(H, psi0, tsave, exp_ops=[qd.sigmaz()], **kwargs)
        return [res.states, res.expects, res.final_state]
    if solver == "mesolve":
        res = qd.mesolve(H, list(jump_ops), psi0, tsave, exp_ops=[qd.sigmaz()], **kwargs)
        return [res.states, res.expects, res.final_state]
    if solver == "sepropagator":
        return [qd.sepropagator(H, tsave, **kwargs).propagators]
    return [qd.mepropagator(H, list(jump_ops), tsave, **kwargs).propagators]


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("gradient_cls", ALL_GRADIENTS, ids=_ids(ALL_GRADIENTS))
def test_requested_mode_with_nothing_to_differentiate(solver, gradient_cls):
    with pytest.raises(ValueError, match=r"`gradient`.*no input requires grad"):
        _solve(solver, qd.sigmax(), [qd.sigmam()], gradient=gradient_cls())


@pytest.mark.parametrize("gradient_cls", ALL_GRADIENTS, ids=_ids(ALL_GRADIENTS))
def test_requested_mode_with_params_that_do_not_require_grad(gradient_cls):
    c = torch.tensor(0.3, dtype=F64)  # listed, but does not require grad
    H = qd.modulated(lambda t: c * torch.cos(t), qd.sigmax())
    with pytest.raises(ValueError, match="no input requires grad"):
        _solve("sesolve", H, gradient=make_gradient(gradient_cls, params=(c,)))


@pytest.mark.parametrize("gradient_cls", ALL_GRADIENTS, ids=_ids(ALL_GRADIENTS))
def test_requested_mode_under_no_grad(gradient_cls):
    """Inside `torch.no_grad()` nothing can be differentiated: a requested mode says so."""
    omega = torch.tensor(1.0, dtype=F64, requires_grad=True)
    with torch.no_grad(), pytest.raises(ValueError, match="no input requires grad"):
        _solve("sesolve", omega * qd.sigmax(), gradient=gradient_cls())


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("gradient", ["adjoint", "Direct", "direct"])
def test_gradient_given_as_a_string(solver, gradient):
    with pytest.raises(TypeError, match=r"`gradient`.*gradient mode"):
        _solve(solver, qd.sigmax(), [qd.sigmam()], gradient=gradient)


@pytest.mark.parametrize("gradient_cls", ALL_GRADIENTS, ids=_ids(ALL_GRADIENTS))
def test_gradient_given_as_a_class(gradient_cls):
    omega = torch.tensor(1.0, dtype=F64, requires_grad=True)
    with pytest.raises(TypeError, match="`gradient`"):
        _solve("sesolve", omega * qd.sigmax(), gradient=gradient_cls)


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, None])
def test_checkpointed_needs_a_positive_number_of_checkpoints(bad):
    with pytest.raises(ValueError, match="`ncheckpoints`"):
        Checkpointed(ncheckpoints=bad)


@pytest.mark.parametrize("gradient_cls", REPLAYING, ids=_ids(REPLAYING))
def test_replaying_modes_validate_their_integer_settings(gradient_cls):
    """Every integer setting of a replaying mode (checkpoints, segment length) must be ≥ 1."""
    with pytest.raises(ValueError, match="positive integer"):
        make_gradient(gradient_cls, segments=0)


def test_method_without_support_for_a_mode():
    """A method that does not declare a mode is refused with one uniform error."""
    restricted = type("RK4", (qd.method.RK4,), {"supported_gradients": ("Direct",)})
    omega = torch.tensor(1.0, dtype=F64, requires_grad=True)
    with pytest.raises(ValueError, match="does not support gradient Checkpointed"):
        _solve("sesolve", omega * qd.sigmax(), method=restricted(dt=0.1), gradient=Checkpointed())


@pytest.mark.parametrize("gradient_cls", REPLAYING, ids=_ids(REPLAYING))
def test_save_time_gradient_needs_direct(gradient_cls):
    omega = torch.tensor(1.0, dtype=F64, requires_grad=True)
    tsave = TSAVE.clone().requires_grad_()
    with pytest.raises(ValueError, match=r"`tsave`.*Direct"):
        _solve("sesolve", omega * qd.sigmax(), tsave=tsave, gradient=gradient_cls())


# ------------------------------------------------------------------ no graph when not asked


@pytest.mark.parametrize("solver", SOLVERS)
def test_no_gradient_no_graph(solver):
    outputs = _solve(solver, qd.sigmax(), [qd.sigmam()], gradient=None)
    assert [o.requires_grad for o in outputs] == [False] * len(outputs)


@pytest.mark.parametrize("solver", SOLVERS)
def test_default_gradient_is_plain_autograd(solver):
    """`gradient=None` with an input that requires grad differentiates like `Direct()`."""
    omega = torch.tensor(0.9, dtype=F64, requires_grad=True)
    L = [0.5 * qd.sigmam()]
    (a,) = torch.autograd.grad(_solve(solver, omega * qd.sigmax(), L)[0].abs().sum(), omega)
    out = _solve(solver, omega * qd.sigmax(), L, gradient=Direct())[0]
    (b,) = torch.autograd.grad(out.abs().sum(), omega)
    assert float(a) == pytest.approx(float(b), rel=1e-13, abs=1e-14)


# ---------------------------------------------------------------------- closure tensors


def _closure_problem(c: torch.Tensor, omega: torch.Tensor):
    """`H = c cos(t) σx + ω σz`: `c` is captured in a closure, `ω` is seen."""
    return qd.modulated(lambda t: c * torch.cos(t), qd.sigmax()) + omega * qd.sigmaz()


def _closure_grads(gradient):
    c = torch.tensor(0.8, dtype=F64, requires_grad=True)
    omega = torch.tensor(1.1, dtype=F64, requires_grad=True)
    gradient = gradient(c) if callable(gradient) and not isinstance(gradient, type) else gradient
    _, expects, _ = _solve("sesolve", _closure_problem(c, omega), tsave=TSAVE, gradient=gradient)
    return torch.autograd.grad(expects.real.sum(), (c, omega), allow_unused=True)


@pytest.mark.parametrize("gradient_cls", REPLAYING, ids=_ids(REPLAYING))
def test_closure_tensor_not_in_params(gradient_cls):
    """Documents the design: a closure tensor not listed in `params=` gets no gradient.

    Direct (and `gradient=None`) differentiate it, since autograd records everything.
    The replaying modes run the forward pass outside autograd and differentiate only the
    tensors they are given, so its gradient is `None` (`.grad` stays unset after
    `backward()`) while the visible `ω` is still right; listed in `params=`, it gets
    Direct's gradient.
    """
    want_c, want_omega = _closure_grads(Direct())
    assert _closure_grads(None)[0] == pytest.approx(float(want_c), rel=1e-13)
    got_c, got_omega = _closure_grads(gradient_cls())
    assert got_c is None
    assert float(got_omega) == pytest.approx(float(want_omega), rel=1e-12)
    listed_c, listed_omega = _closure_grads(lambda c: gradient_cls(params=(c,)))
    assert float(listed_c) == pytest.approx(float(want_c), rel=1e-12)
    assert float(listed_omega) == pytest.approx(float(want_omega), rel=1e-12)


@pytest.mark.parametrize("gradient_cls", REPLAYING, ids=_ids(REPLAYING))
def test_closure_tensor_alone_is_not_found(gradient_cls):
    """With only a closure tensor requiring grad, a replaying mode finds nothing: it says so."""
    c = torch.tensor(0.8, dtype=F64, requires_grad=True)
    H = qd.modulated(lambda t: c * torch.cos(t), qd.sigmax())
    with pytest.raises(ValueError, match=r"no input requires grad.*`params`"):
        _solve("sesolve", H, gradient=gradient_cls())


def _reused_tensor_grads(case: str, gradient_cls: type) -> tuple[list, list]:
    """Gradients of one loss by `gradient_cls` and by Direct, for a tensor used twice."""
    out = []
    for mode in (gradient_cls, Direct):
        H = (qd.sigmax() + 0.3 * qd.sigmaz()).requires_grad_()
        L = (0.5 * qd.sigmam()).requires_grad_()
        kappa = torch.tensor(0.4, dtype=F64, requires_grad=True)
        values = torch.tensor([0.5, -0.3], dtype=F64, requires_grad=True)
        jumps, exp_ops, params = [L], [qd.sigmaz()], ()
        if case == "jump_op_twice":
            jumps, leaves = [L, L], (L,)
        elif case == "H_also_an_exp_op":
            exp_ops, leaves = [H], (H,)
        elif case == "rate_listed_in_params":
            jumps, params, leaves = [torch.sqrt(kappa) * qd.sigmam()], (kappa,), (kappa,)
        else:  # "pwc_values_listed_in_params"
            H = qd.pwc([0.0, 0.4, 0.8], values, qd.sigmax()) + qd.sigmaz()
            params, leaves = (values,), (values,)
        res = qd.mesolve(
            H, jumps, qd.basis(2, 0), TSAVE, exp_ops=exp_ops, gradient=mode(params=params)
        )
        out.append(list(torch.autograd.grad(res.expects.real.sum(), leaves)))
    return out[0], out[1]


@pytest.mark.parametrize(
    "case",
    ["jump_op_twice", "H_also_an_exp_op", "rate_listed_in_params", "pwc_values_listed_in_params"],
)
@pytest.mark.parametrize("gradient_cls", REPLAYING, ids=_ids(REPLAYING))
def test_tensor_used_twice_counts_once(case, gradient_cls):
    """A tensor used in two places, or found and also listed in `params=`, counts once.

    Listing a visible tensor in `params=` is natural (`Direct`'s docstring: listing only
    makes the request explicit), and `Direct` gets all four cases right.
    """
    got, want = _reused_tensor_grads(case, gradient_cls)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)


# -------------------------------------------------------------------- checkpoint memory


@pytest.fixture
def live_segments(monkeypatch):
    """Spy on `solvers.gradients.replay.Segment`: the largest number alive at once.

    A segment holds one checkpoint (its start state); segments dropped when the
    checkpoints are thinned out are freed at once (reference counting).
    """
    alive: weakref.WeakSet = weakref.WeakSet()
    stats = {"max_alive": 0, "created": 0}

    class SpySegment(replay.Segment):
        def __init__(self, lo, y):
            super().__init__(lo, y)
            alive.add(self)
            stats["created"] += 1
            stats["max_alive"] = max(stats["max_alive"], len(alive))

    monkeypatch.setattr(replay, "Segment", SpySegment)
    return stats


@pytest.mark.parametrize(
    "ncheckpoints",
    [1, 2, 4, 7],
)
@pytest.mark.parametrize("solver", ["sesolve", "mesolve"])
def test_checkpointed_stores_at_most_ncheckpoints(live_segments, solver, ncheckpoints):
    """Over 250 steps, at most `ncheckpoints` checkpoints are ever held.

    The gradient is still Direct's (the segments are replayed from the checkpoints).
    """
    omega = torch.tensor(1.3, dtype=F64, requires_grad=True)
    L = [0.4 * qd.sigmam()]
    method = qd.method.RK4(dt=4e-3)
    gradient = Checkpointed(ncheckpoints=ncheckpoints)
    out = _solve(solver, omega * qd.sigmax(), L, method=method, gradient=gradient)
    (got,) = torch.autograd.grad(out[1].real.sum(), omega)
    assert live_segments["created"] > ncheckpoints or ncheckpoints == 1  # thinning happened
    assert live_segments["max_alive"] <= ncheckpoints
    assert live_segments["max_alive"] == ncheckpoints or ncheckpoints == 1
    out = _solve(solver, omega * qd.sigmax(), L, method=method, gradient=Direct())
    (want,) = torch.autograd.grad(out[1].real.sum(), omega)
    assert float(got) == pytest.approx(float(want), rel=1e-12)
