"""The package's shape: no import cycles, a CLI that imports no torch, files that hold one idea."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dreamstyle"
MAX_LINES = 400


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    return _imports(path.read_text(), me, package, modules)


def _imports(text: str, me: str, package: str, modules: set[str]) -> set[str]:
    """Every module of the package this source imports, at the top or inside a function: a cycle
    through a function-level import is still a cycle in the design."""
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            found.update(m for m in modules if m.count(".") == 1 and me == "dreamstyle")  # the lazy facade may reach any module
    return {m for m in found if m in modules and m != me}


def graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, modules) for p in files}


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, as a path that comes back to its start, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> list[str] | None:
        state[m] = 1
        for d in sorted(g.get(m, ())):
            if state.get(d) == 1:
                return path[path.index(d):] + [m, d] if d in path else [m, d]
            if d not in state and (found := visit(d, path + [m])):
                return found
        state[m] = 2
        return None

    for m in sorted(g):
        if m not in state and (found := visit(m, [])):
            return found
    return None


def test_the_package_has_no_import_cycle():
    g = graph()
    # The package root is a lazy facade over everything; nothing inside may import it back.
    importers_of_root = sorted(m for m, deps in g.items() if "dreamstyle" in deps)
    assert importers_of_root == [], f"{importers_of_root} import the package root: import the module itself"
    cycle = find_cycle({m: deps for m, deps in g.items() if m != "dreamstyle"})
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
    # And the graph was really read: the spine's edges are there.
    assert {"dreamstyle.engines.calls", "dreamstyle.core.job"} <= g["dreamstyle.core.runner"] and "dreamstyle.core.runner" in g["dreamstyle.core.batch"]


def test_the_cycle_check_sees_cycles_through_function_level_imports(tmp_path):
    """dream.py and tiling.py once imported each other, one of them inside a function."""
    (tmp_path / "a.py").write_text("from .c import x\n")
    (tmp_path / "b.py").write_text("def f():\n    from . import a\n")
    (tmp_path / "c.py").write_text("def g():\n    from .b import f\n")
    modules = {"dreamstyle.a", "dreamstyle.b", "dreamstyle.c"}
    g = {f"dreamstyle.{n}": imports_of_in(tmp_path / f"{n}.py", modules) for n in "abc"}
    assert g == {"dreamstyle.a": {"dreamstyle.c"}, "dreamstyle.b": {"dreamstyle.a"}, "dreamstyle.c": {"dreamstyle.b"}}
    assert find_cycle(g) == ["dreamstyle.a", "dreamstyle.c", "dreamstyle.b", "dreamstyle.a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None


def imports_of_in(path: Path, modules: set[str]) -> set[str]:
    """imports_of for a file that is not in the package, as if it sat in it."""
    fake = PACKAGE / path.name
    return {m for m in _imports(path.read_text(), "dreamstyle." + path.stem, "dreamstyle", modules)}


def test_importing_the_cli_imports_no_torch():
    code = "import sys, dreamstyle.cli; print(sorted(m for m in ('torch', 'torchvision', 'numpy', 'PIL', 'ray') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"importing dreamstyle.cli pulled in {out}: --help and shell completion would wait for them"


def test_help_version_presets_and_info_answer_without_torch(tmp_path):
    """What must answer at once never touches torch: each runs in a fresh process that fails if it does."""
    guard = ("import sys, builtins; real = builtins.__import__\n"
             "def imp(name, *a, **k):\n"
             "    if name.split('.')[0] in ('torch', 'torchvision'): raise SystemExit('imported ' + name)\n"
             "    return real(name, *a, **k)\n"
             "builtins.__import__ = imp\n"
             "from dreamstyle.cli import main; sys.argv = ['dreamstyle', *sys.argv[1:]]; main()\n")  # fmt: skip
    fixture = Path(__file__).resolve().parent / "fixtures" / "v0.1.0-dream.png"
    for args in (["--help"], ["--version"], ["dream", "--help"], ["presets"], ["info", str(fixture)], ["info", str(fixture), "--json"]):
        res = subprocess.run([sys.executable, "-c", guard, *args], capture_output=True, text=True)
        assert res.returncode == 0, (args, res.stdout[-300:], res.stderr[-600:])


def test_no_module_holds_two_ideas():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these: {long}"
