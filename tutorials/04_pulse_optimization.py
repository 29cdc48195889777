# %% [markdown]
# # Pulse optimisation with `dynamics.control`
#
# **Goal.** Shape control pulses that make a quantum system do what we want, by
# gradient ascent on a fidelity computed through the solvers (GRAPE: GRadient
# Ascent Pulse Engineering). Four problems, each a few lines with `dynamics.control`:
#
# 1. a NOT gate on a qubit with bounded amplitudes;
# 2. an X gate on a transmon, whose third level makes short pulses leak: the optimiser
#    rediscovers the DRAG correction (the $y$ quadrature follows the derivative of $x$);
# 3. a state transfer in an open system, where decay competes with the drive;
# 4. multi-start (many initial guesses in one batch) and robust control (one pulse
#    for an ensemble of detunings).
#
# **Physics.** The Hamiltonian is a drift plus controls with piecewise-constant
# amplitudes $u_k(t)$ on $N$ slices of width $\Delta t$,
#
# $$
# H(t) = H_0 + \sum_k u_k(t) H_k, \qquad
# U = \prod_{j=N}^{1} e^{-i\Delta t\,(H_0 + \sum_k u_{kj} H_k)},
# $$
#
# and we maximise the phase-insensitive gate fidelity on the computational subspace
# (projector $P$, dimension $d$, target $V$)
#
# $$
# F = \Big|\tfrac{1}{d}\,\mathrm{Tr}\big(V^\dagger P^\dagger U P\big)\Big|^2 .
# $$
#
# **API.** `qdc.PWC` (bounded piecewise-constant pulses, a `torch.nn.Module`),
# `pulse.hamiltonian(H0, controls)`, `qd.sepropagator` / `qd.mepropagator` with
# `qd.method.Expm()` (exact for piecewise-constant generators), `qdc.gate_fidelity`,
# `qdc.leakage`, `qdc.smoothness`, `qdc.robust`, `qdc.optimize` and its `OptimizeResult`
# (`.plot()`, `.history`), and `dynamics.plot`.

# %%
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import dynamics as qd
from dynamics import control as qdc
from dynamics.plot import plot_expects, plot_pulses

FAST = os.environ.get("QD_TUTORIAL_FAST") == "1"
torch.manual_seed(0)
expm = qd.method.Expm()


def gate(H, times):
    """The propagator over the whole pulse (only the final time is saved)."""
    return qd.sepropagator(H, times[[0, -1]], method=expm).final_propagator


# %% [markdown]
# ## 1. A qubit NOT gate
#
# A slightly detuned qubit, $H_0 = \frac{\delta}{2}\sigma_z$ with $\delta = 0.1$,
# driven by $u_x\sigma_x/2 + u_y\sigma_y/2$ with $|u_k| \le 1$ for a time $T = 2\pi$
# (twice the shortest $\pi$ pulse), in 50 slices. `PWC.random` draws an initial guess;
# bounded amplitudes are $u = \sin\theta$ of unbounded parameters $\theta$, so the
# bounds always hold. `qdc.optimize` runs L-BFGS until the target fidelity.

# %%
T_qubit = 2 * math.pi
times_q = torch.linspace(0.0, T_qubit, 51, dtype=torch.float64)
H0_q = 0.1 * qd.sigmaz() / 2
controls_q = [qd.sigmax() / 2, qd.sigmay() / 2]
generator = torch.Generator().manual_seed(1)
pulse_q = qdc.PWC.random(times_q, 2, 0.5, bounds=(-1.0, 1.0), generator=generator)


def not_fidelity(pulse):
    return qdc.gate_fidelity(gate(pulse.hamiltonian(H0_q, controls_q), times_q), qd.sigmax())


res_q = qdc.optimize(pulse_q, not_fidelity, target=0.9999, progress=False)
print(res_q)
assert res_q.fidelity >= 0.9999 and res_q.values.abs().max() <= 1.0

res_q.plot()
plt.gcf().savefig("04_qubit_not_gate.png", dpi=100)

# %% [markdown]
# ## 2. A transmon X gate: leakage and DRAG
#
# A transmon is an anharmonic oscillator: in the frame rotating at the qubit
# frequency, with anharmonicity $\alpha = -2\pi\times 0.2$ rad/ns and three levels,
#
# $$
# H_0 = \frac{\alpha}{2} b^{\dagger 2} b^2, \qquad
# H_x = \frac{b + b^\dagger}{2}, \qquad H_y = \frac{i(b^\dagger - b)}{2}.
# $$
#
# A resonant pulse on $0 \leftrightarrow 1$ also drives $1 \leftrightarrow 2$, detuned
# by only $\alpha$: a short Gaussian $\pi$ pulse leaks population into $|2\rangle$ and
# picks up a phase error from the level shift. The DRAG correction (Motzoi et al.,
# PRL 103, 110501 (2009)) adds the derivative of the pulse on the other quadrature,
#
# $$
# u_y(t) = \beta\,\dot u_x(t), \qquad \beta = -\lambda/\alpha,
# $$
#
# with $\lambda = 1$ cancelling leakage and $\lambda = 1/2$ cancelling the phase error at
# first order (Gambetta et al., PRA 83, 012308 (2011)). We start from a plain Gaussian
# $\pi$ pulse of $T = 12$ ns on $x$ (zero on $y$), let GRAPE shape both quadratures
# freely, slice by slice, and then compare $u_y$ with $\dot u_x$.

# %%
b = qd.destroy(3)
alpha = -2 * math.pi * 0.2
H0_t = alpha / 2 * b.mH @ b.mH @ b @ b
controls_t = [(b + b.mH) / 2, 1j * (b.mH - b) / 2]
T_t, N_t = 12.0, 60
times_t = torch.linspace(0.0, T_t, N_t + 1, dtype=torch.float64)
shape = qdc.Gaussian(times_t, amplitude=1.0, sigma=T_t / 5)().detach()[0]  # (N,), peak 1
gaussian_x = math.pi / (shape * times_t.diff()).sum() * shape  # area π: a π pulse
gaussian = torch.stack([gaussian_x, torch.zeros(N_t, dtype=torch.float64)])
pulse_t = qdc.PWC(times_t, 2, init=gaussian)


def transmon_gate(pulse):
    return gate(pulse.hamiltonian(H0_t, controls_t), times_t)


def x_fidelity(pulse):
    return qdc.gate_fidelity(transmon_gate(pulse), qd.sigmax(), subspace=[0, 1])


with torch.no_grad():
    F_gauss = x_fidelity(pulse_t).item()
    L_gauss = qdc.leakage(transmon_gate(pulse_t), [0, 1]).item()
res_t = qdc.optimize(
    pulse_t,
    x_fidelity,
    penalties={"leakage": (1.0, lambda p: qdc.leakage(transmon_gate(p), [0, 1]))},
    target=1 - 1e-6,
    progress=False,
)
with torch.no_grad():
    L_opt = qdc.leakage(transmon_gate(pulse_t), [0, 1]).item()
print(f"Gaussian π pulse: F = {F_gauss:.5f}, leakage {L_gauss:.1e}")
print(f"optimised:        F = {res_t.fidelity:.7f}, leakage {L_opt:.1e}  ({res_t.reason})")

# DRAG: is u_y proportional to the derivative of u_x?
u = res_t.values
mid = pulse_t.midpoints
dux = torch.gradient(u[0], spacing=(mid,))[0]
beta = (u[1] @ dux) / (dux @ dux)  # least-squares fit u_y ≈ β u̇_x
corr = (u[1] @ dux) / (u[1].norm() * dux.norm())
print(
    f"u_y ≈ β du_x/dt with β = {beta:.3f} ns (λ = -αβ = {-alpha * beta:.2f}), correlation {corr:.3f}"
)
assert res_t.fidelity > 1 - 1e-5 and F_gauss < 0.99
assert corr > 0.9 and beta > 0  # the shape of DRAG, with the sign of -1/α

# %% [markdown]
# The optimiser barely touches $u_x$ and puts on $u_y$ a shape that correlates with
# $\dot u_x$ to better than 0.9: DRAG emerges from the fidelity alone, with $\lambda$
# close to $1/2$. The population dynamics starting from $|0\rangle$ show what goes
# wrong with the Gaussian: the level shift caused by $|2\rangle$ detunes the transition,
# so 3% of the population stays in $|0\rangle$, and $10^{-3}$ remains in $|2\rangle$.
# With the optimised pulse $|2\rangle$ is visited just as much in the middle of the
# gate, but the population comes back.

# %%
tsave_t = torch.linspace(0.0, T_t, 241, dtype=torch.float64)
projectors = [qd.fock_dm(3, k) for k in range(3)]
fig, axes = plt.subplots(1, 3, figsize=(15, 3.8), layout="constrained")
plot_pulses(times_t, u, ax=axes[0], labels=["$u_x$ optimised", "$u_y$ optimised"])
axes[0].plot(mid, gaussian_x, "k:", label="Gaussian (start)")
axes[0].plot(mid, beta * dux, "k--", lw=1, label=r"$\beta\,\dot u_x$")
axes[0].legend(fontsize=8)
axes[0].set_xlabel("t (ns)")
axes[0].set_title("transmon X gate: pulses")
for ax, (name, values) in zip(axes[1:], (("Gaussian", gaussian), ("optimised", u))):
    H = qd.constant(H0_t) + sum(
        qd.pwc(times_t, values[k], controls_t[k]) for k in range(2)
    )  # the same H as `pulse.hamiltonian`, from the amplitudes
    res = qd.sesolve(H, qd.basis(3, 0), tsave_t, exp_ops=projectors, method=expm)
    plot_expects(res.tsave, res.expects, ax=ax, labels=[r"$P_0$", r"$P_1$", r"$P_2$"])
    ax.set_yscale("log")
    ax.set_ylim(1e-6, 2)
    ax.set_xlabel("t (ns)")
    ax.set_title(f"populations, {name} pulse")
fig.savefig("04_transmon_drag.png", dpi=100)

# %% [markdown]
# ## 3. State transfer in an open system
#
# A qubit decaying at rate $\gamma = 0.01$ ($L = \sqrt\gamma\,|0\rangle\langle 1|$, which is
# `qd.destroy(2)`; note that `qd.sigmam()` follows QuTiP's spin convention, where
# `basis(2, 0)` is spin up, the excited state, and is the opposite) should go from
# $|0\rangle$ to $|1\rangle$ in $T = 2\pi$ with $|u_k| \le 1$. Now the figure of merit is
# $\langle 1|\rho(T)|1\rangle$, computed from the superoperator of the whole pulse
# (`qd.mepropagator`, column-stacked: $\mathrm{vec}(\rho)_{i + nj} = \rho_{ij}$). Decay
# from $|1\rangle$ costs fidelity for as long as population sits there, so a good strategy
# is to wait in $|0\rangle$ and make the fastest possible $\pi$ pulse at the very end;
# GRAPE is not told this, and from a random start it finds pulses that come close to
# that reference (the landscape is flat near the optimum: many pulses are nearly as
# good, and convergence is slow).

# %%
gamma = 0.01
jump_ops = [math.sqrt(gamma) * qd.destroy(2)]  # |0⟩⟨1|: decay from |1⟩ to |0⟩
pulse_o = qdc.PWC.random(times_q, 2, 0.5, bounds=(-1.0, 1.0), generator=generator)


def transfer_fidelity(pulse):
    H = pulse.hamiltonian(None, controls_q)
    S = qd.mepropagator(H, jump_ops, times_q[[0, -1]], method=expm).final_propagator
    return S[..., 1 + 2 * 1, 0].real  # ⟨1|ρ(T)|1⟩ for ρ(0) = |0⟩⟨0| (column 0 of S)


res_o = qdc.optimize(pulse_o, transfer_fidelity, max_iter=20 if FAST else 100, progress=False)
print(res_o)
# reference: wait in |0⟩, then the fastest π pulse at the very end (both quadratures at
# their bound, |u| = √2, for a time π/√2)
late = qd.mesolve(
    (qd.sigmax() + qd.sigmay()) / 2,
    jump_ops,
    qd.basis(2, 0),
    [0.0, math.pi / math.sqrt(2)],
    exp_ops=[qd.fock_dm(2, 1)],
)
late_F = late.expects[0, -1].real.item()
print(f"transfer fidelity {res_o.fidelity:.5f}; wait + fastest π pulse: {late_F:.5f}")
assert 0.985 < res_o.fidelity < late_F + 5e-4

tsave_o = torch.linspace(0.0, T_qubit, 201, dtype=torch.float64)
with torch.no_grad():
    rho_t = qd.mesolve(
        pulse_o.hamiltonian(None, controls_q),
        jump_ops,
        qd.basis(2, 0),
        tsave_o,
        exp_ops=[qd.fock_dm(2, 1), qd.sigmax(), qd.sigmay()],
        method=expm,
    )
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
plot_pulses(times_q, res_o.values, ax=ax1, labels=["$u_x$", "$u_y$"])
ax1.set_title("open-system transfer: pulses")
plot_expects(
    rho_t.tsave,
    rho_t.expects,
    ax=ax2,
    labels=[r"$P_1$", r"$\langle\sigma_x\rangle$", r"$\langle\sigma_y\rangle$"],
)
ax2.set_title(r"dynamics from $|0\rangle$ with decay")
fig.savefig("04_open_transfer.png", dpi=100)

# %% [markdown]
# ## 4. Multi-start and robust control
#
# **Multi-start.** A `PWC` with `batch_shape=(S,)` holds $S$ independent pulses; the
# fidelity function returns a batch `(S,)` and `optimize` maximises all members at
# once (one batched solve per evaluation) and returns the best. With `"adam"`, each
# parameter takes its own steps, so the members stay independent. Here: the NOT gate
# of part 1 from $S$ random initial pulses. The members converge at different rates
# and to different fidelities; `optimize` reports them all and returns the best.
#
# **Robust control.** The detuning $\delta$ of the qubit is only known to lie in
# $[-0.2, 0.2]$. We put a batch of $E$ detunings into $H_0$, shape `(E, 2, 2)`, which
# broadcasts with the pulse, and maximise the mean fidelity over the ensemble with
# `qdc.robust` (`mode="worst"` would maximise the worst member). A pulse optimised for
# $\delta = 0$ alone is compared with the robust one over a range of detunings.

# %%
S = 4 if FAST else 8
pulse_m = qdc.PWC.random(times_q, 2, 0.5, bounds=(-1.0, 1.0), batch_shape=(S,), generator=generator)


def not_fidelity_m(pulse):  # (S,)
    return qdc.gate_fidelity(gate(pulse.hamiltonian(H0_q, controls_q), times_q), qd.sigmax())


res_m = qdc.optimize(
    pulse_m, not_fidelity_m, optimizer="adam", lr=0.05, max_iter=25 if FAST else 150, progress=False
)
print(f"multi-start: final fidelities {res_m.fidelities.numpy().round(5)}, best {res_m.best_index}")
assert res_m.fidelity == res_m.fidelities.max().item()

E = 5 if FAST else 9
deltas = torch.linspace(-0.2, 0.2, E, dtype=torch.float64)
H0_ens = deltas[:, None, None] / 2 * qd.sigmaz()  # (E, 2, 2)
max_iter = 25 if FAST else 200


def nominal(pulse):
    return qdc.gate_fidelity(
        gate(pulse.hamiltonian(0 * qd.sigmaz(), controls_q), times_q), qd.sigmax()
    )


def ensemble(pulse):  # (E,) -> its mean
    F = qdc.gate_fidelity(gate(pulse.hamiltonian(H0_ens, controls_q), times_q), qd.sigmax())
    return qdc.robust(F, mode="mean")


init = qdc.PWC.random(times_q, 2, 0.5, bounds=(-1.0, 1.0), generator=generator)().detach()
pulse_nom = qdc.PWC(times_q, 2, bounds=(-1.0, 1.0), init=init)
pulse_rob = qdc.PWC(times_q, 2, bounds=(-1.0, 1.0), init=init)
res_nom = qdc.optimize(pulse_nom, nominal, target=1 - 1e-8, max_iter=max_iter, progress=False)
res_rob = qdc.optimize(pulse_rob, ensemble, max_iter=max_iter, progress=False)

scan = torch.linspace(-0.4, 0.4, 81, dtype=torch.float64)
H0_scan = scan[:, None, None] / 2 * qd.sigmaz()
with torch.no_grad():
    F_nom = qdc.gate_fidelity(
        gate(pulse_nom.hamiltonian(H0_scan, controls_q), times_q), qd.sigmax()
    )
    F_rob = qdc.gate_fidelity(
        gate(pulse_rob.hamiltonian(H0_scan, controls_q), times_q), qd.sigmax()
    )
inside = scan.abs() <= 0.2
print(
    f"worst F for |δ| ≤ 0.2: nominal pulse {F_nom[inside].min():.5f}, robust pulse {F_rob[inside].min():.5f}"
)
assert F_rob[inside].min() > F_nom[inside].min()

fig, axes = plt.subplots(1, 3, figsize=(15, 3.8), layout="constrained")
hist = res_m.history
for k in range(S):
    axes[0].semilogy(1 - hist.fidelities[:, k], lw=1)
axes[0].set_xlabel("iteration")
axes[0].set_ylabel("$1 - F$")
axes[0].set_title(f"multi-start: {S} pulses in one batch (Adam)")
plot_pulses(times_q, res_rob.values, ax=axes[1], labels=["$u_x$ robust", "$u_y$ robust"])
axes[1].set_title("robust pulse")
axes[2].semilogy(scan, 1 - F_nom, label=r"optimised at $\delta = 0$")
axes[2].semilogy(scan, 1 - F_rob, label=r"robust on $|\delta| \leq 0.2$")
axes[2].plot(deltas, torch.full_like(deltas, 1e-7), "k|", ms=12, label="ensemble")
axes[2].set_xlabel(r"detuning $\delta$")
axes[2].set_ylabel("$1 - F$")
axes[2].legend(fontsize=8)
axes[2].set_title("robustness to detuning")
fig.savefig("04_multistart_robust.png", dpi=100)
