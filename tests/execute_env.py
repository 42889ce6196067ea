"""Shared set-up for execute tests: a fake API with a cluster, a collected dump, a signed plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from clirunner import Result, run_cli
from fakeapi import FakeAPI

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Env:
    api: FakeAPI
    tmp: Path
    kubeconfig: str
    key: str
    pub: str

    def collect(self, name: str = "dump.json.gz") -> Path:
        out = self.tmp / name
        result = run_cli("collect", "-o", str(out), "--kubeconfig", self.kubeconfig)
        assert result.code == 0, result.err
        return out

    def plan(self, *flags: str, name: str = "plan.json") -> Path:
        dump = self.collect()
        plan = self.tmp / name
        result = run_cli("analyze", str(dump), "-o", str(plan), "--sign-key", self.key, "-q", *flags)
        assert result.code == 0, result.err
        return plan

    def execute(self, plan: Path, *flags: str) -> Result:
        return run_cli("execute", str(plan), "--key", self.pub, "--kubeconfig", self.kubeconfig, *flags)

    def execute_subprocess(self, plan: Path, *flags: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run(
            [sys.executable, "-m", "pruneplan.cli", "execute", str(plan), "--key", self.pub,
             "--kubeconfig", self.kubeconfig, *flags],
            capture_output=True, text=True, timeout=timeout, env=env, check=False,
        )

    def writes(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.api.requests if r.method not in ("GET", "HEAD")]


def make_env(api: FakeAPI, tmp: Path) -> Env:
    key = str(tmp / "key")
    result = run_cli("keygen", key)
    assert result.code == 0, result.err
    return Env(api, tmp, api.kubeconfig(str(tmp / "kubeconfig")), key, key + ".pub")


def load(path: Path) -> dict:
    return json.loads(path.read_text())
