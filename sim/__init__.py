"""Agent-based simulator of markets for GPU compute."""

__version__ = "0.1.0"
