"""Env/wrapper tests run with one torch thread (see tests/conftest.py: one_torch_thread)."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield
