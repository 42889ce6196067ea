"""analyze, explain and report run air-gapped: they never import kubernetes or requests (README.md, "Layout")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fixtures" / "example-dump.json.gz"

PROBE = """
import sys
from pruneplan.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in ("kubernetes", "requests", "urllib3") if m in sys.modules)
print("LOADED=" + ",".join(loaded))
sys.exit(code)
"""


def run_probe(*args: str) -> str:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_analyze_does_not_load_the_kubernetes_client_or_requests(tmp_path):
    assert run_probe("analyze", str(EXAMPLE), "-o", str(tmp_path / "p.json"), "-q") == "LOADED="


def test_explain_and_report_do_not_load_them_either(tmp_path):
    plan = tmp_path / "p.json"
    run_probe("analyze", str(EXAMPLE), "-o", str(plan), "-q")
    doc = plan.read_text()
    import json

    image = json.loads(doc)["imageDeletions"][0]["name"]
    assert run_probe("explain", str(EXAMPLE), image) == "LOADED="
    assert run_probe("report", str(plan), "--dump", str(EXAMPLE), "-o", str(tmp_path / "r.md")) == "LOADED="


def test_help_does_not_load_them():
    assert run_probe("--help") == "LOADED="
