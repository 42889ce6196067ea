"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from execute_env import Env, make_env
from fakeapi import FakeAPI, sample_cluster


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """An execute environment: the fake API serving the sample cluster, a kubeconfig for it and
    a key pair to sign plans with."""
    with FakeAPI() as api:
        api.add_all(sample_cluster())
        yield make_env(api, tmp_path)


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    """The fake API serving the sample cluster (a module may serve other objects under this name)."""
    with FakeAPI() as server:
        server.add_all(sample_cluster())
        yield server


@pytest.fixture
def kubeconfig(api: FakeAPI, tmp_path: Path) -> str:
    """A kubeconfig for the module's `api`."""
    return api.kubeconfig(str(tmp_path / "kubeconfig"))
