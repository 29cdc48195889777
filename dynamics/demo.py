r"""A one-minute tour of qdynamics: `python -m dynamics.demo [--fast] [--out PATH]`.

1. A driven, damped Kerr oscillator with `mesolve`:
   $H = -\frac{K}{2} a^{\dagger 2} a^2 + \varepsilon (a + a^\dagger)$,
   $L = \sqrt{\kappa}\, a$, $K = 1$, $\varepsilon = 2$, $\kappa = 1$, from vacuum.
2. 256 Rabi experiments in one batched `sesolve` call: a qubit driven at Rabi
   frequency $\Omega$ with detuning $\Delta$, $H = \frac{\Delta}{2}\sigma_z +
   \frac{\Omega}{2}\sigma_x$, one detuning per batch element, checked against
   $P_1(t) = \frac{\Omega^2}{W^2}\sin^2\frac{W t}{2}$, $W = \sqrt{\Omega^2 + \Delta^2}$,
   and differentiated with respect to $\Omega$ by backpropagation through the solver.
3. A summary on stdout and a figure (⟨a†a⟩(t), the Wigner function of the final
   Kerr state, the Rabi chevron) written as a PNG.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure

import dynamics as qd
from dynamics.plot import plot_expects, plot_wigner

__all__ = ["main"]


@dataclass(frozen=True)
class _Sizes:
    n: int  # Kerr oscillator Fock space truncation
    nbatch: int  # number of Rabi detunings
    npixels: int  # Wigner grid


_FULL = _Sizes(n=32, nbatch=256, npixels=121)
_FAST = _Sizes(n=8, nbatch=16, npixels=31)


def _kerr(n: int) -> tuple[qd.Result, float]:
    """Driven-damped Kerr oscillator, K = 1, ε = 2, κ = 1, from vacuum, t ∈ [0, 10]."""
    K, eps, kappa = 1.0, 2.0, 1.0
    a, ad = qd.destroy(n), qd.create(n)
    H = -K / 2 * ad @ ad @ a @ a + eps * (a + ad)
    tsave = torch.linspace(0.0, 10.0, 101)
    start = time.perf_counter()
    result = qd.mesolve(
        H,
        [math.sqrt(kappa) * a],
        qd.fock(n, 0),
        tsave,
        exp_ops=[qd.number(n), qd.parity(n)],
        method=qd.method.Tsit5(rtol=1e-6, atol=1e-8),
        options=qd.Options(save_states=False),
    )
    return result, time.perf_counter() - start


@dataclass(frozen=True)
class _Rabi:
    result: qd.Result
    detunings: torch.Tensor
    max_error: float  # max |P₁ − analytic| over the batch and the save times
    grad: float  # d/dΩ Σ_Δ P₁(T) by backpropagation through sesolve
    grad_exact: float  # the same from the analytic formula
    seconds: float


def _rabi(nbatch: int) -> _Rabi:
    """`nbatch` detunings Δ ∈ [-3, 3] at Ω = 1 in one `sesolve` call, plus dΣP₁(T)/dΩ."""
    omega = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    detunings = torch.linspace(-3.0, 3.0, nbatch, dtype=torch.float64)
    H = detunings[:, None, None] / 2 * qd.sigmaz() + omega / 2 * qd.sigmax()  # (nbatch, 2, 2)
    tsave = torch.linspace(0.0, 4 * math.pi, 201, dtype=torch.float64)
    start = time.perf_counter()
    result = qd.sesolve(H, qd.basis(2, 0), tsave, exp_ops=[qd.fock_dm(2, 1)])
    p1 = result.expects[:, 0].real  # (nbatch, ntsave)
    (grad,) = torch.autograd.grad(p1[:, -1].sum(), omega)
    seconds = time.perf_counter() - start
    exact = _rabi_formula(omega, detunings[:, None], tsave)
    (grad_exact,) = torch.autograd.grad(exact[:, -1].sum(), omega)
    return _Rabi(
        result=result,
        detunings=detunings,
        max_error=(p1 - exact).abs().max().item(),
        grad=grad.item(),
        grad_exact=grad_exact.item(),
        seconds=seconds,
    )


def _rabi_formula(omega: torch.Tensor, delta: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    W = torch.sqrt(omega**2 + delta**2)
    return (omega / W) ** 2 * torch.sin(W * t / 2) ** 2


def _figure(kerr: qd.Result, rabi: _Rabi, npixels: int, path: Path) -> None:
    fig = Figure(figsize=(15, 4.2), layout="constrained")
    ax_n, ax_w, ax_r = fig.subplots(1, 3)
    plot_expects(
        kerr.tsave, kerr.expects, ax=ax_n, labels=[r"$\langle a^\dagger a\rangle$", "parity"]
    )
    ax_n.set_title("Driven-damped Kerr oscillator (mesolve)")
    plot_wigner(kerr.final_state, ax=ax_w, xmax=4.0, npixels=npixels)
    ax_w.set_title(f"Wigner function at t = {kerr.tsave[-1].item():g}")
    t, d = rabi.result.tsave, rabi.detunings
    p1 = rabi.result.expects[:, 0].real.detach()
    image = ax_r.imshow(
        p1.T.numpy(),
        origin="lower",
        aspect="auto",
        extent=(d[0].item(), d[-1].item(), t[0].item(), t[-1].item()),
        cmap="viridis",
        vmin=0.0,
        vmax=1.0,
    )
    fig.colorbar(image, ax=ax_r, label=r"$P_1$")
    ax_r.set_xlabel(r"detuning $\Delta / \Omega$")
    ax_r.set_ylabel(r"time $\Omega t$")
    ax_r.set_title(f"Rabi chevron: {len(d)} simulations in one sesolve")
    fig.savefig(path, dpi=110)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dynamics.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("qdynamics_demo.png"),
        help="PNG to write (default: %(default)s)",
    )
    parser.add_argument(
        "--fast", action="store_true", help="small sizes (a few seconds; for tests)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: fastest for these small matrices)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    """Run the demo, print a summary and write the figure.

    Args:
        argv: Command-line arguments (default: `sys.argv[1:]`): `--out PATH`, `--fast`,
            `--threads N` (torch CPU threads during the demo, default 1, restored after).

    Returns:
        The path of the PNG written.
    """
    args = _parse(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args: argparse.Namespace) -> Path:
    sizes = _FAST if args.fast else _FULL
    start = time.perf_counter()
    threads = torch.get_num_threads()
    print(f"qdynamics {qd.__version__} demo, torch {torch.__version__}, {threads} thread(s)")

    kerr, kerr_seconds = _kerr(sizes.n)
    print(_kerr_summary(kerr, sizes.n, kerr_seconds))
    rabi = _rabi(sizes.nbatch)
    print(_rabi_summary(rabi))

    path = args.out.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    _figure(kerr, rabi, sizes.npixels, path)
    print(f"\n[3] figure written to {path}")
    print(f"total wall time {time.perf_counter() - start:.2f} s")
    return path


def _kerr_summary(kerr: qd.Result, n: int, seconds: float) -> str:
    n_final, parity_final = kerr.expects[:, -1].real.tolist()
    n_max = kerr.expects[0].real.max().item()
    return (
        f"\n[1] Kerr oscillator, mesolve, n = {n}, Tsit5 (rtol 1e-6, atol 1e-8): "
        f"{seconds:.2f} s, {kerr.infos['steps']} steps, {kerr.infos['nfev']} evaluations\n"
        f"    ⟨a†a⟩(10) = {n_final:.6f}   ⟨parity⟩(10) = {parity_final:.6f}   "
        f"max_t ⟨a†a⟩(t) = {n_max:.6f}"
    )


def _rabi_summary(rabi: _Rabi) -> str:
    infos, nbatch, ntsave = rabi.result.infos, len(rabi.detunings), len(rabi.result.tsave)
    return (
        f"\n[2] {nbatch} Rabi experiments in one sesolve call, plus backward: "
        f"{rabi.seconds:.2f} s, {infos['steps']} steps, {infos['nfev']} evaluations\n"
        f"    max |P₁ − analytic| over the batch and {ntsave} times = {rabi.max_error:.1e}\n"
        f"    d/dΩ Σ_Δ P₁(4π): autograd {rabi.grad:.8f}, analytic {rabi.grad_exact:.8f}"
    )


if __name__ == "__main__":
    main()
