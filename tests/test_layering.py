"""The package's layers point one way: surfaces (cli, studio, cluster, api) on core and engines,
engines on optim, models and media, and those three never reach back up. Core reaches an engine only
through the registry's lazy references, so adding an engine never touches core's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dreamstyle"

SURFACES = {"cli", "studio", "cluster", "api"}
# What each layer may import from the package (besides the root's errors, events and version, which
# every layer speaks). A layer not named here is a surface and may import anything below it.
ALLOWED = {
    "media": {"media"},
    "models": {"models", "media"},
    "optim": {"optim", "models", "media"},
    "engines": {"engines", "optim", "models", "media", "core"},
    "core": {"core", "optim", "models", "media"},
}
ROOT_BASICS = {"errors", "events", "version"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path) -> set[str]:
    """Every dreamstyle module `path` imports, at the top or inside a function; imports under
    `if TYPE_CHECKING:` are left out, since they never run."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for b in node.body for n in ast.walk(b)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
            if target.split(".")[0] != "dreamstyle":
                continue
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if (PACKAGE.parent / f"{target}.{alias.name}".replace(".", "/")).with_suffix(".py").exists() or (PACKAGE.parent / f"{target}.{alias.name}".replace(".", "/")).is_dir() else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "dreamstyle"}
    return found


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    return parts[1]


def upward_imports() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = module_name(path)
        mine = layer_of(me)
        if mine not in ALLOWED:
            continue
        for target in imported(path):
            theirs = layer_of(target)
            if target == "dreamstyle" or theirs in ROOT_BASICS and target.count(".") == 1:
                continue
            if theirs not in ALLOWED[mine]:
                bad.append(f"{me} imports {target}")
            elif mine == "core" and theirs == "engines":
                bad.append(f"{me} imports {target} (core reaches engines only through the registry)")
    return bad


def test_no_layer_imports_a_layer_above_it():
    assert upward_imports() == []


def test_nothing_below_the_surfaces_imports_them():
    bad = [f"{module_name(p)} imports {t}" for p in PACKAGE.rglob("*.py") if layer_of(module_name(p)) not in SURFACES | {"root"}
           for t in imported(p) if layer_of(t) in SURFACES]  # fmt: skip
    assert bad == []


def test_the_root_basics_import_nothing_of_the_package(tmp_path):
    for name in ROOT_BASICS:
        assert {t for t in imported(PACKAGE / f"{name}.py") if t != "dreamstyle"} <= {f"dreamstyle.{b}" for b in ROOT_BASICS}, name


@pytest.mark.parametrize("source, expect", [
    ("from ..core.job import Job\n", ["dreamstyle.models.x imports dreamstyle.core.job"]),
    ("def f():\n    from ..engines import dream\n", ["dreamstyle.models.x imports dreamstyle.engines.dream"]),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..core.job import Job\n", []),
    ("from ..media.images import load_image\n", []),
])  # fmt: skip
def test_the_check_sees_upward_imports_also_inside_functions(tmp_path, monkeypatch, source, expect):
    fake = tmp_path / "dreamstyle"
    for sub in ("models", "core", "engines", "media"):
        (fake / sub).mkdir(parents=True)
        (fake / sub / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "engines" / "dream.py").write_text("")
    (fake / "models" / "x.py").write_text(source)
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake, raising=False)
    globals()["PACKAGE"], old = fake, PACKAGE
    try:
        assert upward_imports() == expect
    finally:
        globals()["PACKAGE"] = old
