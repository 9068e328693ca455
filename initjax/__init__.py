"""initjax: a JAX/Flax benchmark suite for weight initialization and signal propagation."""

__version__ = "0.1.0"
