"""The client's credentials hook (run by the kubernetes client before every request) is run at
most once per refresh period per configuration, and the URL it sets keeps no credentials."""

from __future__ import annotations

import copy
from typing import Any

from kubernetes import client as k8s_client

from pruneplan.collect.client import REFRESH_SECONDS, _keep_host_without_userinfo


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _configured(runs: list[str]) -> tuple[Any, Clock]:
    config: Any = k8s_client.Configuration()  # the client's stubs type the hook as None only
    config.host = "https://api.example:6443"

    def loader_hook(target: Any) -> None:
        # what the kubeconfig loader's hook does: token, URL from the file, itself again
        runs.append(target.host)
        target.api_key["BearerToken"] = f"token-{len(runs)}"
        target.host = "https://user:secret@api.example:6443"
        target.refresh_api_key_hook = loader_hook

    config.refresh_api_key_hook = loader_hook
    clock = Clock()
    _keep_host_without_userinfo(config, clock)
    return config, clock


def _request(config: Any) -> None:
    assert config.refresh_api_key_hook is not None
    config.refresh_api_key_hook(config)


def test_the_hook_runs_on_the_first_request_and_not_again_within_the_refresh_period():
    runs: list[str] = []
    config, clock = _configured(runs)
    _request(config)
    for _ in range(50):
        clock.now += REFRESH_SECONDS / 100
        _request(config)
    assert len(runs) == 1
    assert config.api_key["BearerToken"] == "token-1"


def test_the_hook_runs_again_once_the_refresh_period_is_over_and_stays_installed():
    runs: list[str] = []
    config, clock = _configured(runs)
    _request(config)
    clock.now += REFRESH_SECONDS
    _request(config)
    assert len(runs) == 2
    assert config.api_key["BearerToken"] == "token-2"
    clock.now += REFRESH_SECONDS
    _request(config)  # the loader's hook re-installed itself: ours replaced it again
    assert len(runs) == 3


def test_the_url_set_by_the_hook_is_stripped_of_its_credentials():
    runs: list[str] = []
    config, _ = _configured(runs)
    _request(config)
    assert config.host == "https://api.example:6443"


def test_a_copy_of_the_configuration_runs_the_hook_on_its_own_first_request():
    runs: list[str] = []
    config, clock = _configured(runs)
    _request(config)
    other = copy.copy(config)  # what collect's transport and execute's API client make
    other.api_key = dict(config.api_key)
    _request(other)
    assert len(runs) == 2
    clock.now += 1
    _request(other)
    _request(config)
    assert len(runs) == 2
