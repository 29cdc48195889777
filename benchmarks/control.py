"""Pulse optimisation (GRAPE): qdynamics' `optimize` against qutip-qtrl's L-BFGS-B GRAPE.

Piecewise-constant controls on 100 equal slices, H(t) = H0 + Σ_k u_k(t) H_k, initial
guess `numpy.random.default_rng(seed).uniform(-a, a, size=(2, 100))` (the same for both
libraries), gate fidelity F = |Tr(U_target† U)|² / d² on the qubit subspace (d = 2):

- C1 qubit NOT: H0 = 0.1 σz/2, H_x = σx/2, H_y = σy/2, T = 2π, |u_k| ≤ 1, a = 0.5,
  target F ≥ 0.9999.
- C2 transmon X with leakage: 3 levels, H0 = α/2 b†b†bb (α = −2π·0.2 rad/ns),
  H_x = (b + b†)/2, H_y = i(b† − b)/2, T = 10 ns, no bounds, a = 0.2, X on levels
  {0, 1}, F ≥ 0.999; C2-tight: F ≥ 1 − 1e-8.
- C3 damped qubit transfer: H0 = 0, H_x = σx/2, H_y = σy/2, L = √0.01 σ− (σ− =
  `destroy(2)`), T = 2π, |u_k| ≤ 1, a = 0.5, ρ0 = |0⟩⟨0|, maximise ⟨1|ρ(T)|1⟩
  (at best about 0.9917), target 0.9915.

Ours: `dynamics.control.PWC` (bounded controls as u = sin θ), `optimize` with L-BFGS
(strong Wolfe); closed systems through `qd.sepropagator(..., method=Expm())` and
`gate_fidelity`, C3 through `qd.mepropagator(..., method=Expm())` applied to vec(ρ0).
qtrl: `create_pulse_optimizer` + `initialize_controls(u0)` + `run_optimization()` (what
`optimize_pulse` does, with our initial amplitudes), L-BFGS-B with the amplitude
bounds. Its unitary fidelity ("UNIT", phase option "PSU") is |Tr(V† U)|/Tr(V† V) = √F
for V the target embedded in the full space (zero outside the subspace), so its error
target is 1 − √F_target. For C3 qtrl's Lindblad ("GEN_MAT") dynamics propagate vec(ρ)
with the Liouvillian superoperators, and the same "UNIT"/"PSU" fidelity computer with
the target vec(|1⟩⟨1|) gives |vec(|1⟩⟨1|)† vec(ρ(T))| = ⟨1|ρ(T)|1⟩ exactly (the
"TRACEDIFF" default would optimise a different distance).
qtrl runs with its defaults otherwise (scipy's `factr` 1e7, `pgtol` 1e-10, 10
correction pairs).

Both sides stop at the target or after `--max-iter` iterations; wall times cover
everything from building the problem to the result (both libraries imported and
warmed up once first, outside the timing). Each final F is recomputed with an
independent NumPy/SciPy product of slice propagators.

    python benchmarks/control.py --problem C2 --seed 0 --out result.json
    python benchmarks/control.py --problem C1 --against qutip-qtrl
    python benchmarks/control.py --problem all --seeds 0 1 2 --against qutip-qtrl --repeat 3
    python benchmarks/control.py --smoke
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time

import numpy as np
import scipy.linalg

NSLICES = 100


@dataclasses.dataclass(frozen=True)
class Problem:
    """One benchmark problem; operators as NumPy arrays (QuTiP's basis conventions)."""

    name: str
    H0: np.ndarray
    controls: tuple[np.ndarray, np.ndarray]
    T: float
    bound: float | None
    a: float
    target: float  # fidelity to reach
    gate: np.ndarray | None = None  # closed systems: X on levels {0, 1}
    jump_ops: tuple[np.ndarray, ...] = ()  # open system (C3): state transfer 0 -> 1
    max_iter: int = 500

    @property
    def n(self) -> int:
        return self.H0.shape[0]

    def initial(self, seed: int) -> np.ndarray:
        return np.random.default_rng(seed).uniform(-self.a, self.a, size=(2, NSLICES))


def _qubit_ops():
    sx = np.array([[0, 1], [1, 0]], dtype=complex)
    sy = np.array([[0, -1j], [1j, 0]])
    sz = np.diag([1.0, -1.0]).astype(complex)
    return sx, sy, sz


def problems() -> dict[str, Problem]:
    sx, sy, sz = _qubit_ops()
    b = np.diag(np.sqrt([1.0, 2.0]), 1).astype(complex)  # destroy(3)
    alpha = -2 * math.pi * 0.2
    transmon = {
        "H0": alpha / 2 * b.conj().T @ b.conj().T @ b @ b,
        "controls": ((b + b.conj().T) / 2, 1j * (b.conj().T - b) / 2),
        "T": 10.0,
        "bound": None,
        "a": 0.2,
        "gate": sx,
    }
    sigma_minus = np.array([[0, 1], [0, 0]], dtype=complex)  # destroy(2)
    return {
        "C1": Problem("C1", 0.1 * sz / 2, (sx / 2, sy / 2), 2 * math.pi, 1.0, 0.5, 0.9999, sx),
        "C2": Problem("C2", target=0.999, **transmon),
        "C2-tight": Problem("C2-tight", target=1 - 1e-8, **transmon),
        "C3": Problem(
            "C3",
            np.zeros((2, 2), complex),
            (sx / 2, sy / 2),
            2 * math.pi,
            1.0,
            0.5,
            0.9915,
            jump_ops=(math.sqrt(0.01) * sigma_minus,),
        ),
    }


# ----------------------------------------------------------------------------- reference


def _liouvillian(H: np.ndarray, Ls=()) -> np.ndarray:
    """Generator of vec(ρ) with column stacking: vec(AρB) = (Bᵀ ⊗ A) vec(ρ)."""
    eye = np.eye(H.shape[0])
    out = -1j * (np.kron(eye, H) - np.kron(H.T, eye))
    for L in Ls:
        LdL = L.conj().T @ L
        out += np.kron(L.conj(), L) - 0.5 * np.kron(eye, LdL) - 0.5 * np.kron(LdL.T, eye)
    return out


def reference_fidelity(p: Problem, u: np.ndarray) -> float:
    """F of amplitudes `u` (2, N) by an independent product of slice exponentials."""
    dt = p.T / u.shape[1]
    if p.gate is None:
        S = np.eye(p.n**2, dtype=complex)
        for k in range(u.shape[1]):
            H = p.H0 + u[0, k] * p.controls[0] + u[1, k] * p.controls[1]
            S = scipy.linalg.expm(_liouvillian(H, p.jump_ops) * dt) @ S
        rho = (S[:, 0]).reshape(p.n, p.n).T  # ρ0 = |0⟩⟨0|: the first column of S
        return float(rho[1, 1].real)
    U = np.eye(p.n, dtype=complex)
    for k in range(u.shape[1]):
        U = (
            scipy.linalg.expm(-1j * dt * (p.H0 + u[0, k] * p.controls[0] + u[1, k] * p.controls[1]))
            @ U
        )
    return float(abs(np.trace(p.gate.conj().T @ U[:2, :2])) ** 2 / 4)


# ----------------------------------------------------------------------------- qdynamics


def run_qdynamics(p: Problem, u0: np.ndarray, max_iter: int, device: str = "cpu") -> dict:
    start = time.perf_counter()
    import torch

    import dynamics as qd
    from dynamics.control.fidelities import gate_fidelity
    from dynamics.control.optimize import optimize
    from dynamics.control.pulses import PWC

    options = {"dtype": torch.complex128, "device": device}
    H0 = torch.as_tensor(p.H0, **options)
    controls = [torch.as_tensor(Hk, **options) for Hk in p.controls]
    times = torch.linspace(0.0, p.T, NSLICES + 1, dtype=torch.float64, device=device)
    bounds = None if p.bound is None else (-p.bound, p.bound)
    pulse = PWC(times, 2, bounds=bounds, init=torch.as_tensor(u0, device=device))
    method = qd.method.Expm()
    if p.gate is None:
        Ls = [torch.as_tensor(L, **options) for L in p.jump_ops]
        index = 1 + p.n * 1  # ⟨1|ρ|1⟩ in vec(ρ) (column stacking); ρ0 = |0⟩⟨0| -> column 0

        def fidelity(pulse):
            S = qd.mepropagator(pulse.hamiltonian(H0, controls), Ls, [0.0, p.T], method=method)
            return S.final_propagator[..., index, 0].real

    else:
        gate = torch.as_tensor(p.gate, **options)

        def fidelity(pulse):
            U = qd.sepropagator(pulse.hamiltonian(H0, controls), [0.0, p.T], method=method)
            return gate_fidelity(U.final_propagator, gate, subspace=[0, 1])

    # Gates: minimise 1 - |g| (= 1 - sqrt(F)), the error qutip-qtrl's PSU fidelity uses.
    infidelity = "linear" if p.gate is None else "sqrt"
    res = optimize(
        pulse, fidelity, target=p.target, max_iter=max_iter, progress=False, infidelity=infidelity
    )
    wall = time.perf_counter() - start
    u = res.values.cpu().numpy()
    return {
        "u": u.tolist(),
        "fidelity": res.fidelity,
        "iterations": res.iterations,
        "evaluations": res.evaluations,
        "wall_s": wall,
        "reason": res.reason,
        "check": reference_fidelity(p, u),
    }


# ----------------------------------------------------------------------------- qutip-qtrl


def run_qtrl(p: Problem, u0: np.ndarray, max_iter: int) -> dict:
    start = time.perf_counter()
    import qutip
    from qutip_qtrl import pulseoptim

    common = {
        "num_tslots": NSLICES,
        "evo_time": p.T,
        "amp_lbound": None if p.bound is None else -p.bound,
        "amp_ubound": None if p.bound is None else p.bound,
        "max_iter": max_iter,
        "max_wall_time": 1e6,
        "optim_method": "LBFGSB",
        "fid_type": "UNIT",
        "fid_params": {"phase_option": "PSU"},
    }
    if p.gate is None:  # Lindblad dynamics of vec(ρ); fidelity |vec(|1⟩⟨1|)† vec(ρ(T))|
        drift = qutip.liouvillian(qutip.Qobj(p.H0), [qutip.Qobj(L) for L in p.jump_ops])
        ctrls = [qutip.liouvillian(qutip.Qobj(Hk)) for Hk in p.controls]
        rho0, rho1 = qutip.fock_dm(p.n, 0), qutip.fock_dm(p.n, 1)
        initial, target = qutip.operator_to_vector(rho0), qutip.operator_to_vector(rho1)
        optim = pulseoptim.create_pulse_optimizer(
            drift, ctrls, initial, target, dyn_type="GEN_MAT", fid_err_targ=1 - p.target, **common
        )
    else:  # |Tr(V† U)| / Tr(V† V) with V the gate on levels {0, 1}, zero elsewhere
        V = np.zeros((p.n, p.n), complex)
        V[:2, :2] = p.gate
        optim = pulseoptim.create_pulse_optimizer(
            qutip.Qobj(p.H0),
            [qutip.Qobj(Hk) for Hk in p.controls],
            qutip.qeye(p.n),
            qutip.Qobj(V),
            dyn_type="UNIT",
            fid_err_targ=1 - math.sqrt(p.target),
            **common,
        )
    optim.dynamics.init_timeslots()
    optim.dynamics.initialize_controls(u0.T.copy())
    res = optim.run_optimization()
    wall = time.perf_counter() - start
    u = np.asarray(res.final_amps).T
    fid = 1 - res.fid_err
    return {
        "u": u.tolist(),
        "fidelity": fid if p.gate is None else fid**2,
        "iterations": res.num_iter,
        "evaluations": res.num_fid_func_calls,
        "wall_s": wall,
        "reason": res.termination_reason,
        "check": reference_fidelity(p, u),
    }


# ----------------------------------------------------------------------------- driver


def _warm_up(against: str | None, device: str) -> None:
    p = problems()["C1"]
    run_qdynamics(p, p.initial(0), 2, device)
    run_qdynamics(problems()["C3"], p.initial(0), 1, device)
    if against:
        run_qtrl(p, p.initial(0), 2)


def run_case(p: Problem, seed: int, against, max_iter, device: str, repeat: int = 1) -> dict:
    """Both sides on one problem and seed; wall times are the median of `repeat` runs."""
    u0 = p.initial(seed)
    budget = p.max_iter if max_iter is None else max_iter
    row = {"problem": p.name, "seed": seed}
    row["ours"] = _median_run(lambda: run_qdynamics(p, u0, budget, device), repeat)
    if against:
        row["qtrl"] = _median_run(lambda: run_qtrl(p, u0, budget), repeat)
    for side in ("ours", "qtrl"):
        if side in row and abs(row[side]["check"] - row[side]["fidelity"]) > 1e-6:
            raise RuntimeError(
                f"{p.name} seed {seed}: {side} reports F = {row[side]['fidelity']} "
                f"but the reference gives {row[side]['check']}."
            )
    return row


def _median_run(run, repeat: int) -> dict:
    results = [run() for _ in range(repeat)]
    return results[0] | {"wall_s": float(np.median([r["wall_s"] for r in results]))}


def _table(rows: list[dict]) -> str:
    """One line per case; `*` marks a fidelity short of the problem's target."""
    head = f"{'problem':<9} {'seed':>4} {'our F':>15} {'iter':>5} {'evals':>6} {'our s':>8}"
    if any("qtrl" in r for r in rows):
        head += f" {'qtrl F':>15} {'iter':>5} {'evals':>6} {'qtrl s':>8} {'ratio':>6}"
    lines = [head, "-" * len(head)]
    target = {name: p.target for name, p in problems().items()}
    for r in rows:
        o, q = r["ours"], r.get("qtrl")
        line = f"{r['problem']:<9} {r['seed']:>4} {_cell(o, target[r['problem']])}"
        if q is not None:
            line += f" {_cell(q, target[r['problem']])} {o['wall_s'] / q['wall_s']:>6.2f}"
        lines.append(line)
    return "\n".join(lines)


def _cell(side: dict, target: float) -> str:
    mark = " " if side["fidelity"] >= target else "*"
    return (
        f"{side['fidelity']:>14.10f}{mark} {side['iterations']:>5} {side['evaluations']:>6} "
        f"{side['wall_s']:>8.3f}"
    )


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    names = [*problems(), "all"]
    parser.add_argument("--problem", default="C1", choices=names)
    parser.add_argument("--seed", type=int, default=None, help="one seed (default 0)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="several seeds")
    parser.add_argument("--against", choices=["qutip-qtrl"], default=None)
    parser.add_argument("--max-iter", type=int, default=None, help="iteration budget (500)")
    parser.add_argument("--out", default=None, help="JSON file for our result (one case)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--repeat", type=int, default=1, help="median wall time of this many runs")
    parser.add_argument("--smoke", action="store_true", help="C1, seed 0, 5 iterations")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if args.smoke:
        args.problem, args.seeds, args.max_iter = "C1", [0], 5
        args.against = "qutip-qtrl" if _has_qtrl() else None
    seeds = args.seeds or [0 if args.seed is None else args.seed]
    cases = [(p, s) for p in _selected(args.problem) for s in seeds]
    _warm_up(args.against, args.device)
    rows = [run_case(p, s, args.against, args.max_iter, args.device, args.repeat) for p, s in cases]
    print(_table(rows))
    if args.against:
        print(
            "ratio = our wall time / qutip-qtrl's (below 1: qdynamics is faster); "
            "* = target not reached"
        )
    if args.out is not None:
        ours = {k: v for k, v in rows[0]["ours"].items() if k != "check"}
        with open(args.out, "w") as f:
            json.dump({"problem": rows[0]["problem"], "seed": rows[0]["seed"], **ours}, f)
    return [_runner_row(r) for r in rows]


def _selected(name: str) -> list[Problem]:
    ps = problems()
    return list(ps.values()) if name == "all" else [ps[name]]


def _has_qtrl() -> bool:
    try:
        import qutip_qtrl  # noqa: F401
    except ImportError:
        return False
    return True


def _runner_row(row: dict) -> dict:
    """A row for `benchmarks/run.py`: times in the table of ratios, the rest as report."""
    out = {"benchmark": f"control_{row['problem']}", "size": NSLICES, "seed": row["seed"]}
    out["fidelity"] = {"qdynamics": row["ours"]["fidelity"]}
    out["times"] = {"qdynamics": row["ours"]["wall_s"]}
    if "qtrl" in row:
        out["times"]["qutip-qtrl"] = row["qtrl"]["wall_s"]
        out["fidelity"]["qutip-qtrl"] = row["qtrl"]["fidelity"]
    return out


if __name__ == "__main__":
    sys.exit(main() and 0)
