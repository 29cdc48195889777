# %% [markdown]
# # Fitting Hamiltonian parameters to data: SGD, Adam and L-BFGS
#
# **Goal.** Recover the unknown detuning $\Delta$ and decay rate $\gamma$ of a driven,
# damped qubit from a noisy measurement of its population, by minimising a
# least-squares loss with gradients that flow through `qd.mesolve`, and compare three
# `torch.optim` optimisers on it: gradient descent (`SGD`, with momentum), `Adam` and
# `LBFGS`. Then estimate the uncertainty of the fit from the Jacobian of the model.
#
# **Physics.** In the frame of the drive the qubit evolves under
# $H = \frac{\Delta}{2}\sigma_z + \frac{\Omega}{2}\sigma_x$ with the jump operator
# $L = \sqrt{\gamma}\,\sigma_-$:
#
# $$
# \dot\rho = -i[H, \rho] + \gamma\Big(\sigma_-\rho\sigma_+ - \tfrac12\{\sigma_+\sigma_-, \rho\}\Big).
# $$
#
# We record $\langle\sigma_z\rangle(t)$ at 60 times with Gaussian noise of standard
# deviation $\sigma = 0.02$: damped Rabi oscillations, whose frequency
# $\sqrt{\Omega^2 + \Delta^2}$ and contrast $\Omega^2/(\Omega^2 + \Delta^2)$ tell
# $\Delta$, and whose decay tells $\gamma$.
#
# **API.** `qd.mesolve` (gradients with respect to tensors inside `H` and the jump
# operators), `torch.optim.SGD`, `torch.optim.Adam`, `torch.optim.LBFGS`, and
# `torch.autograd.functional.jacobian` for the uncertainty of the fit.

# %%
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import dynamics as qd

FAST = os.environ.get("QD_TUTORIAL_FAST") == "1"
torch.manual_seed(0)

omega = 2.0  # known Rabi frequency
true = {"delta": 0.7, "gamma": 0.15}
sigma = 0.02
tsave = torch.linspace(0.0, 10.0, 60, dtype=torch.float64)


def simulate(delta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """⟨σz⟩(t) of the driven damped qubit, differentiable in `delta` and `gamma`."""
    H = delta / 2 * qd.sigmaz() + omega / 2 * qd.sigmax()
    L = torch.sqrt(gamma) * qd.sigmam()
    result = qd.mesolve(
        H,
        [L],
        qd.basis(2, 0),
        tsave,
        exp_ops=[qd.sigmaz()],
        method=qd.method.Tsit5(rtol=1e-7, atol=1e-9),
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
# We fit $\theta = (\Delta, \log\gamma)$: the logarithm keeps the rate positive and
# puts both parameters on similar scales. The loss is the mean squared residual in
# units of the noise variance,
#
# $$
# \mathcal L(\theta) = \frac{1}{N\sigma^2}\sum_{k=1}^{N}\big(\langle\sigma_z\rangle_\theta(t_k) - d_k\big)^2,
# $$
#
# so that a good fit has $\mathcal L \approx 1$ (the residuals are then the noise).


# %%
def loss_fn(theta: torch.Tensor) -> torch.Tensor:
    model = simulate(theta[0], theta[1].exp())
    return ((model - data) ** 2).mean() / sigma**2


def fit(optimizer_cls, steps: int, **kwargs) -> tuple[torch.Tensor, list[float], list[float]]:
    """Run `steps` optimiser steps from a fixed start; record every loss evaluation."""
    theta = torch.tensor([0.3, torch.log(torch.tensor(0.5)).item()], requires_grad=True)
    opt = optimizer_cls([theta], **kwargs)
    history, times = [], []
    start = time.perf_counter()

    def closure():
        opt.zero_grad()
        loss = loss_fn(theta)
        loss.backward()
        history.append(loss.item())
        times.append(time.perf_counter() - start)
        return loss

    for _ in range(steps):
        opt.step(closure)
    return theta.detach(), history, times


# %% [markdown]
# ## Three optimisers
#
# - **SGD** takes steps $\theta \leftarrow \theta - \eta\, v$ along a running average
#   $v$ of the gradient (momentum 0.9). Here every step sees all the data, so it is
#   plain gradient descent with momentum; the "stochastic" in its name comes from
#   machine learning, where each step sees a random mini-batch. Its learning rate
#   $\eta$ must suit the stiffest direction of the loss, which makes it slow along the
#   others.
# - **Adam** rescales each parameter's step by a running estimate of its gradient's
#   size: robust to badly scaled parameters and noisy losses, a good default for
#   pulse optimisation and neural networks, but it needs many steps to settle.
# - **L-BFGS** builds an estimate of the curvature (the inverse Hessian) from past
#   gradients and takes quasi-Newton steps with a line search. On a smooth,
#   deterministic loss with few parameters it converges in a handful of iterations,
#   each with several loss evaluations: `opt.step` needs the `closure`.
#
# We count *loss evaluations* (one solve plus one backward pass each): that is what
# costs time.

# %%
n_first = 8 if FAST else 20
theta_lbfgs, hist_lbfgs, t_lbfgs = fit(
    torch.optim.LBFGS, 2 if FAST else 4, lr=1, max_iter=n_first, line_search_fn="strong_wolfe"
)
n_steps = 12 if FAST else 150
theta_adam, hist_adam, t_adam = fit(torch.optim.Adam, n_steps, lr=0.1)
theta_sgd, hist_sgd, t_sgd = fit(torch.optim.SGD, n_steps, lr=5e-4, momentum=0.9)

# %% [markdown]
# ## Uncertainty of the fit
#
# Near the minimum the covariance of the estimate is $\sigma^2 (J^\top J)^{-1}$, with
# $J$ the $60\times2$ Jacobian of the model with respect to $(\Delta, \gamma)$:
# `torch.autograd.functional.jacobian` computes it through the solver, with
# `vectorize=True` doing all 60 vector–Jacobian products in one batched backward pass.

# %%
J = torch.autograd.functional.jacobian(
    lambda p: simulate(p[0], p[1]),
    torch.stack([theta_lbfgs[0], theta_lbfgs[1].exp()]),
    vectorize=True,
)
stderr = (sigma**2 * torch.linalg.inv(J.T @ J)).diagonal().sqrt()

fits = {"L-BFGS": theta_lbfgs, "Adam": theta_adam, "SGD": theta_sgd}
histories = {"L-BFGS": hist_lbfgs, "Adam": hist_adam, "SGD": hist_sgd}
for name, theta in fits.items():
    delta, gamma = theta[0].item(), theta[1].exp().item()
    print(
        f"{name:7s} Δ = {delta:.4f} (true {true['delta']}),  γ = {gamma:.4f} "
        f"(true {true['gamma']}),  final loss {histories[name][-1]:.3f} "
        f"after {len(histories[name])} evaluations"
    )
print(f"standard errors: Δ ± {stderr[0]:.4f}, γ ± {stderr[1]:.4f}")

# L-BFGS reaches the noise floor and the truth within a few standard errors
assert hist_lbfgs[-1] < 1.5
assert abs(theta_lbfgs[0] - true["delta"]) < 4 * stderr[0]
assert abs(theta_lbfgs[1].exp() - true["gamma"]) < 4 * stderr[1]
for hist in (hist_adam, hist_sgd):  # the others make progress in their budget
    assert min(hist) < 0.2 * hist[0]
if not FAST:
    assert min(hist_adam) < 1.5

# %% [markdown]
# L-BFGS reaches the noise floor ($\mathcal L \approx 1$) in about 20 evaluations and
# recovers the true values to within the standard errors the noise allows. Adam and
# SGD with momentum get there too, in many more evaluations, and oscillate on the way
# (the loss is far from isotropic). For fitting a few physical parameters to data,
# L-BFGS is the tool of choice; Adam shines when there are many parameters or the
# loss is noisy.

# %%
fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
ax1.plot(tsave, data, ".", color="0.4", label="data")
with torch.no_grad():
    ax1.plot(tsave, simulate(theta_lbfgs[0], theta_lbfgs[1].exp()), label="fit (L-BFGS)")
ax1.set_xlabel("t")
ax1.set_ylabel(r"$\langle\sigma_z\rangle$")
ax1.legend()
ax1.set_title("data and fit")
for name, times in (("L-BFGS", t_lbfgs), ("Adam", t_adam), ("SGD", t_sgd)):
    ax2.semilogy(range(1, len(histories[name]) + 1), histories[name], label=name)
    ax3.semilogy(times, histories[name], label=name)
for ax in (ax2, ax3):
    ax.axhline(1.0, color="k", ls=":", lw=0.8)
    ax.set_ylabel(r"loss $\mathcal{L}$")
    ax.legend()
ax2.set_xlabel("loss evaluation")
ax3.set_xlabel("wall time (s)")
ax2.set_title("loss curves")
ax3.set_title("against time")
fig.savefig("03_fit_hamiltonian_parameters.png", dpi=100)
