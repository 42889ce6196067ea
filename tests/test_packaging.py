"""The install layout: collect/, analyze/ and execute/ live at the repository's top level but
are imported only as pruneplan.collect, pruneplan.analyze and pruneplan.execute."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("analyze", "collect", "execute")


def _run_outside_checkout(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_the_stage_packages_are_not_importable_at_the_top_level_outside_the_checkout(tmp_path: Path) -> None:
    for name in TOP_LEVEL:
        done = _run_outside_checkout(tmp_path, f"import {name}")
        assert done.returncode != 0, f"import {name} worked outside the checkout"
        assert f"No module named '{name}'" in done.stderr


def test_the_stage_packages_import_under_the_pruneplan_namespace_outside_the_checkout(tmp_path: Path) -> None:
    done = _run_outside_checkout(
        tmp_path,
        "import pruneplan.analyze.decisions.engine, pruneplan.collect.collector, pruneplan.execute.runner; print('ok')",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_no_module_imports_a_stage_package_by_its_top_level_name() -> None:
    offenders = []
    for folder in ("pruneplan", *TOP_LEVEL, "tests", "benchmarks", "fixtures"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "pruneplan/" in path.relative_to(ROOT).as_posix() and path.relative_to(ROOT).parts[1] in TOP_LEVEL:
                continue  # the symlinked folders: the same files, seen through pruneplan/
            for module in _imported_modules(path):
                if module.split(".")[0] in TOP_LEVEL:
                    offenders.append(f"{path.relative_to(ROOT)}: {module}")
    assert offenders == []


def test_every_package_of_the_checkout_is_in_pyprojects_package_list() -> None:
    """`pip install .` installs only the packages pyproject.toml lists: a sub-package left out works
    in the checkout and is missing from every install (README.md, "Set-up")."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    folders = {name: ROOT / path for name, path in config["package-dir"].items()} | {"pruneplan": ROOT / "pruneplan"}
    found = set()
    for name, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder)
            if name == "pruneplan" and relative.parts and relative.parts[0] in TOP_LEVEL:
                continue  # the symlinks: their own entries cover them
            found.add(".".join([name, *relative.parts]))
    assert found == listed
