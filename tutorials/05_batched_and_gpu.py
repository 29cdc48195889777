# %% [markdown]
# # Batched and GPU simulations
#
# **Goal.** Run many simulations in one call: a two-dimensional parameter sweep
# expressed as batch dimensions that broadcast, the throughput that batching buys
# against a Python loop, and how to move the same code to a GPU and to single
# precision.
#
# **Physics.** The Rabi problem once more, $H = \frac{\Delta}{2}\sigma_z + \frac{\Omega}{2}\sigma_x$
# from $|0\rangle$, with the excited population
#
# $$
# P(\Delta, \Omega, t) = \frac{\Omega^2}{\Omega^2 + \Delta^2}
#   \sin^2\Big(\frac{\sqrt{\Omega^2 + \Delta^2}}{2}\,t\Big),
# $$
#
# whose map against detuning and time is the "chevron" of every qubit lab. Then a
# damped qubit, $L = \sqrt\gamma\,|0\rangle\langle1|$ (`qd.destroy(2)`), swept over detuning
# and decay rate.
#
# **Batching rule.** Kets are `(..., n, 1)`, operators and density matrices
# `(..., n, n)`: the leading dimensions are batch dimensions and follow torch
# broadcasting across $H$, the jump operators, the initial state and pulse values.
# One call integrates the whole batch (adaptive methods share one step size, the
# largest error in the batch decides it), and results keep the batch dimensions in
# front: `expects` is `(..., nexp, ntsave)`.

# %%
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import dynamics as qd

FAST = os.environ.get("QD_TUTORIAL_FAST") == "1"

# %% [markdown]
# ## A two-dimensional sweep in one call
#
# Detunings of shape `(A, 1, 1, 1)` and Rabi frequencies of shape `(1, B, 1, 1)`
# broadcast to a Hamiltonian of shape `(A, B, 2, 2)`: $A \times B$ simulations.

# %%
A, B = (41, 6) if FAST else (101, 12)
deltas = torch.linspace(-4.0, 4.0, A, dtype=torch.float64)
omegas = torch.linspace(0.5, 3.0, B, dtype=torch.float64)
tsave = torch.linspace(0.0, 10.0, 101, dtype=torch.float64)

H = deltas[:, None, None, None] / 2 * qd.sigmaz() + omegas[None, :, None, None] / 2 * qd.sigmax()
print("H:", tuple(H.shape))
start = time.perf_counter()
result = qd.sesolve(
    H,
    qd.basis(2, 0),
    tsave,
    exp_ops=[qd.fock_dm(2, 1)],
    method=qd.method.Tsit5(rtol=1e-8, atol=1e-10),
)
wall = time.perf_counter() - start
P = result.expects[:, :, 0, :].real  # (A, B, ntsave)
print(f"expects: {tuple(result.expects.shape)}; {A * B} simulations in {wall:.3f} s")

D, W, T = deltas[:, None, None], omegas[None, :, None], tsave
P_exact = W**2 / (W**2 + D**2) * torch.sin(torch.sqrt(W**2 + D**2) * T / 2) ** 2
err = (P - P_exact).abs().max().item()
print(f"max deviation from Rabi's formula over the whole sweep: {err:.1e}")
assert err < 1e-6

# %% [markdown]
# Batch dimensions can come from several places at once. Here detunings come from
# $H$, shape `(A, 1, 2, 2)`, and decay rates from the jump operator, shape
# `(1, G, 2, 2)`: `mesolve` broadcasts them to `(A, G)` damped qubits.

# %%
G = 5
gammas = torch.linspace(0.0, 0.8, G, dtype=torch.float64)
H_d = deltas[:, None, None, None] / 2 * qd.sigmaz() + 1.0 / 2 * qd.sigmax()  # Ω = 1
L = torch.sqrt(gammas)[None, :, None, None] * qd.destroy(2)  # (1, G, 2, 2), |1⟩ → |0⟩
damped = qd.mesolve(H_d, [L], qd.basis(2, 0), tsave, exp_ops=[qd.fock_dm(2, 1)])
P_damped = damped.expects[:, :, 0, :].real  # (A, G, ntsave)
print("damped sweep:", tuple(damped.states.shape), "states")
# without decay, mesolve agrees with the closed-system formula
P_exact_1 = (
    1
    / (1 + deltas[:, None] ** 2)
    * torch.sin(torch.sqrt(1 + deltas[:, None] ** 2) * tsave / 2) ** 2
)
assert (P_damped[:, 0] - P_exact_1).abs().max() < 1e-5
# with decay, the late-time population approaches the steady state of the Bloch equations
# (rotating frame, Ω = 1): P_ss = (Ω²/4) / (Δ² + γ²/4 + Ω²/2)
g = gammas[-1]
P_ss = 0.25 / (deltas**2 + g**2 / 4 + 0.5)
late = qd.mesolve(
    H_d[:, 0],
    [torch.sqrt(g) * qd.destroy(2)],
    qd.basis(2, 0),
    [0.0, 60.0],
    exp_ops=[qd.fock_dm(2, 1)],
)
assert torch.allclose(late.expects[:, 0, -1].real, P_ss, atol=1e-4)

# %% [markdown]
# ## Throughput against batch size
#
# How many simulations per second? We time batched `mesolve` calls of a damped,
# driven qubit with random detunings for growing batch sizes, against a Python loop
# of single simulations. A small system is dominated by per-call and per-step
# overhead (a few µs per torch operation), which a batch shares: the throughput grows
# almost linearly until the arithmetic itself dominates. On a GPU, the same curve
# keeps climbing much further.

# %%
tsave_b = torch.linspace(0.0, 10.0, 11, dtype=torch.float64)


def damped_batch(nbatch: int, device=None, dtype=None) -> float:
    """Wall time of one mesolve over `nbatch` damped qubits."""
    gen = torch.Generator().manual_seed(nbatch)
    d = (torch.rand(nbatch, generator=gen, dtype=torch.float64) - 0.5) * 4
    sz, sx = qd.sigmaz(dtype=dtype, device=device), qd.sigmax(dtype=dtype, device=device)
    sm = qd.destroy(2, dtype=dtype, device=device)
    Hb = d.to(device)[:, None, None] / 2 * sz + 0.5 * sx
    psi0 = qd.basis(2, 0, dtype=dtype, device=device)
    start = time.perf_counter()
    qd.mesolve(Hb, [0.3 * sm], psi0, tsave_b.to(device), exp_ops=[sz])
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def best_of(f, repeat=3):
    return min(f() for _ in range(repeat))


damped_batch(4)  # warm-up
sizes = [1, 4, 16, 64, 256] if FAST else [1, 4, 16, 64, 256, 1024, 4096]
batched = {n: best_of(lambda n=n: damped_batch(n)) for n in sizes}
single = batched[1]
loop_sizes = [1, 4, 16] if FAST else [1, 4, 16, 64]
looped = {n: sum(damped_batch(1) for _ in range(n)) for n in loop_sizes}
print(f"{'batch':>6} {'time (s)':>9} {'sims/s':>9}   loop of singles: sims/s")
for n in sizes:
    loop = f"{n / looped[n]:9.0f}" if n in looped else ""
    print(f"{n:>6} {batched[n]:9.4f} {n / batched[n]:9.0f}   {loop}")
speedup = (sizes[-1] / batched[sizes[-1]]) / (1 / single)
print(f"batch of {sizes[-1]}: {speedup:.0f}× the throughput of single simulations")
assert speedup > 10

# %% [markdown]
# ## Single precision
#
# `qd.set_precision("single")` makes every tensor qdynamics creates `complex64` /
# `float32` (the default is double precision). Single precision halves memory and is
# much faster on most GPUs, at the price of about 7 significant digits: choose
# tolerances above $10^{-7}$. `dtype=` on any constructor overrides the default for
# one tensor.

# %%
qd.set_precision("single")
try:
    H32 = (
        deltas[:, None, None, None].float() / 2 * qd.sigmaz()
        + omegas[None, :, None, None].float() / 2 * qd.sigmax()
    )
    start = time.perf_counter()
    res32 = qd.sesolve(H32, qd.basis(2, 0), tsave.float(), exp_ops=[qd.fock_dm(2, 1)])
    wall32 = time.perf_counter() - start
finally:
    qd.set_precision("double")  # back to the default for what follows
P32 = res32.expects[:, :, 0, :].real
dev32 = (P32.double() - P_exact).abs().max()
print(f"single precision: {res32.states.dtype}, {wall32:.3f} s, max deviation {dev32:.1e}")
assert res32.states.dtype == torch.complex64
assert (P32.double() - P_exact).abs().max() < 1e-4

# %% [markdown]
# ## On a GPU
#
# Tensors live on a device; a simulation runs where its inputs are. Either create
# them there (`device=` on every constructor, or `.to("cuda")` on your own tensors),
# or set the default device once with `qd.set_device("cuda")`. Nothing else changes.
# This cell only runs when a CUDA device is present (`torch.cuda.is_available()`);
# on a CPU-only machine it prints a note.

# %%
if torch.cuda.is_available():
    qd.set_device("cuda")  # every tensor qdynamics creates now lives on the GPU
    try:
        H_gpu = H.to("cuda")  # our own tensors move with .to
        res_gpu = qd.sesolve(H_gpu, qd.basis(2, 0), tsave.to("cuda"), exp_ops=[qd.fock_dm(2, 1)])
        print("GPU result on", res_gpu.expects.device)
        assert torch.allclose(res_gpu.expects.real.cpu()[:, :, 0], P, atol=1e-5)
        gpu_times = {n: best_of(lambda n=n: damped_batch(n, device="cuda")) for n in sizes}
        for n in sizes:
            print(f"GPU batch {n:>6}: {n / gpu_times[n]:9.0f} sims/s")
    finally:
        qd.set_device("cpu")
else:
    gpu_times = None
    print("no CUDA device here: the GPU cell is skipped")

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.9), layout="constrained")
k = min(range(B), key=lambda j: abs(omegas[j].item() - 1.0))
im = axes[0].pcolormesh(
    tsave.numpy(), deltas.numpy(), P[:, k].numpy(), shading="auto", cmap="viridis"
)
fig.colorbar(im, ax=axes[0], label="$P_1$")
axes[0].set_xlabel("t")
axes[0].set_ylabel(r"detuning $\Delta$")
axes[0].set_title(rf"chevron at $\Omega = {omegas[k].item():.2f}$")
im = axes[1].pcolormesh(
    omegas.numpy(), deltas.numpy(), P[:, :, -1].numpy(), shading="auto", cmap="viridis"
)
fig.colorbar(im, ax=axes[1], label="$P_1(t = 10)$")
axes[1].set_xlabel(r"Rabi frequency $\Omega$")
axes[1].set_ylabel(r"detuning $\Delta$")
axes[1].set_title(f"{A}×{B} sweep in one call")
axes[2].loglog(sizes, [n / batched[n] for n in sizes], "o-", label="batched (CPU)")
axes[2].loglog(loop_sizes, [n / looped[n] for n in loop_sizes], "s--", label="Python loop (CPU)")
if gpu_times:
    axes[2].loglog(sizes, [n / gpu_times[n] for n in sizes], "^-", label="batched (GPU)")
axes[2].set_xlabel("batch size")
axes[2].set_ylabel("simulations per second")
axes[2].legend()
axes[2].set_title("throughput (damped qubit, mesolve)")
fig.savefig("05_batched_and_gpu.png", dpi=100)
