# %% [markdown]
# # Gradients of simulations: Direct, Checkpointed and Adjoint
#
# **Goal.** Differentiate the result of a solver with respect to a physical parameter,
# check the derivative against a closed-form formula, and compare the three ways
# `qdynamics` computes gradients (`qd.gradient.Direct`, `Checkpointed`, `Adjoint`) by
# their measured time and peak memory as the number of integration steps grows.
#
# **Physics.** A qubit driven at Rabi frequency $\Omega$ with detuning $\Delta$,
# $H = \frac{\Delta}{2}\sigma_z + \frac{\Omega}{2}\sigma_x$, starting in $|0\rangle$,
# has the excited population (Rabi's formula, with $W = \sqrt{\Omega^2 + \Delta^2}$)
#
# $$
# P(t) = \frac{\Omega^2}{W^2}\sin^2\frac{W t}{2},
# \qquad
# \frac{\partial P}{\partial \Omega}
#   = \frac{2\Omega\Delta^2}{W^4}\sin^2\frac{Wt}{2}
#   + \frac{\Omega^2 t}{2W^2}\,\frac{\Omega}{W}\sin(W t).
# $$
#
# **API.** `qd.sesolve`, `qd.mesolve` with `gradient=`; `qd.method.Tsit5` (adaptive)
# and `qd.method.RK4(dt=...)` (fixed steps).

# %%
import ctypes
import gc
import os
import subprocess
import sys
import textwrap
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import dynamics as qd

FAST = os.environ.get("QD_TUTORIAL_FAST") == "1"

delta = 0.6
tsave = torch.linspace(0.0, 8.0, 81, dtype=torch.float64)
proj1 = qd.fock_dm(2, 1)  # |1⟩⟨1|


def rabi_exact(omega, t):
    W = torch.sqrt(omega**2 + delta**2)
    return omega**2 / W**2 * torch.sin(W * t / 2) ** 2


def drabi_domega_exact(omega, t):
    W = torch.sqrt(omega**2 + delta**2)
    return 2 * omega * delta**2 / W**4 * torch.sin(W * t / 2) ** 2 + omega**3 * t / (
        2 * W**3
    ) * torch.sin(W * t)


def population(omega, gradient=None):
    """P(t) at every time of `tsave`; `omega` may be a batch `(B,)` of drive strengths."""
    H = delta / 2 * qd.sigmaz() + omega[..., None, None] / 2 * qd.sigmax()
    result = qd.sesolve(
        H,
        qd.basis(2, 0),
        tsave,
        exp_ops=[proj1],
        method=qd.method.Tsit5(rtol=1e-10, atol=1e-12),
        gradient=gradient,
    )
    return result.expects[..., 0, :].real  # (..., ntsave)


# %% [markdown]
# ## One derivative, checked against Rabi's formula
#
# The drive strength is a tensor that requires grad; the solver sees it inside `H`
# and the gradient flows back through the integration. The loss is the population at
# the final time $t = 8$.

# %%
omega = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
P = population(omega)
P[-1].backward()
exact = drabi_domega_exact(omega.detach(), tsave[-1])
print(f"P(t=8) = {P[-1].item():.10f}  (Rabi: {rabi_exact(omega.detach(), tsave[-1]).item():.10f})")
print(f"dP/dΩ  = {omega.grad.item():.10f}  (Rabi: {exact.item():.10f})")
assert torch.allclose(P.detach(), rabi_exact(omega.detach(), tsave), atol=1e-8)
assert torch.allclose(omega.grad, exact, rtol=1e-6)

# %% [markdown]
# ## Every gradient mode gives the same number
#
# The gradient mode is chosen per call. `Direct()` backpropagates through every step
# (the autograd graph of the whole integration is kept in memory); `Checkpointed(n)`
# keeps only `n` states in the forward pass and recomputes each segment in the
# backward pass; `Adjoint()` steps the adjoint state backwards through the same
# steps. All three are *exact* derivatives of the same discretisation, so they agree
# to rounding error.

# %%
modes = {
    "Direct": qd.gradient.Direct(),
    "Checkpointed": qd.gradient.Checkpointed(ncheckpoints=5),
    "Adjoint": qd.gradient.Adjoint(),
}
grads = {}
for name, mode in modes.items():
    omega = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    population(omega, mode)[-1].backward()
    grads[name] = omega.grad.item()
    print(f"{name:13s} dP/dΩ = {grads[name]:.12f}")
    assert abs(grads[name] - exact.item()) < 1e-6 * abs(exact.item())

# %% [markdown]
# ## A whole derivative curve in one backward pass
#
# A batch of drive strengths $\Omega_b$ is one batched solve (batch dimensions
# broadcast, see tutorial 5). As $P_b$ depends on $\Omega_b$ only, the gradient of
# $\sum_b P_b(t)$ is the vector of every $\partial P_b/\partial\Omega_b$: one backward
# pass (a vector–Jacobian product with $v = 1$, tutorial 1) gives the whole curve.

# %%
omegas = torch.linspace(0.1, 3.0, 30 if FAST else 60, dtype=torch.float64, requires_grad=True)
P_final = population(omegas, qd.gradient.Adjoint())[..., -1]  # (B,)
(dP,) = torch.autograd.grad(P_final.sum(), omegas)
dP_exact = drabi_domega_exact(omegas.detach(), tsave[-1])
err = (dP - dP_exact).abs().max().item()
print(f"max |autograd - Rabi| over {len(omegas)} drive strengths: {err:.2e}")
assert err < 1e-6

# %% [markdown]
# ## Cost: time and peak memory against the number of steps
#
# The three modes differ in cost. To measure it we differentiate a driven, damped Kerr
# oscillator, $H = -\frac K2 a^{\dagger2}a^2 + \varepsilon(a + a^\dagger)$,
# $L = \sqrt\kappa\,a$ ($n = 16$ levels, $t \in [0, 3]$), with the fixed-step `RK4`
# method, so that we choose the number of steps $N$; the loss is $\langle a^\dagger a\rangle$
# at the final time and the gradient is taken with respect to $K$ and $\varepsilon$.
#
# **Measuring memory honestly.** Python's `tracemalloc` does not see the buffers torch
# allocates, and `resource.getrusage(...).ru_maxrss` is the peak of the whole process
# since it started, which an earlier, larger computation may already have set. On
# Linux we can do better: writing `5` to `/proc/self/clear_refs` resets the kernel's
# record of the peak resident memory (`VmHWM` in `/proc/self/status`), and glibc's
# `malloc_trim(0)` first hands the memory freed by earlier cases back to the system,
# so that a case cannot hide in it. The peak of a case is then `VmHWM` after it minus
# `VmRSS` before it. (On a GPU, `torch.cuda.reset_peak_memory_stats()` and
# `torch.cuda.max_memory_allocated()` do the same job.) In the full run we also
# check one case against a fresh Python process's `ru_maxrss`.

# %%
LINUX = sys.platform.startswith("linux") and os.path.exists("/proc/self/clear_refs")
N_LEVELS = 16
a = qd.destroy(N_LEVELS)


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key)) / 1024


def reset_peak() -> float:
    """Release freed heap memory, reset the peak, return the current resident memory (MB)."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_mb("VmRSS")


def kerr_gradient(mode: str, nsteps: int, T: float = 3.0) -> dict:
    """Time and peak memory of one solve + gradient of ⟨a†a⟩(T) w.r.t. (K, ε)."""
    grad = {
        "forward": None,
        "Direct": qd.gradient.Direct(),
        "Checkpointed": qd.gradient.Checkpointed(ncheckpoints=10),
        "Adjoint": qd.gradient.Adjoint(),
    }[mode]
    K = torch.tensor(1.0, dtype=torch.float64, requires_grad=grad is not None)
    eps = torch.tensor(1.5, dtype=torch.float64, requires_grad=grad is not None)
    rss0 = reset_peak() if LINUX else float("nan")
    start = time.perf_counter()
    H = -K / 2 * a.mH @ a.mH @ a @ a + eps * (a + a.mH)
    result = qd.mesolve(
        H,
        [a],
        qd.fock(N_LEVELS, 0),
        [0.0, T],
        exp_ops=[a.mH @ a],
        method=qd.method.RK4(dt=T / nsteps),
        gradient=grad,
        options=qd.Options(save_states=False),
    )
    loss = result.expects[0, -1].real
    g = torch.autograd.grad(loss, (K, eps)) if grad is not None else (torch.zeros(()),) * 2
    wall = time.perf_counter() - start
    peak = _status_mb("VmHWM") - rss0 if LINUX else float("nan")
    return {"time": wall, "peak_mb": peak, "grad": [x.item() for x in g]}


threads = torch.get_num_threads()
torch.set_num_threads(1)  # one thread: times comparable from machine to machine
names = ["forward", "Direct", "Checkpointed", "Adjoint"]
for name in names:  # warm-up: first-call costs (lazy imports) stay out of the measurement
    kerr_gradient(name, 10, T=0.1)
steps = [200, 400, 800] if FAST else [250, 500, 1000, 2000, 4000]
measured = {(name, n): kerr_gradient(name, n) for name in names for n in steps}
torch.set_num_threads(threads)  # restore

print(f"{'steps':>6} {'mode':>13} {'time (s)':>9} {'peak (MB)':>10}")
for n in steps:
    for name in names:
        m = measured[name, n]
        print(f"{n:>6} {name:>13} {m['time']:>9.3f} {m['peak_mb']:>10.1f}")

# the gradients of the three modes agree, at every number of steps
for n in steps:
    ref = torch.tensor(measured["Direct", n]["grad"])
    for name in ("Checkpointed", "Adjoint"):
        assert torch.allclose(torch.tensor(measured[name, n]["grad"]), ref, rtol=1e-8)

# %% [markdown]
# The cross-check: the same Direct case at the largest $N$ in a fresh process, where
# no earlier case can have left memory behind. It reports the peak measured the same
# way, and the growth of `ru_maxrss` over its value after imports and a warm-up solve.
# The latter comes out lower: its reference is the process's *peak* so far (set while
# importing), not its resident memory just before the solve, so part of the growth
# hides below it. That is why `ru_maxrss` needs a fresh process per case and is only
# trustworthy for cases much larger than what the imports used.

# %%
CHILD = textwrap.dedent(
    """
    import ctypes, gc, resource, sys
    import torch
    import dynamics as qd

    torch.set_num_threads(1)
    n, nsteps = 16, int(sys.argv[1])
    a = qd.destroy(n)

    def status_mb(key):
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith(key)) / 1024

    def solve(nsteps, T):
        K = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
        eps = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
        H = -K / 2 * a.mH @ a.mH @ a @ a + eps * (a + a.mH)
        res = qd.mesolve(H, [a], qd.fock(n, 0), [0.0, T], exp_ops=[a.mH @ a],
                         method=qd.method.RK4(dt=T / nsteps), gradient=qd.gradient.Direct(),
                         options=qd.Options(save_states=False))
        torch.autograd.grad(res.expects[0, -1].real, (K, eps))

    solve(10, 0.1)
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    open("/proc/self/clear_refs", "w").write("5")
    rss0, maxrss0 = status_mb("VmRSS"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    solve(nsteps, 3.0)
    maxrss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(status_mb("VmHWM") - rss0, (maxrss1 - maxrss0) / 1024)
    """
)
if LINUX and not FAST:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(steps[-1])], capture_output=True, text=True, check=True
    )
    fresh, fresh_maxrss = map(float, out.stdout.split()[-2:])
    here = measured["Direct", steps[-1]]["peak_mb"]
    print(
        f"Direct, N = {steps[-1]}: {here:.1f} MB here, {fresh:.1f} MB in a fresh process "
        f"(ru_maxrss growth there: {fresh_maxrss:.1f} MB)"
    )
    assert 0.85 < fresh / here < 1.15

# %% [markdown]
# Direct's memory grows linearly with $N$: it keeps every step's intermediate values
# for the backward pass. Checkpointed keeps 10 states and the graph of one segment of
# $N/10$ steps, so its memory grows ten times more slowly, and it pays with time: each
# segment is computed twice. Adjoint keeps a state every 64 steps and never more than
# one segment's states: its memory hardly moves. It recomputes the segments too, yet
# here it is about as fast as Direct, because its backward steps apply the adjoint
# of the Lindblad step directly instead of walking a recorded graph. For large
# problems or long times, that is what makes a gradient possible at all.

# %%
if LINUX:  # Direct's graph at the largest N dwarfs what Adjoint needs
    direct, adjoint = (measured[name, steps[-1]]["peak_mb"] for name in ("Direct", "Adjoint"))
    assert direct > 5 * max(adjoint, 1.0), (direct, adjoint)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
for name, marker in zip(names, "xos^"):
    ax1.plot(steps, [measured[name, n]["time"] for n in steps], marker=marker, label=name)
    ax2.plot(steps, [measured[name, n]["peak_mb"] for n in steps], marker=marker, label=name)
ax1.set_xlabel("number of RK4 steps $N$")
ax1.set_ylabel("forward + backward time (s)")
ax2.set_xlabel("number of RK4 steps $N$")
ax2.set_ylabel("peak memory growth (MB)")
ax1.legend()
ax1.set_title("time")
ax2.set_title("peak resident memory")
fig.savefig("02_gradients_of_simulations.png", dpi=100)

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.plot(omegas.detach(), dP_exact, "k-", lw=3, alpha=0.3, label="Rabi's formula")
ax.plot(omegas.detach(), dP, ".", label="autograd (Adjoint)")
ax.set_xlabel(r"$\Omega$")
ax.set_ylabel(r"$\partial P(t=8)/\partial\Omega$")
ax.legend()
fig.savefig("02_rabi_derivative.png", dpi=100)
