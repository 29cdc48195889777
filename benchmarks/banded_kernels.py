"""Micro-benchmark: dense against banded (DIA) products, one thread.

Times one Lindblad right-hand side of the driven-damped Kerr oscillator
(H = -K/2 a†a†aa + ε(a + a†), L = √κ a) at n = 16…128, dense (`lindblad_rhs`) and
banded (`banded_lindblad_rhs`), and `H @ psi` for the transverse-field Ising chain
H = -Σ σz_i σz_{i+1} - 0.7 Σ σx_i at N = 8, 10, 12 spins (psi of shape (2^N, 1)).
Prints a table of µs per call (best of several blocks: the machine is shared).

    python benchmarks/banded_kernels.py [--smoke] [--device cpu]
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from dynamics._banded import Banded, banded_lindblad_rhs, is_banded_enough, kron
from dynamics._lindblad_rhs import lindblad_rhs


def _time(f, blocks: int, budget: float, sync) -> float:
    f()
    sync()
    best = math.inf
    for _ in range(blocks):
        calls, t0 = 0, time.perf_counter()
        while True:
            f()
            calls += 1
            sync()
            elapsed = time.perf_counter() - t0
            if elapsed > budget:
                break
        best = min(best, elapsed / calls)
    return best * 1e6


def _kerr(n: int, device, K: float = 1.0, eps: float = 2.0, kappa: float = 1.0):
    a = torch.diag(torch.arange(1, n, dtype=torch.float64).sqrt(), 1).to(torch.complex128)
    a = a.to(device)
    ad = a.mH
    H = -K / 2 * ad @ ad @ a @ a + eps * (a + ad)
    L = math.sqrt(kappa) * a
    return -1j * H - 0.5 * L.mH @ L, L


def _ising(N: int, device):
    c = torch.complex128
    sx = Banded.from_dense(torch.tensor([[0, 1], [1, 0]], dtype=c, device=device))
    sz = Banded.from_dense(torch.tensor([[1, 0], [0, -1]], dtype=c, device=device))
    eye = Banded.from_dense(torch.eye(2, dtype=c, device=device))

    def site(ops: dict) -> Banded:
        out = ops.get(0, eye)
        for i in range(1, N):
            out = kron(out, ops.get(i, eye))
        return out

    H = -1.0 * site({0: sz, 1: sz})
    for i in range(1, N - 1):
        H = H - site({i: sz, i + 1: sz})
    for i in range(N):
        H = H - 0.7 * site({i: sx})
    return H


def main(argv: list[str] | None = None) -> list[dict]:
    """Run the micro-benchmark and print the table; return its rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, short timings")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    blocks, budget = (1, 0.01) if args.smoke else (7, 0.1)
    rows = []
    for n in (8,) if args.smoke else (16, 32, 64, 128):
        A, L = _kerr(n, device)
        rho = torch.randn(n, n, dtype=torch.complex128, device=device)
        rho = rho @ rho.mH
        Ab, Lb = Banded.from_dense(A), Banded.from_dense(L)
        jumps = [(L, L.mH.contiguous())]
        ref = lindblad_rhs(rho, A, None, jumps, True)
        assert torch.allclose(banded_lindblad_rhs(rho, Ab, [Lb]), ref, atol=1e-10)
        dense = _time(
            lambda rho=rho, A=A, jumps=jumps: lindblad_rhs(rho, A, None, jumps, True),
            blocks,
            budget,
            sync,
        )
        banded = _time(
            lambda rho=rho, Ab=Ab, Lb=Lb: banded_lindblad_rhs(rho, Ab, [Lb]), blocks, budget, sync
        )
        ok = is_banded_enough(Ab.offsets, n)
        rows.append(
            {
                "case": "kerr lindblad rhs",
                "size": n,
                "dense_us": dense,
                "banded_us": banded,
                "is_banded_enough": ok,
            }
        )
    for N in (4,) if args.smoke else (8, 10, 12):
        Hb = _ising(N, device)
        H = Hb.to_dense()
        psi = torch.randn(2**N, 1, dtype=torch.complex128, device=device)
        assert torch.allclose(Hb.matmul(psi), H @ psi, atol=1e-10)
        dense = _time(lambda H=H, psi=psi: H @ psi, blocks, budget, sync)
        banded = _time(lambda Hb=Hb, psi=psi: Hb.matmul(psi), blocks, budget, sync)
        ok = is_banded_enough(Hb.offsets, 2**N)
        rows.append(
            {
                "case": f"ising H @ psi (N={N})",
                "size": 2**N,
                "dense_us": dense,
                "banded_us": banded,
                "is_banded_enough": ok,
            }
        )
    print(f"{'case':<24} {'n':>5} {'dense µs':>10} {'banded µs':>10} {'ratio':>7} {'banded?':>8}")
    for r in rows:
        print(
            f"{r['case']:<24} {r['size']:>5} {r['dense_us']:>10.1f} {r['banded_us']:>10.1f} "
            f"{r['banded_us'] / r['dense_us']:>7.2f} {r['is_banded_enough']!s:>8}"
        )
    return rows


if __name__ == "__main__":
    main()
