"""collect streams: its peak memory does not grow with the number of objects beyond a page.

The collector runs in a child process (the fake API, which holds every object, stays in this
one) that reports its own peak RSS: VmHWM of /proc/self/status. Not getrusage's ru_maxrss: Linux
carries the parent's peak into a child across fork+exec, so that figure would measure the fake. Run this file as a script to print the figures
for a bigger cluster: `python tests/test_collect_memory.py 50000`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakeapi import REGISTRY, FakeAPI, sha  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024


def fill(api: FakeAPI, pods: int) -> None:
    """`pods` pods of about 1.5 KB of JSON each (env, args, volumes: what a real pod carries)."""
    for n in range(pods):
        ns = f"ns-{n % 200}"
        api.add({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"namespace": ns, "name": f"pod-{n:07d}", "labels": {"app": f"a{n % 50}", "pod-template-hash": "5d8f9c"},
                         "annotations": {"openshift.io/scc": "restricted-v2", "k8s.ovn.org/pod-networks": "x" * 200},
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "app", "image": f"{REGISTRY}/{ns}/app@{sha(str(n % 997))}",
                                     "env": [{"name": f"VAR_{i}", "value": "v" * 30} for i in range(8)],
                                     "args": ["--flag=value"] * 4,
                                     "resources": {"limits": {"cpu": "1", "memory": "512Mi"}}}],
                     "volumes": [{"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]},
            "status": {"phase": "Running", "podIP": "10.128.0.1", "conditions": [{"type": "Ready", "status": "True"}] * 4},
        }, resource="pods")


def peak_rss_of_collect(pods: int, page_size: int = 500) -> tuple[int, int]:
    """(peak RSS in bytes of a `pruneplan collect` child process, dump size in bytes)."""
    with FakeAPI() as api, tempfile.TemporaryDirectory() as tmp:
        fill(api, pods)
        kubeconfig = api.kubeconfig(os.path.join(tmp, "kc"))
        out = os.path.join(tmp, "dump.json.gz")
        args = ["collect", "-o", out, "--kubeconfig", kubeconfig, "--page-size", str(page_size)]
        done = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split()[-1]), os.path.getsize(out)


# Runs the CLI, then prints its own peak RSS in bytes.
CHILD = """
import sys
from pruneplan.cli import main
code = main(sys.argv[1:])
if code:
    sys.exit(code)
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(int(line.split()[1]) * 1024)
"""


def test_peak_memory_does_not_grow_with_the_number_of_pods():
    small, _ = peak_rss_of_collect(1_000)
    large, _ = peak_rss_of_collect(10_000)
    # Holding 9,000 more pods (about 14 MB of JSON, several times that as Python objects)
    # would add far more than this; streaming adds only allocator noise.
    assert large - small < 8 * MiB, (small / MiB, large / MiB)


if __name__ == "__main__":
    for count in [int(a) for a in sys.argv[1:]] or [1_000, 10_000, 50_000]:
        rss, size = peak_rss_of_collect(count)
        print(f"{count:>7} pods: peak RSS {rss / MiB:.1f} MiB, dump {size / MiB:.1f} MiB (gzip)")
