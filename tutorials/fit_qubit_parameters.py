# %% [markdown]
# # Fitting a detuning and a decay rate to noisy data
#
# **Goal.** Recover the unknown detuning $\Delta$ and decay rate $\gamma$ of a driven,
# damped qubit from a noisy measurement of its population, by minimising a
# least-squares loss with gradients that flow through `qd.mesolve`.
#
# **Physics.** In the frame of the drive the qubit evolves under
# $H = \frac{\Delta}{2}\sigma_z + \frac{\Omega}{2}\sigma_x$ with the jump operator
# $L = \sqrt{\gamma}\,\sigma_-$. We record $\langle\sigma_z\rangle(t)$ at 60 times
# with Gaussian noise of standard deviation $\sigma = 0.02$.
#
# **API.** `qd.mesolve`, `qd.gradient.Adjoint`, `torch.optim.LBFGS` and
# `torch.optim.Adam`, and `torch.autograd.functional.jacobian` for the uncertainty of
# the fit.

# %%
import os

import torch

import dynamics as qd

FAST = os.environ.get("QD_TUTORIAL_FAST") == "1"
torch.manual_seed(0)

omega = 2.0  # known Rabi frequency
true = {"delta": 0.7, "gamma": 0.15}
sigma = 0.02
tsave = torch.linspace(0.0, 10.0, 60)


def simulate(delta: torch.Tensor, gamma: torch.Tensor, gradient=None) -> torch.Tensor:
    """⟨σz⟩(t) of the driven damped qubit, differentiable in `delta` and `gamma`."""
    H = delta / 2 * qd.sigmaz() + omega / 2 * qd.sigmax()
    L = torch.sqrt(gamma) * qd.sigmam()
    result = qd.mesolve(
        H,
        [L],
        qd.basis(2, 0),
        tsave,
        exp_ops=[qd.sigmaz()],
        gradient=gradient,
        method=qd.method.Tsit5(rtol=1e-8, atol=1e-10),
    )
    return result.expects[0].real


# %% [markdown]
# ## Simulated measurement data

# %%
with torch.no_grad():
    clean = simulate(torch.tensor(true["delta"]), torch.tensor(true["gamma"]))
data = clean + sigma * torch.randn_like(clean)

# %% [markdown]
# ## The loss
#
# We fit $\theta = (\Delta, \log\gamma)$: the logarithm keeps the rate positive.
# The loss is the mean squared residual divided by $\sigma^2$, so that a good fit has a
# loss close to 1.


# %%
def loss_fn(theta: torch.Tensor, gradient=None) -> torch.Tensor:
    model = simulate(theta[0], theta[1].exp(), gradient)
    return ((model - data) ** 2).mean() / sigma**2


def fit(optimizer_cls, steps: int, **kwargs) -> tuple[torch.Tensor, list[float]]:
    theta = torch.tensor([0.3, torch.log(torch.tensor(0.5)).item()], requires_grad=True)
    opt = optimizer_cls([theta], **kwargs)
    history = []

    def closure():
        opt.zero_grad()
        loss = loss_fn(theta, qd.gradient.Adjoint())
        loss.backward()
        history.append(loss.item())
        return loss

    for _ in range(steps):
        opt.step(closure)
    return theta.detach(), history


# %% [markdown]
# ## L-BFGS and Adam
#
# L-BFGS uses curvature information and converges in a few iterations (each
# iteration evaluates the loss several times); Adam needs more, cheaper steps.

# %%
theta_lbfgs, hist_lbfgs = fit(
    torch.optim.LBFGS, 2 if FAST else 4, lr=1, max_iter=20, line_search_fn="strong_wolfe"
)
theta_adam, hist_adam = fit(torch.optim.Adam, 30 if FAST else 150, lr=0.05)

# %% [markdown]
# ## Uncertainty of the fit
#
# Near the minimum the covariance of the estimate is $\sigma^2 (J^\top J)^{-1}$, with
# $J$ the Jacobian of the model with respect to $(\Delta, \gamma)$:
# `torch.autograd.functional.jacobian` computes it through the solver.

# %%
J = torch.autograd.functional.jacobian(
    lambda p: simulate(p[0], p[1]), torch.stack([theta_lbfgs[0], theta_lbfgs[1].exp()])
)
stderr = (sigma**2 * torch.linalg.inv(J.T @ J)).diagonal().sqrt()

for name, theta in (("L-BFGS", theta_lbfgs), ("Adam", theta_adam)):
    delta, gamma = theta[0].item(), theta[1].exp().item()
    print(
        f"{name:7s} Δ = {delta:.4f} (true {true['delta']}),  "
        f"γ = {gamma:.4f} (true {true['gamma']}),  final loss {loss_fn(theta).item():.3f}"
    )
print(f"standard errors: Δ ± {stderr[0]:.4f}, γ ± {stderr[1]:.4f}")

# %% [markdown]
# Both optimisers recover the true values to within a few standard errors, the
# resolution the noise allows.

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
ax1.plot(tsave, data, ".", label="data")
with torch.no_grad():
    ax1.plot(tsave, simulate(theta_lbfgs[0], theta_lbfgs[1].exp()), label="fit (L-BFGS)")
ax1.set_xlabel("t")
ax1.set_ylabel(r"$\langle\sigma_z\rangle$")
ax1.legend()
ax2.semilogy(hist_lbfgs, label="L-BFGS (per evaluation)")
ax2.semilogy(hist_adam, label="Adam")
ax2.set_xlabel("loss evaluation")
ax2.set_ylabel("loss")
ax2.legend()
fig.tight_layout()
fig.savefig("fit_qubit_parameters.png", dpi=100)
