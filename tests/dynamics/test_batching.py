"""Batching: a batched call equals the loop of single calls, with the documented shapes.

Batch dimensions of `H` (including pulse values and modulating functions), of the
jump operators and of the initial state broadcast together. With a fixed step every
element sees the same steps, so batched and single calls agree to round-off; with an
adaptive step the batch shares one step size, so they agree to the tolerance.
"""

import dataclasses
import itertools

import pytest
import torch

import dynamics as qd
from dynamics.equations import Lindblad, Schrodinger

C128 = torch.complex128
TSAVE = torch.linspace(0.0, 1.0, 4, dtype=torch.float64)
NTSAVE = len(TSAVE)
N = 3  # Hilbert dimension
SOLVERS = ("sesolve", "mesolve", "sepropagator", "mepropagator")
KINDS = {
    "sesolve": Schrodinger.kinds,
    "sepropagator": Schrodinger.kinds,
    "mesolve": Lindblad.kinds,
    "mepropagator": Lindblad.kinds,
}

# ----------------------------------------------------------------------------- methods


def _fields(cls) -> dict:
    return {f.name: f for f in dataclasses.fields(cls)}


def is_adaptive(cls) -> bool:
    return "rtol" in _fields(cls)


def fixed_step(cls, dt: float = 0.05):
    """The method with fixed steps of size `dt` (every method with a `dt` field)."""
    return cls(dt=dt)


FIXED_METHODS = [cls for cls in qd.method.ALL_METHODS if "dt" in _fields(cls)]
ADAPTIVE_METHODS = [cls for cls in qd.method.ALL_METHODS if is_adaptive(cls)]


def applies(cls, solver: str) -> bool:
    return cls.term_kind in KINDS[solver]


# ----------------------------------------------------------------------------- inputs


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rand_herm(g, *shape):
    A = torch.randn(*shape, N, N, dtype=C128, generator=g)
    H = (A + A.mH) / 2
    return H / torch.linalg.matrix_norm(H, ord=2, keepdim=True)


def rand_op(g, *shape, scale: float = 0.4):
    return scale * torch.randn(*shape, N, N, dtype=C128, generator=g) / N**0.5


def rand_ket(g, *shape):
    psi = torch.randn(*shape, N, 1, dtype=C128, generator=g)
    return psi / torch.linalg.vector_norm(psi, dim=(-2, -1), keepdim=True)


def rand_dm(g, *shape):
    B = torch.randn(*shape, N, N, dtype=C128, generator=g)
    rho = B @ B.mH
    return rho / rho.diagonal(dim1=-2, dim2=-1).sum(-1)[..., None, None]


def take(x: torch.Tensor, idx: tuple | None, event_ndim: int = 2) -> torch.Tensor:
    """Element `idx` of the batch `idx` broadcasts over (size-1 dimensions index 0)."""
    if idx is None:
        return x
    bdims = x.shape[: x.ndim - event_ndim]
    idx = idx[len(idx) - len(bdims) :] if bdims else ()
    return x[tuple(0 if s == 1 else i for s, i in zip(bdims, idx))]


@dataclasses.dataclass
class Case:
    """A batching combination: `build(idx)` gives the batched inputs (`None`) or element `idx`."""

    name: str
    batch: tuple
    solvers: tuple
    build: object


def _dephasing(n):
    return torch.diag(torch.linspace(1.0, -1.0, n, dtype=C128))


def _case_tensors(name, solvers, H, L, psi0, rho0):
    batch = torch.broadcast_shapes(H.shape[:-2], L.shape[:-2], psi0.shape[:-2], rho0.shape[:-2])

    def build(idx):
        return {
            "H": take(H, idx),
            "jump_ops": [take(L, idx), 0.3 * _dephasing(N)],
            "psi0": take(psi0, idx),
            "rho0": take(rho0, idx),
        }

    return Case(name, tuple(batch), solvers, build)


def make_cases():
    g = _gen(1234)
    H, L, psi, rho = rand_herm(g), rand_op(g), rand_ket(g), rand_dm(g)
    all_ = SOLVERS
    se_me = ("sesolve", "mesolve")
    with_jumps = ("mesolve", "mepropagator")
    cases = [
        _case_tensors("none", all_, H, L, psi, rho),
        _case_tensors("H", all_, rand_herm(g, 3), L, psi, rho),
        _case_tensors("psi0", ("sesolve",), H, L, rand_ket(g, 2), rho),
        _case_tensors("rho0", ("mesolve",), H, L, psi, rand_dm(g, 2)),
        _case_tensors("jump_ops", with_jumps, H, rand_op(g, 3), psi, rho),
        _case_tensors(
            "H(3,1)-psi0(1,2)", ("sesolve",), rand_herm(g, 3, 1), L, rand_ket(g, 1, 2), rho
        ),
        _case_tensors(
            "H(3,1)-rho0(1,2)", ("mesolve",), rand_herm(g, 3, 1), L, psi, rand_dm(g, 1, 2)
        ),
        _case_tensors("H(3,1)-jump(2)", with_jumps, rand_herm(g, 3, 1), rand_op(g, 2), psi, rho),
        _case_tensors(
            "H(2)-rho0(3,1)", se_me, rand_herm(g, 2), L, rand_ket(g, 3, 1), rand_dm(g, 3, 1)
        ),
    ]

    # piecewise-constant pulse with values (4, 5) on top of a constant H
    times = torch.linspace(0.0, 1.0, 6, dtype=torch.float64)
    values = torch.randn(4, 5, dtype=torch.float64, generator=g)
    drive = rand_herm(g)

    def build_pwc(idx):
        v = values if idx is None else take(values, idx, event_ndim=1)
        return {
            "H": H + qd.pwc(times, v, drive),
            "jump_ops": [L],
            "psi0": psi,
            "rho0": rho,
        }

    cases.append(Case("pwc", (4,), all_, build_pwc))

    # modulated operator whose function returns a batch of shape (4,)
    omegas = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64)

    def build_modulated(idx):
        w = omegas if idx is None else omegas[idx[-1]]
        return {
            "H": H + qd.modulated(lambda t, w=w: torch.cos(w * t), drive),
            "jump_ops": [L],
            "psi0": psi,
            "rho0": rho,
        }

    cases.append(Case("modulated", (4,), all_, build_modulated))

    # time-dependent jump operator batched through a modulating function
    def build_td_jump(idx):
        w = omegas if idx is None else omegas[idx[-1]]
        return {
            "H": H,
            "jump_ops": [qd.modulated(lambda t, w=w: 1 + 0.5 * torch.sin(w * t), L)],
            "psi0": psi,
            "rho0": rho,
        }

    cases.append(Case("modulated-jump", (4,), with_jumps, build_td_jump))
    return cases


CASES = make_cases()
EXP_OPS = [qd.destroy(N), qd.number(N)]


def solve(solver: str, inputs: dict, method, **kwargs):
    if solver == "sesolve":
        return qd.sesolve(
            inputs["H"], inputs["psi0"], TSAVE, exp_ops=EXP_OPS, method=method, **kwargs
        )
    if solver == "mesolve":
        H, Ls, rho0 = inputs["H"], inputs["jump_ops"], inputs["rho0"]
        return qd.mesolve(H, Ls, rho0, TSAVE, exp_ops=EXP_OPS, method=method, **kwargs)
    if solver == "sepropagator":
        return qd.sepropagator(inputs["H"], TSAVE, method=method, **kwargs)
    return qd.mepropagator(inputs["H"], inputs["jump_ops"], TSAVE, method=method, **kwargs)


def expected_shapes(solver: str, batch: tuple) -> dict:
    b = tuple(batch)
    if solver == "sesolve":
        return {"states": (*b, NTSAVE, N, 1), "expects": (*b, 2, NTSAVE), "final_state": (*b, N, 1)}
    if solver == "mesolve":
        return {"states": (*b, NTSAVE, N, N), "expects": (*b, 2, NTSAVE), "final_state": (*b, N, N)}
    d = N if solver == "sepropagator" else N * N
    return {"states": (*b, NTSAVE, d, d), "expects": None, "final_state": (*b, d, d)}


def check_shapes(res, solver: str, batch: tuple) -> None:
    shapes = expected_shapes(solver, batch)
    assert tuple(res.states.shape) == shapes["states"]
    assert tuple(res.final_state.shape) == shapes["final_state"]
    if shapes["expects"] is None:
        assert res.expects is None
        assert tuple(res.propagators.shape) == shapes["states"]
        assert tuple(res.final_propagator.shape) == shapes["final_state"]
    else:
        assert tuple(res.expects.shape) == shapes["expects"]


def check_matches_loop(res, solver, case, method, atol: float) -> None:
    for idx in itertools.product(*(range(s) for s in case.batch)):
        single = solve(solver, case.build(idx), method)
        check_shapes(single, solver, ())
        for name in ("states", "expects", "final_state"):
            got, want = getattr(res, name), getattr(single, name)
            if want is None:
                assert got is None
            else:
                torch.testing.assert_close(got[idx], want, rtol=0, atol=atol)


def _params(methods):
    return [
        pytest.param(case, solver, cls, id=f"{solver}-{case.name}-{cls.__name__}")
        for case, solver, cls in itertools.product(CASES, SOLVERS, methods)
        if solver in case.solvers and applies(cls, solver)
    ]


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize(("case", "solver", "cls"), _params(FIXED_METHODS))
def test_fixed_step_batch_equals_loop(case, solver, cls):
    method = fixed_step(cls)
    res = solve(solver, case.build(None), method)
    check_shapes(res, solver, case.batch)
    check_matches_loop(res, solver, case, method, atol=1e-10)


@pytest.mark.parametrize(("case", "solver", "cls"), _params(ADAPTIVE_METHODS))
def test_adaptive_batch_agrees_with_loop(case, solver, cls):
    method = cls(rtol=1e-8, atol=1e-10)
    res = solve(solver, case.build(None), method)
    check_shapes(res, solver, case.batch)
    # one shared step size for the batch: not bitwise equal, equal to the tolerance
    check_matches_loop(res, solver, case, method, atol=1e-6)


@pytest.mark.parametrize(("case", "solver", "cls"), _params(FIXED_METHODS[:1]))
def test_save_states_false_batched_shapes(case, solver, cls):
    method = fixed_step(cls)
    res = solve(solver, case.build(None), method, options=qd.Options(save_states=False))
    shapes = expected_shapes(solver, case.batch)
    assert res.states is None
    assert tuple(res.final_state.shape) == shapes["final_state"]
    if shapes["expects"] is not None:
        assert tuple(res.expects.shape) == shapes["expects"]


# every combination of batch shapes for H, the jump operators and the initial state
H_BATCHES = [(), (3,), (3, 1), (1, 2)]
STATE_BATCHES = [(), (2,), (1, 2), (3, 1)]
JUMP_BATCHES = [(), (2,), (3, 1)]


def _grid():
    out = []
    for solver in SOLVERS:
        states = STATE_BATCHES if solver in ("sesolve", "mesolve") else [()]
        jumps = JUMP_BATCHES if solver in ("mesolve", "mepropagator") else [()]
        for hb, sb, jb in itertools.product(H_BATCHES, states, jumps):
            try:
                batch = tuple(torch.broadcast_shapes(hb, sb, jb))
            except RuntimeError:
                batch = None
            out.append(pytest.param(solver, hb, sb, jb, batch, id=f"{solver}-H{hb}-y{sb}-L{jb}"))
    return out


@pytest.mark.parametrize(("solver", "hb", "sb", "jb", "batch"), _grid())
def test_shapes_of_every_batching_combination(solver, hb, sb, jb, batch):
    g = _gen(7)
    inputs = {
        "H": rand_herm(g, *hb),
        "jump_ops": [rand_op(g, *jb)],
        "psi0": rand_ket(g, *sb),
        "rho0": rand_dm(g, *sb),
    }
    method = qd.method.RK4(dt=0.1)
    if batch is None:
        with pytest.raises(ValueError, match="do not broadcast"):
            solve(solver, inputs, method)
        return
    res = solve(solver, inputs, method)
    check_shapes(res, solver, batch)


def test_batched_exp_ops_tensor_gives_nexp_axis():
    g = _gen(3)
    E = torch.stack([qd.destroy(N), qd.number(N), qd.create(N)])  # (nexp=3, n, n)
    res = qd.sesolve(rand_herm(g, 2), rand_ket(g), TSAVE, exp_ops=E, method=qd.method.RK4(dt=0.05))
    assert tuple(res.expects.shape) == (2, 3, NTSAVE)
    # expects[..., k, i] = <psi_i| E_k |psi_i>
    psi = res.states  # (2, ntsave, n, 1)
    manual = (psi.mH.unsqueeze(-4) @ E[:, None] @ psi.unsqueeze(-4))[..., 0, 0]
    torch.testing.assert_close(res.expects, manual, rtol=0, atol=1e-12)
