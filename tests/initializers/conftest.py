"""Fixtures for the initializer tests (shape tables live in initializer_cases.py)."""

from __future__ import annotations

import jax
import pytest


@pytest.fixture
def x64():
    """Enable float64 for one test only (x64 stays off by default)."""
    with jax.enable_x64(True):
        yield
