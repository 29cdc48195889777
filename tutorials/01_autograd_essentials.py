# %% [markdown]
# # Autograd essentials, on a qubit
#
# **Goal.** Learn the parts of `torch.autograd` that every later tutorial relies on,
# on small quantum examples whose derivatives we know by hand: tensors that require
# grad, the graph and `grad_fn`, `.backward()`, the accumulation of `.grad`,
# `retain_graph` and `create_graph` (second derivatives), `torch.autograd.grad` with
# `grad_outputs` (vector–Jacobian products), full Jacobians with `torch.func.jacrev`,
# and `torch.no_grad`.
#
# **Physics.** A qubit starts in $|0\rangle$ and is rotated about the $x$ axis by an
# angle $\theta$, $U(\theta) = e^{-i\theta\sigma_x/2}$. The population of $|1\rangle$
# is
#
# $$
# P(\theta) = |\langle 1|U(\theta)|0\rangle|^2 = \sin^2\frac{\theta}{2},
# \qquad P'(\theta) = \frac{\sin\theta}{2},
# \qquad P''(\theta) = \frac{\cos\theta}{2}.
# $$
#
# Everything in `dynamics` is a plain `torch.Tensor` (`qd.sigmax()` is a complex
# $2\times2$ tensor), so torch differentiates through it like through any other
# tensor code.

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import dynamics as qd

FAST = os.environ.get("QD_TUTORIAL_FAST") == "1"  # nothing here is slow: same in both modes


def population(theta: torch.Tensor) -> torch.Tensor:
    """P(θ) = |⟨1|exp(-iθσx/2)|0⟩|², for a scalar or a batch of angles."""
    U = torch.linalg.matrix_exp(-0.5j * theta[..., None, None] * qd.sigmax())
    amp = (U @ qd.basis(2, 0))[..., 1, 0]  # ⟨1|U|0⟩
    return amp.real**2 + amp.imag**2  # |amp|², smooth even where amp = 0 (unlike abs())


# %% [markdown]
# ## Leaves, the graph and `grad_fn`
#
# A tensor created with `requires_grad=True` is a *leaf*: autograd records every
# operation applied to it. Each result carries a `grad_fn`, the node of the graph that
# knows how to propagate gradients back to its inputs. Following `next_functions`
# walks the graph from the output back to the leaf.

# %%
theta = torch.tensor(1.2, dtype=torch.float64, requires_grad=True)
P = population(theta)
print("P =", P)
print("theta is a leaf:", theta.is_leaf, "| P is a leaf:", P.is_leaf)
print("P.grad_fn:", P.grad_fn)
node, path = P.grad_fn, []
while node is not None and len(path) < 12:
    path.append(type(node).__name__)
    node = node.next_functions[0][0] if node.next_functions else None
print("graph, from P back to θ:", " <- ".join(path))

# %% [markdown]
# ## `.backward()` on a scalar
#
# `P.backward()` propagates $\partial P/\partial P = 1$ back through the graph and
# stores $\partial P/\partial\theta$ in `theta.grad`. Only leaves get a `.grad`.

# %%
P.backward()
print(f"autograd dP/dθ = {theta.grad.item():.12f}")
print(f"analytic sinθ/2 = {torch.sin(theta).item() / 2:.12f}")
assert torch.allclose(theta.grad, torch.sin(theta.detach()) / 2, atol=1e-12)

# %% [markdown]
# ## Gradients accumulate
#
# A second backward pass *adds* to `.grad`: this is what lets a loss be built in
# pieces (e.g. mini-batches), and why every optimisation loop calls
# `optimizer.zero_grad()` (or sets `.grad = None`) before each backward pass.

# %%
g1 = theta.grad.clone()
population(theta).backward()  # a new graph, a second backward pass
print(f"after two passes: {theta.grad.item():.6f} = 2 × {g1.item():.6f}")
assert torch.allclose(theta.grad, 2 * g1)
theta.grad = None  # reset (what `optimizer.zero_grad()` does)

# %% [markdown]
# ## A graph is freed after its backward pass: `retain_graph`
#
# To save memory, `.backward()` frees the intermediate values saved in the graph.
# A second call on the same output therefore fails, unless the first one was told to
# keep them with `retain_graph=True`.

# %%
P = population(theta)
P.backward()
try:
    P.backward()
except RuntimeError as err:
    print("second backward fails:", str(err).split(".")[0])

theta.grad = None
P = population(theta)
P.backward(retain_graph=True)
P.backward()  # works: the graph was kept
print(f"retain_graph: two passes accumulated {theta.grad.item():.6f}")
theta.grad = None

# %% [markdown]
# ## Second derivatives: `create_graph`
#
# With `create_graph=True` the backward pass itself is recorded, so the gradient is a
# differentiable function of $\theta$ and can be differentiated again. Here
# `torch.autograd.grad` returns the gradients instead of accumulating them into `.grad`.

# %%
P = population(theta)
(dP,) = torch.autograd.grad(P, theta, create_graph=True)
(d2P,) = torch.autograd.grad(dP, theta)
print(f"P'' = {d2P.item():.12f}  (analytic cosθ/2 = {torch.cos(theta).item() / 2:.12f})")
assert torch.allclose(d2P, torch.cos(theta.detach()) / 2, atol=1e-12)

# %% [markdown]
# ## Non-scalar outputs: vector–Jacobian products
#
# `.backward()` needs a scalar. For a vector output $y = f(x)$, reverse mode computes
# a *vector–Jacobian product* $v^\top J$ for a vector $v$ that you pass as
# `grad_outputs` (or as the argument of `y.backward(v)`). With a batch of independent
# angles, $J$ is diagonal and $v = (1, \dots, 1)$ returns every $P'(\theta_k)$ in one
# backward pass: that is how we draw the derivative curve below.
#
# A pitfall this curve would reveal: `population` computes $|a|^2$ as
# $(\mathrm{Re}\,a)^2 + (\mathrm{Im}\,a)^2$, not `a.abs() ** 2`. Mathematically the same,
# but $|a|$ has no derivative at $a = 0$ and autograd uses the subgradient 0 there, so
# `abs() ** 2` gives $P''(0) = 0$ instead of $1/2$ at $\theta = 0$ and $2\pi$.

# %%
thetas = torch.linspace(0.0, 2 * torch.pi, 101, dtype=torch.float64, requires_grad=True)
Ps = population(thetas)  # shape (101,)
(dPs,) = torch.autograd.grad(Ps, thetas, grad_outputs=torch.ones_like(Ps), create_graph=True)
(d2Ps,) = torch.autograd.grad(dPs, thetas, grad_outputs=torch.ones_like(dPs))
assert torch.allclose(dPs, torch.sin(thetas.detach()) / 2, atol=1e-12)
assert torch.allclose(d2Ps, torch.cos(thetas.detach()) / 2, atol=1e-12)

# %% [markdown]
# ## Full Jacobians: `torch.func.jacrev`
#
# When every entry of the Jacobian is needed, `torch.func.jacrev` builds it from one
# vector–Jacobian product per output (batched with `vmap`). Our example: a rotation
# about an axis in the $xy$ plane, $U = e^{-i\theta(\cos\phi\,\sigma_x + \sin\phi\,\sigma_y)/2}$,
# maps $|0\rangle$ to the Bloch vector
#
# $$
# \vec r(\theta, \phi) = (\sin\theta\sin\phi,\; -\sin\theta\cos\phi,\; \cos\theta),
# $$
#
# whose $3\times2$ Jacobian we compare with the analytic one.

# %%
sx, sy, sz = qd.sigmax(), qd.sigmay(), qd.sigmaz()
paulis = torch.stack([sx, sy, sz])


def bloch(params: torch.Tensor) -> torch.Tensor:
    theta, phi = params[0], params[1]
    H = (torch.cos(phi) * sx + torch.sin(phi) * sy) / 2
    psi = torch.linalg.matrix_exp(-1j * theta * H) @ qd.basis(2, 0)
    return (psi.mH @ paulis @ psi)[..., 0, 0].real  # (⟨σx⟩, ⟨σy⟩, ⟨σz⟩)


x = torch.tensor([0.9, 0.4], dtype=torch.float64)
J = torch.func.jacrev(bloch)(x)
t, p = x
J_exact = torch.stack(
    [
        torch.stack([torch.cos(t) * torch.sin(p), torch.sin(t) * torch.cos(p)]),
        torch.stack([-torch.cos(t) * torch.cos(p), torch.sin(t) * torch.sin(p)]),
        torch.stack([-torch.sin(t), torch.zeros(())]),
    ]
)
print("Bloch vector:", bloch(x).numpy().round(6))
print("Jacobian d(r)/d(θ, φ):\n", J.numpy().round(6))
assert torch.allclose(J, J_exact.double(), atol=1e-12)

# %% [markdown]
# ## `torch.no_grad`
#
# Inside `with torch.no_grad():` nothing is recorded: use it for evaluations that need
# no gradient (plots, metrics, updating parameters by hand), which then cost less time
# and memory. `.detach()` does the same for a single tensor.

# %%
with torch.no_grad():
    P_plain = population(theta)
print("under no_grad: requires_grad =", P_plain.requires_grad, "| grad_fn =", P_plain.grad_fn)
assert P_plain.grad_fn is None

# %% [markdown]
# ## A gradient step by hand
#
# Putting it together: maximise $P(\theta)$ by gradient ascent from $\theta = 0.3$. The
# update happens under `no_grad` (it must not enter the graph) and `.grad` is reset
# each time. The optimum is a $\pi$ pulse, $\theta = \pi$.

# %%
theta = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
trajectory = []
for _ in range(60):
    P = population(theta)
    P.backward()
    trajectory.append((theta.item(), P.item()))
    with torch.no_grad():
        theta += 2.0 * theta.grad
    theta.grad = None
print(f"θ = {theta.item():.6f} (π = {torch.pi:.6f}), P = {population(theta).item():.9f}")
assert abs(theta.item() - torch.pi) < 1e-4

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
th = thetas.detach()
ax1.plot(th, Ps.detach(), label=r"$P(\theta)$")
ax1.plot(th, dPs.detach(), label=r"$P'$ (autograd)")
ax1.plot(th[::5], (torch.sin(th) / 2)[::5], "k.", label=r"$\sin\theta/2$")
ax1.plot(th, d2Ps, label=r"$P''$ (create_graph)")
ax1.plot(th[::5], (torch.cos(th) / 2)[::5], "kx", ms=4, label=r"$\cos\theta/2$")
ax1.set_xlabel(r"$\theta$")
ax1.legend(fontsize=8)
ax1.set_title("derivatives by autograd vs analytic")
traj = torch.tensor(trajectory)
ax2.plot(th, Ps.detach(), color="0.7")
ax2.plot(traj[:, 0], traj[:, 1], "o-", ms=3, label="gradient ascent")
ax2.axvline(torch.pi, ls="--", color="k", lw=0.8)
ax2.set_xlabel(r"$\theta$")
ax2.set_ylabel(r"$P(\theta)$")
ax2.legend()
ax2.set_title(r"reaching the $\pi$ pulse")
fig.savefig("01_autograd_essentials.png", dpi=100)
