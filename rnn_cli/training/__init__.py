"""Training loops, checkpoints and optimisation helpers."""
