# %% [markdown]
# # Open systems: a driven Kerr oscillator and a cat state
#
# **Goal.** Simulate two nonlinear oscillators with loss, look at their states in
# phase space through the Wigner function, and follow how the Wigner function evolves:
# the driven-dissipative Kerr oscillator relaxing to its non-Gaussian steady state,
# and a Schrödinger cat state created by two-photon dissipation, then spoiled by
# single-photon loss.
#
# **Physics.** Both obey the Lindblad master equation
#
# $$
# \dot\rho = -i[H, \rho] + \sum_k \Big(L_k\rho L_k^\dagger - \tfrac12\{L_k^\dagger L_k, \rho\}\Big).
# $$
#
# *Kerr oscillator*, in the frame of a resonant drive:
# $H = -\frac{K}{2} a^{\dagger 2} a^2 + \varepsilon(a + a^\dagger)$, $L = \sqrt\kappa\,a$.
# The Kerr term makes the rotation frequency depend on the photon number, which shears
# a coherent state into a crescent; loss and drive balance in a steady state
# $\rho_\infty$ with $\mathcal L\rho_\infty = 0$.
#
# *Cat state.* Two-photon dissipation $L_2 = \sqrt{\kappa_2}\,(a^2 - \alpha^2)$ (two-photon
# loss plus a two-photon drive) has two coherent states $|\pm\alpha\rangle$ as dark states.
# It conserves the photon-number parity $\Pi = e^{i\pi a^\dagger a}$, so the vacuum (even)
# flows into the even cat $|C_\alpha^+\rangle \propto |\alpha\rangle + |-\alpha\rangle$, whose
# Wigner function has negative interference fringes. Single-photon loss
# $L_1 = \sqrt{\kappa_1}\,a$ flips the parity and turns the cat into a mixture of
# $|\alpha\rangle$ and $|-\alpha\rangle$: the parity decays at the rate $2\kappa_1|\alpha|^2$
# once the cat is formed, and the fringes fade.
#
# The Wigner function, in the phase-space coordinates $(x, y)$ with
# $\beta = (x + iy)/\sqrt2$ (QuTiP's default), is the expectation value of the displaced
# parity, $W(x, y) = \frac{1}{\pi}\mathrm{Tr}\big[D(\beta)\,\Pi\,D^\dagger(\beta)\,\rho\big]$,
# normalised to $\int W\,dx\,dy = 1$; in particular $W(0, 0) = \langle\Pi\rangle/\pi$.
# Negative values are a signature of non-classical states.
#
# **API.** `qd.mesolve` (methods `Tsit5` and the positivity-preserving `Rouchon2`),
# `qd.destroy`, `qd.coherent`, `qd.parity`, `qd.fidelity`, `qd.wigner`,
# `dynamics.plot.plot_wigner`, `plot_fock`, `plot_expects`.

# %%
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import dynamics as qd
from dynamics.plot import plot_expects, plot_fock, plot_wigner

FAST = os.environ.get("QD_TUTORIAL_FAST") == "1"
npix = 61 if FAST else 101

# %% [markdown]
# ## 1. The driven-dissipative Kerr oscillator
#
# $K = 1$, $\varepsilon = 1.5$, $\kappa = 1$, from the vacuum, with $n$ Fock levels.

# %%
n = 16 if FAST else 24
a = qd.destroy(n)
K, eps, kappa = 1.0, 1.5, 1.0
H = -K / 2 * a.mH @ a.mH @ a @ a + eps * (a + a.mH)
jump_ops = [math.sqrt(kappa) * a]
tsave = torch.linspace(0.0, 16.0, 161, dtype=torch.float64)
kerr = qd.mesolve(
    H,
    jump_ops,
    qd.fock(n, 0),
    tsave,
    exp_ops=[a.mH @ a, a],
    method=qd.method.Tsit5(rtol=1e-8, atol=1e-10),
)
print(kerr)

# %% [markdown]
# The steady state solves $\mathcal L\rho_\infty = 0$. We build the Lindbladian as a
# matrix on column-stacked $\rho$, $\mathrm{vec}(A\rho B) = (B^T \otimes A)\,\mathrm{vec}(\rho)$,
# and solve for its null vector with unit trace. The state approaches it as
# $e^{-g t}$, with $g$ the Liouvillian gap (minus the largest non-zero real part of its
# eigenvalues): at $t = 16$ the simulation should have relaxed to it.

# %%
eye = qd.eye(n)
LdL = sum(L.mH @ L for L in jump_ops)
lindbladian = -1j * (torch.kron(eye, H) - torch.kron(H.mT.contiguous(), eye))
for L in jump_ops:
    lindbladian = lindbladian + torch.kron(L.conj(), L)
lindbladian = lindbladian - 0.5 * (torch.kron(eye, LdL) + torch.kron(LdL.mT.contiguous(), eye))
# 𝓛 vec(ρ) = 0 has one redundant equation (𝓛 preserves the trace): replace the first
# by Tr ρ = vec(I) · vec(ρ) = 1 and solve the linear system
system = lindbladian.clone()
system[0] = qd.eye(n).reshape(-1)
rhs = torch.zeros(n * n, 1, dtype=system.dtype)
rhs[0] = 1.0
rho_ss = torch.linalg.solve(system, rhs).reshape(n, n).mT  # column stacking back to a matrix
distance = (kerr.final_state - rho_ss).abs().max().item()
gap = -torch.linalg.eigvals(lindbladian).real.sort(descending=True).values[1].item()
print(
    f"⟨a†a⟩(t = 16) = {kerr.expects[0, -1].real.item():.5f}, steady state "
    f"{qd.expect(a.mH @ a, rho_ss).real.item():.5f}; max |ρ(16) - ρ∞| = {distance:.1e}"
)
print(f"Liouvillian gap g = {gap:.4f}: e^(-16 g) = {math.exp(-16 * gap):.1e}")
print(f"purity of the steady state {qd.purity(rho_ss).item():.3f}")
assert distance < 1e-3

snap_times = [0.0, 0.5, 1.0, 2.0, 4.0, 16.0]
snap_index = [int(torch.argmin((tsave - t).abs())) for t in snap_times]
fig, axes = plt.subplots(2, 4, figsize=(16, 7), layout="constrained")
for ax, k in zip(axes.flat[:6], snap_index):
    plot_wigner(kerr.states[k], ax=ax, xmax=4.0, npixels=npix, colorbar=False)
    ax.set_title(f"t = {tsave[k].item():.1f}")
plot_expects(
    kerr.tsave,
    torch.stack([kerr.expects[0], kerr.expects[1].abs()]),
    ax=axes.flat[6],
    labels=[r"$\langle a^\dagger a\rangle$", r"$|\langle a\rangle|$"],
)
axes.flat[6].set_title("photon number and field")
plot_fock(rho_ss, ax=axes.flat[7])
axes.flat[7].set_xlim(-0.5, 12.5)
axes.flat[7].set_title(r"steady state $\rho_\infty$")
fig.suptitle("driven-dissipative Kerr oscillator: Wigner function from the vacuum")
fig.savefig("06_kerr_oscillator.png", dpi=90)

# %% [markdown]
# The coherent displacement by the drive is sheared by the Kerr term (larger
# amplitudes rotate faster), and loss blurs the crescent into a mixed steady state.

# %% [markdown]
# ## 2. A cat state from two-photon dissipation
#
# $\kappa_2 = 1$, $\alpha = 2$ ($\alpha = 1.5$ in fast mode), from the vacuum, without
# and with single-photon loss $\kappa_1 = 0.05$. The jump operator $a^2 - \alpha^2$ is
# stiff (its norm grows as $n^2$); we integrate with `Rouchon2`, a second-order
# method for Lindblad equations whose steps are Kraus maps, so the state stays a
# density matrix (positive, unit trace) whatever the step.

# %%
n = 16 if FAST else 20
alpha = 1.5 if FAST else 2.0
a = qd.destroy(n)
kappa1 = 0.05
T = 3.0
tsave = torch.linspace(0.0, T, 31, dtype=torch.float64)
method = qd.method.Rouchon2(dt=4e-3 if FAST else 2e-3)
L2 = a @ a - alpha**2 * qd.eye(n)
cat = qd.unit(qd.coherent(n, alpha) + qd.coherent(n, -alpha))
exp_ops = [qd.parity(n), a.mH @ a]
runs = {}
for k1 in (0.0, kappa1):
    Ls = [L2] + ([math.sqrt(k1) * a] if k1 > 0 else [])
    runs[k1] = qd.mesolve(0 * qd.eye(n), Ls, qd.fock(n, 0), tsave, exp_ops=exp_ops, method=method)

ideal, lossy = runs[0.0], runs[kappa1]
F_ideal = qd.fidelity(ideal.final_state, cat).item()
F_lossy = qd.fidelity(lossy.final_state, cat).item()
parity_ideal = ideal.expects[0].real
parity_lossy = lossy.expects[0].real
print(
    f"even cat |C+⟩ with α = {alpha}: fidelity at t = {T:g}: {F_ideal:.5f} (κ1 = 0), {F_lossy:.3f} (κ1 = {kappa1})"
)
print(
    f"parity at t = {T:g}: {parity_ideal[-1]:.6f} (κ1 = 0), {parity_lossy[-1]:.3f} (κ1 = {kappa1})"
)
assert F_ideal > 0.99
assert (parity_ideal - 1).abs().max() < 1e-6  # two-photon processes conserve parity
assert parity_lossy[-1] < 0.8 and F_lossy < F_ideal

# %% [markdown]
# ## The Wigner function over time
#
# `qd.wigner` takes a batch of states: the Wigner functions of all saved states come
# out of one call. The fringes of the cat lie along $y$ at $x = 0$, between the two
# blobs at $x = \pm\sqrt2\,\alpha$; the cut $W(0, y, t)$ shows them form and, with
# single-photon loss, fade. At the origin $W(0, 0) = \langle\Pi\rangle/\pi$.

# %%
yvec = torch.linspace(-3.0, 3.0, 121, dtype=torch.float64)
cuts = {}
for k1, res in runs.items():
    _, _, W = qd.wigner(res.states, xvec=torch.zeros(1, dtype=torch.float64), yvec=yvec)
    cuts[k1] = W[..., 0]  # (ntsave, ny)
centre = cuts[kappa1][:, 60]  # y = 0
assert torch.allclose(centre * math.pi, parity_lossy, atol=1e-6)
_, _, W_cat = qd.wigner(ideal.final_state, npixels=npix)
print(f"min W of the final cat: {W_cat.min().item():.4f} (negative: a non-classical state)")
assert W_cat.min() < -0.1

snaps = [0, 5, 10, 30]
fig, axes = plt.subplots(3, 4, figsize=(16, 11), layout="constrained")
for row, k1 in enumerate((0.0, kappa1)):
    for ax, k in zip(axes[row], snaps):
        plot_wigner(runs[k1].states[k], ax=ax, xmax=4.0, npixels=npix, colorbar=False)
        ax.set_title(rf"$\kappa_1 = {k1:g}$, t = {tsave[k].item():.1f}")
for ax, k1 in zip(axes[2, :2], (0.0, kappa1)):
    wmax = cuts[k1].abs().max().item()
    im = ax.pcolormesh(
        tsave.numpy(),
        yvec.numpy(),
        cuts[k1].T.numpy(),
        cmap="RdBu_r",
        vmin=-wmax,
        vmax=wmax,
        shading="auto",
    )
    ax.set_xlabel("t")
    ax.set_ylabel("y")
    ax.set_title(rf"$W(x = 0, y, t)$, $\kappa_1 = {k1:g}$")
fig.colorbar(im, ax=axes[2, 1], label="W")
plot_expects(
    tsave,
    torch.stack([parity_ideal, parity_lossy]),
    ax=axes[2, 2],
    labels=[
        r"$\langle\Pi\rangle$, $\kappa_1 = 0$",
        rf"$\langle\Pi\rangle$, $\kappa_1 = {kappa1:g}$",
    ],
)
t_late = tsave[tsave >= 1.0]
k_late = int((tsave < 1.0).sum())
axes[2, 2].plot(
    t_late,
    parity_lossy[k_late] * torch.exp(-2 * kappa1 * alpha**2 * (t_late - t_late[0])),
    "k--",
    lw=1,
    label=r"$\propto e^{-2\kappa_1|\alpha|^2 t}$",
)
axes[2, 2].legend(fontsize=8)
axes[2, 2].set_title("parity")
fidelities = torch.stack([qd.fidelity(runs[k1].states, cat) for k1 in (0.0, kappa1)])
plot_expects(
    tsave, fidelities, ax=axes[2, 3], labels=[r"$\kappa_1 = 0$", rf"$\kappa_1 = {kappa1:g}$"]
)
axes[2, 3].set_ylabel(r"fidelity to $|C_\alpha^+\rangle$")
axes[2, 3].set_title("fidelity to the even cat")
fig.suptitle(rf"cat state from two-photon dissipation, $\alpha = {alpha}$")
fig.savefig("06_cat_state.png", dpi=90)
