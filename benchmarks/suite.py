"""Benchmark suite: qdynamics against QuTiP and dynamiqs on four problems, one table of ratios.

All in double precision; adaptive methods at rtol 1e-6, atol 1e-8 (qdynamics Tsit5,
dynamiqs Tsit5, QuTiP's default `adams`). Every library runs on one thread.

- P1 driven-dissipative Kerr oscillator, `mesolve`: H = -K/2 a†a†aa + ε(a + a†), K = 1,
  ε = 2, L = √κ a, κ = 1, vacuum, t ∈ [0, 10], 101 save times, ⟨a†a⟩; size n (Fock
  truncation) 16, 32, 64, 128.
- P2 transverse-field Ising chain, `sesolve`: H = -Σ σz_i σz_{i+1} - 0.7 Σ σx_i, open
  chain, all spins up, t ∈ [0, 5], 51 save times, total σz; size N (spins) 8, 10, 12.
- P3 damped driven qubits in one batched `mesolve`: H = Δ/2 σz + Ω/2 σx, Δ = 0.3, Ω
  over 512 values in [0, 2], L = √0.1 σ-, from |0⟩ (σz = +1), t ∈ [0, 20], 201 save
  times, ⟨σz⟩; size = batch (512). QuTiP loops over the batch; qdynamics and dynamiqs
  solve it in one call.
- P4 the gradient of ⟨a†a⟩(t = 10) of P1 (n = 32) with respect to (ε, K): each
  gradient mode of qdynamics (Direct, Checkpointed, Adjoint), dynamiqs (`jax.grad`
  through `dq.mesolve`, its default gradient, under `jax.jit`) and torchdiffeq's
  `odeint_adjoint` on the same right-hand side (with a time limit). Each case runs in
  its own process: time and peak memory (maximum resident set size), as ratios to our
  forward pass.

Method. For P1-P3 the first call of each library is timed and checked against
qdynamics (max |Δ⟨O⟩| < 1e-4, or the suite stops), then the median of `--runs` calls
is timed. A library whose first call exceeds `--budget` seconds gets fewer timed runs
(the table says how many; with none, the first call is the time). qdynamics and
QuTiP run in this process (torch on one thread); dynamiqs runs in a child process
per problem, size and layout (dense and dia) with `JAX_ENABLE_X64=1` and XLA on one
thread, so its first call includes JAX's compilation. For P4 gradients are checked
against central finite differences of a tightly converged solve (relative 1e-3).

    python benchmarks/suite.py                                # everything (long)
    python benchmarks/suite.py --problems P1 P2 --sizes 16 32 # some problems and sizes
    python benchmarks/suite.py --smoke                        # tiny sizes, QuTiP + qdynamics (CI)
    python benchmarks/suite.py --json results.json            # also save the results
    python benchmarks/suite.py --compile                      # qdynamics with compiled steps
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # effective when run as a script (before NumPy loads)

import argparse  # noqa: E402
import datetime  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
RTOL, ATOL = 1e-6, 1e-8
AGREE = 1e-4  # max |Δ⟨O⟩| between libraries
# QuTiP's `adams` at rtol 1e-6 drifts on the oscillating Ising chain: against exact
# diagonalisation its total σz is off by 3.7e-4 (N = 8) and 9.4e-4 (N = 10), where
# qdynamics' Tsit5 is off by 0.9e-5 and 1.9e-5. Its check on P2 is looser.
AGREE_QUTIP_P2 = 5e-3
GRAD_AGREE = 1e-3  # max relative error of a gradient against finite differences
JAX_ENV = {
    "JAX_ENABLE_X64": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "JAX_PLATFORMS": "cpu",
    "OMP_NUM_THREADS": "1",
}
LAYOUTS = ("dense", "dia")

# problem constants
KERR_T, KERR_NT = 10.0, 101
ISING_J, ISING_G, ISING_T, ISING_NT = 1.0, 0.7, 5.0, 51
QUBIT_DELTA, QUBIT_OMEGA_MAX, QUBIT_GAMMA, QUBIT_T, QUBIT_NT = 0.3, 2.0, 0.1, 20.0, 201


class Problem(NamedTuple):
    name: str
    title: str
    size_name: str
    sizes: tuple[int, ...]
    smoke_sizes: tuple[int, ...]


PROBLEMS = {
    "P1": Problem("P1", "Kerr mesolve", "n", (16, 32, 64, 128), (8,)),
    "P2": Problem("P2", "Ising sesolve", "N", (8, 10, 12), (4,)),
    "P3": Problem("P3", "qubits batch", "batch", (512,), (8,)),
    "P4": Problem("P4", "Kerr gradient", "n", (32,), (8,)),
}


class DisagreementError(AssertionError):
    """Two libraries disagree on a result: their timings would mean nothing."""


def _sibling(name: str):
    """Import another benchmark script of this folder by path (the folder is no package)."""
    key = f"qdynamics_benchmarks.{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# ---------------------------------------------------------------------------------------
# The problems, once per library. Each builder returns `solve() -> (values, infos)` with
# `values` the real expectation values as a NumPy array (..., ntsave).


def _ising_terms(N: int, sz, sx, eye, tensor):
    """Σ σz_i σz_{i+1} (open chain), Σ σx_i and Σ σz_i from a library's own operators."""

    def site(op, i):
        return tensor(*[op if j == i else eye for j in range(N)])

    zs = [site(sz, i) for i in range(N)]
    zz = sum(zs[i] @ zs[i + 1] for i in range(N - 1))
    xs = sum(site(sx, i) for i in range(N))
    return zz, xs, sum(zs)


def qdynamics_builder(
    problem: str, size: int, compile: bool = False
) -> Callable[[], tuple[np.ndarray, dict]]:
    import torch

    import dynamics as qd

    method = qd.method.Tsit5(rtol=RTOL, atol=ATOL, compile=compile)
    options = qd.Options(save_states=False)
    if problem == "P1":
        solve_kerr = _sibling("kerr_mesolve").qdynamics_solve(size, "cpu", compile)

        def solve():
            res = solve_kerr()
            return res.expects[0].real.numpy(), res.infos

        return solve
    if problem == "P2":
        import scipy.sparse as sp

        # built sparse (kron of 4096 x 4096 dense products is slow), handed over dense
        sz = sp.csr_matrix(np.diag([1.0, -1.0]))
        sx = sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))

        def kron(*ops):
            out = ops[0]
            for op in ops[1:]:
                out = sp.kron(out, op, format="csr")
            return out

        zz, xs, ztot = _ising_terms(size, sz, sx, sp.identity(2, format="csr"), kron)
        H = torch.from_numpy((-ISING_J * zz - ISING_G * xs).toarray()).to(torch.complex128)
        Z = torch.from_numpy(ztot.toarray()).to(torch.complex128)
        psi0 = qd.basis(2**size, 0)  # all spins up: σz = +1 on every site
        tsave = torch.linspace(0.0, ISING_T, ISING_NT, dtype=torch.float64)

        def solve():
            res = qd.sesolve(H, psi0, tsave, exp_ops=[Z], method=method, options=options)
            return res.expects[0].real.numpy(), res.infos

        return solve
    if problem == "P3":
        omega = torch.linspace(0.0, QUBIT_OMEGA_MAX, size, dtype=torch.float64)
        H = QUBIT_DELTA / 2 * qd.sigmaz() + (omega / 2)[:, None, None] * qd.sigmax()
        jump_ops = [QUBIT_GAMMA**0.5 * qd.sigmam()]
        rho0 = qd.fock_dm(2, 0)
        tsave = torch.linspace(0.0, QUBIT_T, QUBIT_NT, dtype=torch.float64)

        def solve():
            res = qd.mesolve(
                H, jump_ops, rho0, tsave, exp_ops=[qd.sigmaz()], method=method, options=options
            )
            return res.expects[:, 0].real.numpy(), res.infos

        return solve
    raise ValueError(problem)


def qutip_builder(problem: str, size: int) -> Callable[[], tuple[np.ndarray, dict]]:
    import qutip

    options = {"rtol": RTOL, "atol": ATOL, "nsteps": 1_000_000}
    if problem == "P1":
        solve_kerr = _sibling("kerr_mesolve").qutip_solve(size)
        return lambda: (np.asarray(solve_kerr().expect[0]).real, {})
    if problem == "P2":
        zz, xs, Z = _ising_terms(size, qutip.sigmaz(), qutip.sigmax(), qutip.qeye(2), qutip.tensor)
        H = -ISING_J * zz - ISING_G * xs
        psi0 = qutip.tensor(*[qutip.basis(2, 0)] * size)
        tlist = np.linspace(0.0, ISING_T, ISING_NT)

        def solve():
            res = qutip.sesolve(H, psi0, tlist, e_ops=[Z], options=options)
            return np.asarray(res.expect[0]).real, {}

        return solve
    if problem == "P3":
        omegas = np.linspace(0.0, QUBIT_OMEGA_MAX, size)
        sz, sx = qutip.sigmaz(), qutip.sigmax()
        c_ops = [QUBIT_GAMMA**0.5 * qutip.sigmam()]
        rho0 = qutip.fock_dm(2, 0)
        tlist = np.linspace(0.0, QUBIT_T, QUBIT_NT)

        def solve():
            out = [
                qutip.mesolve(
                    QUBIT_DELTA / 2 * sz + w / 2 * sx,
                    rho0,
                    tlist,
                    c_ops,
                    e_ops=[sz],
                    options=options,
                ).expect[0]
                for w in omegas
            ]
            return np.asarray(out).real, {}

        return solve
    raise ValueError(problem)


def dynamiqs_builder(problem: str, size: int, layout: str) -> Callable[[], tuple[np.ndarray, dict]]:
    """dynamiqs with operators in `layout` (run in a child process with JAX_ENV set)."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    import dynamiqs as dq

    dq.set_layout(layout)
    method = dq.method.Tsit5(rtol=RTOL, atol=ATOL)
    kwargs = {"method": method, "save_states": False, "progress_meter": False}

    def finish(res, index):
        values = np.asarray(jax.block_until_ready(res.expects))[index].real
        nsteps = np.asarray(res.infos.nsteps)
        return values, {"steps": float(nsteps.mean())}

    if problem == "P1":
        a = dq.destroy(size)
        H = -1.0 / 2 * a.dag() @ a.dag() @ a @ a + 2.0 * (a + a.dag())
        rho0, tsave = dq.fock_dm(size, 0), jnp.linspace(0.0, KERR_T, KERR_NT)

        def solve():
            res = dq.mesolve(H, [a], rho0, tsave, exp_ops=[dq.number(size)], **kwargs)
            return finish(res, 0)

        return solve
    if problem == "P2":
        zz, xs, Z = _ising_terms(size, dq.sigmaz(), dq.sigmax(), dq.eye(2), dq.tensor)
        H = -ISING_J * zz - ISING_G * xs
        psi0 = dq.tensor(*[dq.basis(2, 0)] * size)
        tsave = jnp.linspace(0.0, ISING_T, ISING_NT)

        def solve():
            return finish(dq.sesolve(H, psi0, tsave, exp_ops=[Z], **kwargs), 0)

        return solve
    if problem == "P3":
        omega = jnp.linspace(0.0, QUBIT_OMEGA_MAX, size)
        H = QUBIT_DELTA / 2 * dq.sigmaz() + (omega / 2)[:, None, None] * dq.sigmax()
        jump_ops = [QUBIT_GAMMA**0.5 * dq.sigmam()]
        rho0, tsave = dq.fock_dm(2, 0), jnp.linspace(0.0, QUBIT_T, QUBIT_NT)

        def solve():
            res = dq.mesolve(H, jump_ops, rho0, tsave, exp_ops=[dq.sigmaz()], **kwargs)
            return finish(res, (slice(None), 0))

        return solve
    raise ValueError(problem)


# ---------------------------------------------------------------------------------------
# Measuring


def timed_runs(
    solve: Callable[[], object], runs: int, budget: float, first: float, min_runs: int = 0
) -> list[float]:
    """Times of up to `runs` calls within `budget` seconds (at least `min_runs`).

    The count is first set by the first call's time, then by the median of the warm
    runs: a first call that compiled is no guide to the others.
    """
    nruns = max(min_runs, min(runs, int(budget // max(first, 1e-9))))
    times: list[float] = []
    while len(times) < nruns:
        start = time.perf_counter()
        solve()
        times.append(time.perf_counter() - start)
        nruns = max(nruns, min(runs, int(budget // max(statistics.median(times), 1e-9))))
    return times


def measure(
    solve: Callable[[], tuple[np.ndarray, dict]],
    runs: int,
    budget: float,
    reference: np.ndarray | None,
    label: str,
    min_runs: int = 0,
    tolerance: float = AGREE,
) -> tuple[dict, np.ndarray]:
    """First call (timed, checked against `reference`), then the median of timed runs."""
    start = time.perf_counter()
    values, infos = solve()
    first = time.perf_counter() - start
    diff = None
    if reference is not None:
        diff = float(np.max(np.abs(values - reference)))
        if not diff < tolerance:  # also catches NaN
            raise DisagreementError(
                f"{label} disagrees with qdynamics: max |Δ⟨O⟩| = {diff:.2e} "
                f"(must be < {tolerance:g})"
            )
    times = timed_runs(solve, runs, budget, first, min_runs)
    out = {
        "time": statistics.median(times) if times else first,
        "first": first,
        "runs": len(times),
        "max_diff": diff,
    }
    for key in ("steps", "nfev"):
        if key in infos:
            out[key] = infos[key]
    return out, values


def run_problem(problem: str, size: int, args: argparse.Namespace) -> dict:
    """One problem at one size: every library, agreement checked, then timed."""
    title = PROBLEMS[problem].title
    print(f"--- {problem} {title}, {PROBLEMS[problem].size_name} = {size}", flush=True)
    results: dict[str, dict] = {}
    solves = {
        "qdynamics": qdynamics_builder(problem, size, args.compile),
        "qutip": qutip_builder(problem, size),
    }
    # first calls: qdynamics' result is the reference the others must agree with
    first = {"qdynamics": measure(solves["qdynamics"], 0, 0.0, None, "qdynamics")}
    reference = first["qdynamics"][1]
    tolerance = AGREE_QUTIP_P2 if problem == "P2" else AGREE
    first["qutip"] = measure(solves["qutip"], 0, 0.0, reference, "QuTiP", tolerance=tolerance)
    print(f"    QuTiP agrees: max |Δ| = {first['qutip'][0]['max_diff']:.1e}", flush=True)
    if args.dynamiqs:
        for layout in args.layouts:
            r = spawn_dynamiqs(problem, size, layout, reference, args)
            results[f"dynamiqs-{layout}"] = r
            if "error" in r:
                print(f"    dynamiqs {layout}: failed: {r['error']}", flush=True)
            else:
                print(
                    f"    dynamiqs {layout} agrees: max |Δ| = {r['max_diff']:.1e}; "
                    f"{r['time']:.4g} s, first call {r['first']:.3g} s",
                    flush=True,
                )
    # then the timings of the libraries in this process
    for name, solve in solves.items():
        out = first[name][0]
        compiled = name == "qdynamics" and args.compile  # its first call compiles
        times = timed_runs(solve, args.runs, args.budget, out["first"], int(compiled))
        nruns = len(times)
        out.update(time=statistics.median(times) if times else out["first"], runs=nruns)
        results[name] = out
        print(f"    {name}: {out['time']:.4g} s ({nruns} timed runs)", flush=True)
    return _row(problem, size, results)


def _row(problem: str, size: int, results: dict[str, dict]) -> dict:
    ok = {k: v for k, v in results.items() if "time" in v}
    order = ["qdynamics", "qutip", *[f"dynamiqs-{layout}" for layout in LAYOUTS]]
    return {
        "benchmark": f"suite {problem}",
        "problem": problem,
        "size": size,
        "times": {k: ok[k]["time"] for k in order if k in ok},
        "first_call": {k: ok[k]["first"] for k in order if k in ok},
        "runs": {k: ok[k]["runs"] for k in order if k in ok},
        "max_diff": {k: ok[k]["max_diff"] for k in order if k in ok and k != "qdynamics"},
        "steps": {k: ok[k]["steps"] for k in order if k in ok and "steps" in ok[k]},
        "nfev": ok["qdynamics"].get("nfev"),
        "errors": {k: v["error"] for k, v in results.items() if "error" in v},
    }


# ---------------------------------------------------------------------------------------
# Child processes


def _child_command(*extra: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", *extra]


def _spawn(cmd: list[str], payload: dict, env: dict, timeout: float) -> dict:
    """Run a child with `payload` as JSON on stdin; its last stdout line is JSON."""
    try:
        out = subprocess.run(
            cmd,
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **env},
        )
    except subprocess.TimeoutExpired:
        return {"error": f"time limit ({timeout:g} s)", "timeout": True}
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        if out.returncode < 0:
            tail = f"stopped by signal {-out.returncode}"
        if "DisagreementError" in out.stderr:
            raise DisagreementError(tail)
        return {"error": tail}
    return json.loads(lines[-1])


def spawn_dynamiqs(problem: str, size: int, layout: str, reference, args) -> dict:
    cmd = _child_command("dynamiqs", problem, str(size), layout)
    payload = {"reference": np.asarray(reference).tolist(), "runs": args.runs}
    payload["budget"] = args.budget
    return _spawn(cmd, payload, JAX_ENV, args.child_timeout)


def _rss_mb() -> float:
    """Current resident set size (MB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """Peak resident set size of this process (MB).

    Read from VmHWM, not `getrusage(...).ru_maxrss`: Linux carries the maximum RSS over
    fork and exec, so a child's ru_maxrss is at least its parent's RSS at the fork.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def child_main(argv: list[str]) -> None:
    """Entry point of a child process: `--child dynamiqs P n layout` or `--child P4 case n`."""
    payload = json.loads(sys.stdin.read() or "{}")
    kind = argv[0]
    if kind == "dynamiqs":
        problem, size, layout = argv[1], int(argv[2]), argv[3]
        solve = dynamiqs_builder(problem, size, layout)
        out, _ = measure(
            solve,
            payload["runs"],
            payload["budget"],
            np.asarray(payload["reference"]),
            f"dynamiqs ({layout})",
            min_runs=1,  # its first call compiles: always time at least one more
        )
    elif kind == "P4":
        if not argv[1].startswith("dynamiqs"):
            import torch

            torch.set_num_threads(1)
        out = p4_case(argv[1], int(argv[2]), payload, in_child=True)
    else:
        raise ValueError(kind)
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------
# P4: gradients

P4_QD_MODES = ("forward", "Direct", "Checkpointed", "Adjoint")


def p4_cases(dynamiqs: bool, torchdiffeq: bool) -> list[str]:
    cases = [f"qdynamics {mode}" for mode in P4_QD_MODES]
    if dynamiqs:
        cases += [f"dynamiqs-{layout} {kind}" for layout in LAYOUTS for kind in ("forward", "grad")]
    if torchdiffeq:
        cases.append("torchdiffeq odeint_adjoint")
    return cases


def _p4_qdynamics(mode: str, n: int):
    import torch

    import dynamics as qd

    kerr = _sibling("kerr_gradient")
    grad = {
        "forward": None,
        "Direct": qd.gradient.Direct(),
        "Checkpointed": qd.gradient.Checkpointed(ncheckpoints=100),
        "Adjoint": qd.gradient.Adjoint(),
    }[mode]
    method = qd.method.Tsit5(rtol=RTOL, atol=ATOL)
    options = qd.Options(save_states=False)
    tsave = torch.tensor([0.0, KERR_T], dtype=torch.float64)

    def solve():
        req = grad is not None
        K = torch.tensor(1.0, dtype=torch.float64, requires_grad=req)
        eps = torch.tensor(2.0, dtype=torch.float64, requires_grad=req)
        _, _, a, H = kerr.build(n, K, eps)
        res = qd.mesolve(
            H,
            [a],
            qd.fock(n, 0),
            tsave,
            exp_ops=[a.mH @ a],
            method=method,
            gradient=grad,
            options=options,
        )
        loss = res.expects[0, -1].real
        grads = [g.item() for g in torch.autograd.grad(loss, (eps, K))] if req else None
        return loss.item(), grads, res.infos

    return solve


def _p4_dynamiqs(layout: str, kind: str, n: int):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    import dynamiqs as dq

    dq.set_layout(layout)
    method = dq.method.Tsit5(rtol=RTOL, atol=ATOL)
    tsave = jnp.array([0.0, KERR_T])

    def loss(params):
        eps, K = params
        a = dq.destroy(n)
        H = -K / 2 * a.dag() @ a.dag() @ a @ a + eps * (a + a.dag())
        res = dq.mesolve(
            H,
            [a],
            dq.fock_dm(n, 0),
            tsave,
            exp_ops=[dq.number(n)],
            method=method,
            save_states=False,
            progress_meter=False,
        )
        return res.expects[0, -1].real

    params = jnp.array([2.0, 1.0])
    if kind == "forward":
        f = jax.jit(loss)

        def solve():
            return float(jax.block_until_ready(f(params))), None, {}

    else:
        f = jax.jit(jax.value_and_grad(loss))  # dq.mesolve's default gradient

        def solve():
            value, grads = jax.block_until_ready(f(params))
            return float(value), [float(g) for g in grads], {}

    return solve


def p4_case(case: str, n: int, payload: dict, in_child: bool) -> dict:
    """One P4 case: first call (checked), then the median of timed runs; peak memory."""
    lib, kind = case.split(" ")
    base = _rss_mb()
    if lib == "torchdiffeq":  # one run: it is far too slow to repeat (see DESIGN.md)
        r = _sibling("kerr_gradient").run_torchdiffeq(n, None)
        out = {"time": r["time"], "first": r["time"], "runs": 1, "loss": r["loss"]}
        out["grads"] = r["grads"]
        # not checked: reversing the damped state in time makes its gradient blow up
        # (shown in the table, not a reason to stop the suite)
    else:
        if lib == "qdynamics":
            solve = _p4_qdynamics(kind, n)
        else:
            solve = _p4_dynamiqs(lib.removeprefix("dynamiqs-"), kind, n)
        base = _rss_mb()
        start = time.perf_counter()
        loss, grads, infos = solve()
        first = time.perf_counter() - start
        _check_p4(case, loss, grads, payload)  # before any timing
        min_runs = 1 if lib.startswith("dynamiqs") else 0
        times = timed_runs(solve, payload["runs"], payload["budget"], first, min_runs)
        out = {"time": statistics.median(times) if times else first, "first": first}
        out.update(runs=len(times), loss=loss, grads=grads, steps=infos.get("steps"))
    if in_child:
        out.update(peak_mb=_peak_mb(), base_mb=base)
    return out


def _check_p4(case: str, loss: float, grads: list[float] | None, payload: dict) -> None:
    fd = payload.get("fd")
    ref_loss = payload.get("loss")
    if ref_loss is not None and not abs(loss - ref_loss) < AGREE:
        raise DisagreementError(f"P4 {case}: loss {loss!r} against qdynamics' {ref_loss!r}")
    if grads is not None and fd is not None:
        err = max(abs(g - f) / abs(f) for g, f in zip(grads, fd))
        if not err < GRAD_AGREE:
            raise DisagreementError(
                f"P4 {case}: gradient {grads} against finite differences {fd} "
                f"(relative error {err:.1e}, must be < {GRAD_AGREE:g})"
            )


def run_p4(n: int, args: argparse.Namespace) -> list[dict]:
    """Every P4 case (each in its own process unless --smoke), reported against our forward."""
    print(f"--- P4 gradient of <a†a>(t = {KERR_T:g}) w.r.t. (eps, K), Kerr n = {n}", flush=True)
    fd = _sibling("kerr_gradient").finite_differences(n, None)
    print(f"    finite differences (rtol 1e-11): d/deps = {fd[0]:.6g}, d/dK = {fd[1]:.6g}")
    payload = {"fd": fd, "runs": args.runs, "budget": args.budget, "loss": None}
    rows = []
    for case in p4_cases(args.dynamiqs, args.torchdiffeq):
        if args.smoke:
            r = p4_case(case, n, payload, in_child=False)
        else:
            env = JAX_ENV if case.startswith("dynamiqs") else {"OMP_NUM_THREADS": "1"}
            timeout = args.timeout if case.startswith("torchdiffeq") else args.child_timeout
            r = _spawn(_child_command("P4", case, str(n)), payload, env, timeout)
        if case == "qdynamics forward" and "loss" in r:
            payload["loss"] = r["loss"]
        if "grads" in r and r["grads"] is not None:
            r["fd_err"] = max(abs(g - f) / abs(f) for g, f in zip(r["grads"], fd))
        rows.append({"benchmark": "suite P4", "problem": "P4", "size": n, "case": case, **r})
        status = r.get("error") or f"{r['time']:.4g} s"
        print(f"    {case}: {status}", flush=True)
    return rows


# ---------------------------------------------------------------------------------------
# Tables


def _s(x: float | None, mark: str = "") -> str:
    if x is None:
        return "—"
    text = f"{x:.3g}" if x < 1000 else f"{x:.0f}"
    return text + mark


def _e(x: float | None) -> str:
    return "—" if x is None else f"{x:.1e}"


def table(rows: list[dict], dynamiqs: bool = True) -> str:
    """P1-P3: times (s), first calls, ratio to the fastest competitor, steps."""
    refs = ["qutip", *([f"dynamiqs-{layout}" for layout in LAYOUTS] if dynamiqs else [])]
    short = {"qdynamics": "qd", "qutip": "QuTiP", "dynamiqs-dense": "dq dense"}
    short["dynamiqs-dia"] = "dq dia"
    libs = ["qdynamics", *refs]
    head = f"{'problem':<17}{'size':>5} | " + "".join(f"{short[k]:>9}" for k in libs)
    head += " | first call: " + "".join(f"{short[k]:>9}" for k in libs)
    head += f" | {'best other':>10} {'ratio':>6} | {'qd steps':>8} {'qd nfev':>8}"
    head += f" {'dq steps':>8}" if dynamiqs else ""
    head += f" {'max|Δ|':>8}"
    lines = [head, "-" * len(head)]
    for row in rows:
        if "times" not in row:
            continue
        times, runs = row["times"], row["runs"]
        first = row["first_call"]

        def cell(d, k, runs=runs):
            mark = "*" if runs is not None and runs.get(k) == 0 else ""
            return f"{_s(d.get(k), mark):>9}"

        others = {k: times[k] for k in refs if k in times}
        best = min(others, key=others.get) if others else None
        ratio = times["qdynamics"] / others[best] if best and "qdynamics" in times else None
        steps = row.get("steps", {})
        diffs = [d for d in row.get("max_diff", {}).values() if d is not None]
        dq_steps = steps.get("dynamiqs-dia", steps.get("dynamiqs-dense"))
        name = f"{row['problem']} {PROBLEMS[row['problem']].title}"
        lines.append(
            f"{name:<17}{row['size']:>5} | "
            + "".join(cell(times, k) for k in libs)
            + " |             "
            + "".join(cell(first, k, None) for k in libs)
            + f" | {short.get(best, '—'):>10} {_s(ratio):>6}"
            + f" | {_s(steps.get('qdynamics')):>8} {_s(row.get('nfev')):>8}"
            + (f" {_s(dq_steps):>8}" if dynamiqs else "")
            + f" {_e(max(diffs) if diffs else None):>8}"
        )
    return "\n".join(lines)


def p4_table(rows: list[dict]) -> str:
    """P4: time and memory of each case, as ratios to our forward pass."""
    cases = [r for r in rows if r.get("problem") == "P4"]
    if not cases:
        return ""
    fwd = next((r for r in cases if r["case"] == "qdynamics forward" and "time" in r), None)
    head = (
        f"{'P4 case':<28}{'time s':>9}{'x fwd':>7}{'first s':>9}{'runs':>5}"
        f"{'peak MB':>9}{'x fwd':>7}{'+MB':>8}{'x fwd':>7}{'rel err vs FD':>15}"
    )
    lines = [head, "-" * len(head)]
    for r in cases:
        if "time" not in r:
            lines.append(f"{r['case']:<28}  {r.get('error', 'failed')}")
            continue
        t_ratio = r["time"] / fwd["time"] if fwd else None
        peak, extra = r.get("peak_mb"), None
        if peak is not None:
            extra = peak - r["base_mb"]
        m_ratio = peak / fwd["peak_mb"] if fwd and peak and fwd.get("peak_mb") else None
        e_ratio = None
        if fwd and extra is not None and fwd.get("peak_mb"):
            e_ratio = extra / max(fwd["peak_mb"] - fwd["base_mb"], 1.0)
        err = r.get("fd_err")
        lines.append(
            f"{r['case']:<28}{_s(r['time']):>9}{_s(t_ratio):>7}{_s(r['first']):>9}"
            f"{r['runs']:>5}{_s(peak):>9}{_s(m_ratio):>7}{_s(extra):>8}{_s(e_ratio):>7}"
            f"{_e(err):>15}"
        )
    return "\n".join(lines)


def machine() -> dict:
    info = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    for name in ("torch", "qutip", "dynamiqs", "jax", "torchdiffeq"):
        if has(name):
            from importlib.metadata import version

            info[name] = version(name)
    return info


# ---------------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.split("\n")[1:]),
    )
    p.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    p.add_argument("--sizes", nargs="+", type=int, default=None, help="sizes (every problem)")
    p.add_argument("--runs", type=int, default=5, help="timed runs after the first (default 5)")
    p.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds of timed runs per library and case (fewer runs when slower; default 60)",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="time limit of torchdiffeq (s)")
    p.add_argument("--child-timeout", type=float, default=3600.0, help=argparse.SUPPRESS)
    p.add_argument("--no-dynamiqs", action="store_true", help="leave dynamiqs out")
    p.add_argument(
        "--layouts",
        nargs="+",
        default=list(LAYOUTS),
        choices=LAYOUTS,
        help="P1-P3: dynamiqs layouts to run (dense takes tens of minutes at P1 n = 128)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="P1-P3: qdynamics with compiled steps, Tsit5(compile=True) (first call compiles)",
    )
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one run, QuTiP + qdynamics")
    p.add_argument("--json", default=None, help="save the results to this JSON file")
    p.add_argument("--table", default=None, help="only print the tables of a saved JSON file")
    p.add_argument("--device", default="cpu", help=argparse.SUPPRESS)  # run.py passes it on
    args = p.parse_args(argv)
    if args.device != "cpu":
        print(f"note: the suite runs on CPU; --device {args.device} is ignored")
    if args.smoke:
        args.runs = 1
    args.dynamiqs = not (args.smoke or args.no_dynamiqs) and has("dynamiqs")
    args.torchdiffeq = not args.smoke and has("torchdiffeq")
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    """Run the suite, print its tables, return its rows (and save them with --json)."""
    if argv and argv[0] == "--child":
        child_main(argv[1:])
        return []
    args = parse(argv)
    if args.table:
        saved = json.loads(Path(args.table).read_text())
        print(", ".join(f"{k} {v}" for k, v in saved["machine"].items()))
        has_dq = any(k.startswith("dynamiqs") for r in saved["rows"] for k in r.get("times", {}))
        report(saved["rows"], has_dq)
        return saved["rows"]
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = _run(args)
    finally:
        torch.set_num_threads(threads)
    return rows


def _run(args: argparse.Namespace) -> list[dict]:
    notes = []
    if args.smoke:
        notes.append("smoke sizes: QuTiP and qdynamics only, one timed run")
    elif not args.dynamiqs:
        why = "--no-dynamiqs" if args.no_dynamiqs else "dynamiqs is not installed"
        notes.append(f"{why}: no dynamiqs columns")
    if args.compile:
        notes.append("qdynamics with compiled steps: its first call includes the compilation")
    if not args.smoke and not args.torchdiffeq:
        notes.append("torchdiffeq is not installed: no torchdiffeq row in P4")
    for note in notes:
        print(f"note: {note}")
    rows = []
    for name in args.problems:
        problem = PROBLEMS[name]
        sizes = args.sizes or (problem.smoke_sizes if args.smoke else problem.sizes)
        for size in sizes:
            if name == "P4":
                rows.extend(run_p4(size, args))
            else:
                rows.append(run_problem(name, size, args))
    report(rows, args.dynamiqs, notes)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
        print(f"saved {args.json}")
    return rows


def report(rows: list[dict], dynamiqs: bool, notes: list[str] = ()) -> None:
    """Print the tables of the rows (of this run, or of a saved --json file)."""
    if any("times" in row for row in rows):
        print()
        print("times in s; ratio = qdynamics time / fastest other library's (below 1:")
        print("qdynamics is faster); * = no timed run within --budget (first call is the time);")
        print(f"max|Δ| = largest difference from qdynamics' ⟨O⟩(t) (checked < {AGREE:g}; QuTiP")
        print(f"on P2 < {AGREE_QUTIP_P2:g}, see AGREE_QUTIP_P2); every library on one thread")
        print(table(rows, dynamiqs=dynamiqs))
    p4 = p4_table(rows)
    if p4:
        print()
        print(p4)
        print("x fwd: ratio to qdynamics' forward pass; +MB: peak RSS above the RSS before")
        if any(r.get("peak_mb") for r in rows):
            print("the first call (each case in its own process)")
        else:
            print("the first call (not measured: --smoke runs the cases in this process)")
        wrong = [r["case"] for r in rows if r.get("fd_err", 0) > GRAD_AGREE]
        if wrong:
            print(f"WRONG gradient (relative error > {GRAD_AGREE:g}): {', '.join(wrong)}")
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main(sys.argv[1:])
