"""Gradient modes (`qd.gradient`): how gradients flow through a solve function.

- `Direct()`: backpropagation through every step (fastest; memory grows with steps).
- `Checkpointed(ncheckpoints)`: recomputes segments (memory grows with checkpoints).
- `Adjoint()`: steps the adjoint state backwards (memory independent of the graph).
"""

from solvers.gradients import ALL_GRADIENTS, AbstractGradient, Adjoint, Checkpointed, Direct

__all__ = ["ALL_GRADIENTS", "AbstractGradient", "Adjoint", "Checkpointed", "Direct"]
