"""Driven-damped Kerr oscillator with `mesolve`: qdynamics against QuTiP, in one process.

H = -K/2 a†a†aa + ε(a + a†), L = √κ a, K = 1, ε = 2, κ = 1, from vacuum, t ∈ [0, 10]
with 101 save times and ⟨a†a⟩ saved. Both solvers run at rtol 1e-6, atol 1e-8:
qdynamics with Tsit5, QuTiP with its default method (`adams`). The two must agree on
⟨a†a⟩(t) to 1e-4; each is warmed up once, then timed as the median of `--runs` runs.
Torch runs on one CPU thread unless `--threads` says otherwise: at these sizes a
second thread does not help, and on a loaded machine MKL's threaded complex matrix
product slows down by orders of magnitude (measured: 32×32 `zgemm` 8 µs on one
thread, 5 ms on two with the machine's cores busy).

    python benchmarks/kerr_mesolve.py --size 32 [--device cpu] [--runs 5] [--threads 1] [--smoke]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import qutip
import torch

import dynamics as qd

K, EPS, KAPPA, T_END, NTSAVE = 1.0, 2.0, 1.0, 10.0, 101
RTOL, ATOL = 1e-6, 1e-8
TOLERANCE = 1e-4  # max |⟨a†a⟩_qdynamics − ⟨a†a⟩_QuTiP| allowed


def qdynamics_solve(n: int, device: str, compile: bool = False) -> Callable[[], qd.Result]:
    """Build the problem once; return a callable that solves it (`compile`: compiled steps)."""
    a = qd.destroy(n, device=device)
    ad = a.mH
    H = -K / 2 * ad @ ad @ a @ a + EPS * (a + ad)
    jump_ops = [KAPPA**0.5 * a]
    rho0 = qd.fock_dm(n, 0, device=device)
    tsave = torch.linspace(0.0, T_END, NTSAVE, dtype=torch.float64, device=device)
    method = qd.method.Tsit5(rtol=RTOL, atol=ATOL, compile=compile)
    options = qd.Options(save_states=False)
    exp_ops = [qd.number(n, device=device)]

    def solve() -> qd.Result:
        return qd.mesolve(H, jump_ops, rho0, tsave, exp_ops=exp_ops, method=method, options=options)

    return solve


def qutip_solve(n: int) -> Callable[[], qutip.solver.Result]:
    """Build the same problem in QuTiP; return a callable that solves it."""
    a = qutip.destroy(n)
    H = -K / 2 * a.dag() * a.dag() * a * a + EPS * (a + a.dag())
    rho0 = qutip.fock_dm(n, 0)
    tlist = np.linspace(0.0, T_END, NTSAVE)
    options = {"rtol": RTOL, "atol": ATOL, "nsteps": 1_000_000}

    def solve() -> qutip.solver.Result:
        return qutip.mesolve(H, rho0, tlist, [KAPPA**0.5 * a], e_ops=[a.dag() * a], options=options)

    return solve


def median_time(solve: Callable[[], object], runs: int, device: str) -> float:
    """Median wall time of `runs` calls of `solve` (warm it up first)."""
    times = []
    for _ in range(runs):
        _synchronize(device)
        start = time.perf_counter()
        solve()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _synchronize(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=32, help="Fock truncation n (default 32)")
    parser.add_argument("--device", default="cpu", help="torch device for qdynamics")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after one warm-up")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: QuTiP's solver is single-threaded too)",
    )
    parser.add_argument("--smoke", action="store_true", help="n = 8, one run (for CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.runs = 8, 1
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print a report and return its numbers."""
    args = parse(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args: argparse.Namespace) -> dict:
    n, device = args.size, args.device
    print(
        f"kerr_mesolve: n = {n}, device {device}, {torch.get_num_threads()} torch thread(s), "
        f"median of {args.runs} run(s) after one warm-up"
    )
    ours, theirs = qdynamics_solve(n, device), qutip_solve(n)
    res_qd, res_qt = ours(), theirs()  # the warm-up runs, also checked against each other
    photons = res_qd.expects[0].real.cpu().numpy()
    diff = float(np.max(np.abs(photons - np.asarray(res_qt.expect[0]).real)))
    print(f"  max |Δ⟨a†a⟩| qdynamics vs QuTiP: {diff:.2e} (must be < {TOLERANCE:g})")
    assert diff < TOLERANCE, f"qdynamics and QuTiP disagree on ⟨a†a⟩ by {diff:.2e}"
    t_qd = median_time(ours, args.runs, device)
    t_qt = median_time(theirs, args.runs, "cpu")
    infos = res_qd.infos
    print(
        f"  qdynamics (Tsit5): {t_qd:.4f} s, {infos['steps']} steps "
        f"({infos['rejected']} rejected), {infos['nfev']} evaluations"
    )
    print(f"  QuTiP (adams):     {t_qt:.4f} s")
    print(f"  ratio qdynamics / QuTiP: {t_qd / t_qt:.2f}")
    return {
        "benchmark": "kerr_mesolve",
        "size": n,
        "times": {"qdynamics": t_qd, "qutip": t_qt},
        "max_diff": {"qutip": diff},
        "steps": infos["steps"],
        "nfev": infos["nfev"],
    }


if __name__ == "__main__":
    main()
