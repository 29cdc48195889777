"""Cost of gradients: time and peak memory of forward + backward, per gradient mode.

The Kerr oscillator H = -K/2 a†a†aa + ε(a + a†), L = √κ a (K = 1, ε = 2, κ = 1,
vacuum, n = 32), loss ⟨a†a⟩ at t = 10, gradient with respect to ε and K. Each case
runs in its own process (peak memory is that process's maximum resident set size)
and is reported as a ratio to the forward pass without gradient of the same
configuration: adaptive Tsit5 (rtol 1e-6, atol 1e-8) and fixed steps (1,000, 3,000,
10,000 Dopri8 steps). In the same run: torchdiffeq's `odeint_adjoint` on the same right-hand side
(if installed, with a time limit; dynamiqs' gradient is in `suite.py`, problem P4, which
reuses this file's torchdiffeq code). Gradients are checked against central finite
differences of the same discretisation.

    python benchmarks/kerr_gradient.py            # the full table
    python benchmarks/kerr_gradient.py --smoke    # n = 8, few steps (CI)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

TFINAL = 10.0


def build(n: int, K, eps):
    import torch

    import dynamics as qd

    a = qd.destroy(n)
    H = -K / 2 * a.mH @ a.mH @ a @ a + eps * (a + a.mH)
    return qd, torch, a, H


def method_for(qd, steps: int | None):
    """Adaptive Tsit5, or Dopri8 with fixed steps.

    Tsit5 and RK4 are unstable at 1,000 steps here (the Kerr spectrum reaches
    |λ| ≈ K n²/2); Dopri8's larger stability region is not.
    """
    return qd.method.Tsit5() if steps is None else qd.method.Dopri8(dt=TFINAL / steps)


def run_qdynamics(n: int, mode: str, steps: int | None) -> dict:
    import torch

    import dynamics as qd

    grad = {
        "forward": None,
        "Direct": qd.gradient.Direct(),
        "Checkpointed": qd.gradient.Checkpointed(ncheckpoints=100),
        "Adjoint": qd.gradient.Adjoint(),
    }[mode]
    req = mode != "forward"
    K = torch.tensor(1.0, dtype=torch.float64, requires_grad=req)
    eps = torch.tensor(2.0, dtype=torch.float64, requires_grad=req)
    start = time.perf_counter()
    _, _, a, H = build(n, K, eps)
    res = qd.mesolve(
        H,
        [a],
        qd.fock(n, 0),
        torch.tensor([0.0, TFINAL]),
        exp_ops=[a.mH @ a],
        method=method_for(qd, steps),
        gradient=grad,
        options=qd.Options(save_states=False),
    )
    loss = res.expects[0, -1].real
    grads = torch.autograd.grad(loss, (eps, K)) if req else (None, None)
    return {
        "time": time.perf_counter() - start,
        "loss": loss.item(),
        "grads": [None if g is None else g.item() for g in grads],
        "steps": res.infos["steps"],
    }


def run_torchdiffeq(n: int, steps: int | None) -> dict:
    import torch
    from torchdiffeq import odeint_adjoint

    import dynamics as qd

    class Kerr(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.K = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
            self.eps = torch.nn.Parameter(torch.tensor(2.0, dtype=torch.float64))
            self.a = qd.destroy(n)

        def forward(self, t, x):  # torchdiffeq's adjoint needs real states: (n, n, 2) pairs
            a, rho = self.a, torch.complex(x[..., 0], x[..., 1])
            H = -self.K / 2 * a.mH @ a.mH @ a @ a + self.eps * (a + a.mH)
            Heff = H - 0.5j * a.mH @ a
            X = -1j * Heff @ rho
            return torch.view_as_real(X + X.mH + a @ rho @ a.mH)

    f = Kerr()
    start = time.perf_counter()
    # torchdiffeq has no fixed-step Dopri8: its fixed-step runs use RK4 (unstable at 1,000).
    opts = {} if steps is None else {"method": "rk4", "options": {"step_size": TFINAL / steps}}
    sol = odeint_adjoint(
        f,
        torch.view_as_real(qd.fock_dm(n, 0)).contiguous(),
        torch.tensor([0.0, TFINAL], dtype=torch.float64),
        rtol=1e-6,
        atol=1e-8,
        **opts,
    )
    loss = torch.einsum(
        "ij,ji->", (f.a.mH @ f.a), torch.complex(sol[-1][..., 0], sol[-1][..., 1])
    ).real
    loss.backward()
    return {
        "time": time.perf_counter() - start,
        "loss": loss.item(),
        "grads": [f.eps.grad.item(), f.K.grad.item()],
        "steps": None,
    }


def child(args) -> None:
    import resource

    import torch

    torch.set_num_threads(1)
    if args.mode == "torchdiffeq":
        out = run_torchdiffeq(args.size, args.steps)
    else:
        out = run_qdynamics(args.size, args.mode, args.steps)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec (a child's is at
    # least its parent's RSS at the fork)
    with open("/proc/self/status") as f:
        hwm = next((int(x.split()[1]) for x in f if x.startswith("VmHWM:")), None)
    out["maxrss_mb"] = (
        hwm / 1024 if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    print(json.dumps(out))


def spawn(size: int, mode: str, steps: int | None, timeout: float) -> dict | None:
    cmd = [sys.executable, __file__, "--child", "--size", str(size), "--mode", mode]
    if steps is not None:
        cmd += ["--steps", str(steps)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as err:
        return {"error": err.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def finite_differences(size: int, steps: int | None, h: float = 1e-5) -> list[float]:
    """Central differences of the loss of the same discretisation (tight tolerance if adaptive)."""
    import torch

    import dynamics as qd

    method = qd.method.Tsit5(rtol=1e-11, atol=1e-13) if steps is None else method_for(qd, steps)

    def loss(K, eps):
        _, _, a, H = build(
            size, torch.tensor(K, dtype=torch.float64), torch.tensor(eps, dtype=torch.float64)
        )
        res = qd.mesolve(H, [a], qd.fock(size, 0), [0.0, TFINAL], exp_ops=[a.mH @ a], method=method)
        return res.expects[0, -1].real.item()

    with torch.no_grad():
        d_eps = (loss(1.0, 2.0 + h) - loss(1.0, 2.0 - h)) / (2 * h)
        d_K = (loss(1.0 + h, 2.0) - loss(1.0 - h, 2.0)) / (2 * h)
    return [d_eps, d_K]


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--smoke", action="store_true", help="n = 8, few steps, no torchdiffeq")
    p.add_argument("--timeout", type=float, default=120.0, help="time limit per case (s)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="forward", help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return []
    size = 8 if args.smoke else args.size
    configs = [None, 100, 300] if args.smoke else [None, 1000, 3000, 10000]
    modes = ["Direct", "Checkpointed", "Adjoint"]
    rows = []
    print(f"Kerr oscillator n = {size}: gradient of <a†a>(t = {TFINAL}) w.r.t. (eps, K)")
    print(
        f"{'steps':>9} {'mode':>13} {'time':>8} {'x fwd':>6} {'peak MB':>8} {'x fwd':>6} {'max rel err vs FD':>18}"
    )
    for steps in configs:
        fwd = spawn(size, "forward", steps, args.timeout)
        fd = finite_differences(size, steps)
        label = "adaptive" if steps is None else str(steps)
        print(
            f"{label:>9} {'forward':>13} {fwd['time']:8.2f} {1:6.2f} {fwd['maxrss_mb']:8.0f} {1:6.2f}"
        )
        extra = [] if args.smoke else ["torchdiffeq"]
        for mode in modes + extra:
            r = spawn(size, mode, steps, args.timeout)
            if r is not None and "error" in r:
                print(f"{label:>9} {mode:>13}  failed: {r['error']}")
                rows.append({"steps": steps, "mode": mode, "error": r["error"]})
                continue
            if r is None:
                print(
                    f"{label:>9} {mode:>13} {'>' + str(int(args.timeout)) + 's':>8}  (time limit)"
                )
                rows.append({"steps": steps, "mode": mode, "timeout": True})
                continue
            err = max(abs(g - f) / abs(f) for g, f in zip(r["grads"], fd))
            row = {
                "steps": steps,
                "mode": mode,
                "time": r["time"],
                "time_ratio": r["time"] / fwd["time"],
                "peak_mb": r["maxrss_mb"],
                "mem_ratio": r["maxrss_mb"] / fwd["maxrss_mb"],
                "fd_err": err,
            }
            rows.append(row)
            print(
                f"{label:>9} {mode:>13} {r['time']:8.2f} {row['time_ratio']:6.2f} "
                f"{r['maxrss_mb']:8.0f} {row['mem_ratio']:6.2f} {err:18.2e}"
            )
    return rows


if __name__ == "__main__":
    main()
