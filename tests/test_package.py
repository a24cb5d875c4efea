"""The package's shape: no import cycles, a CLI that imports no torch, modules that each hold one
idea (short, saying what they hold) and public names that mean one thing wherever they are defined.

Every check walks the package tree (PACKAGE.rglob), so modules may move between subpackages freely."""

from __future__ import annotations

import ast
import re
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
    assert {"dreamstyle.core.registry", "dreamstyle.core.job"} <= g["dreamstyle.core.runner"] and "dreamstyle.core.runner" in g["dreamstyle.core.batch"]


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


# --- each module holds one idea ------------------------------------------------------------------

# Public function names that more than one module may define. Each entry needs a reason: the
# rule is that a name means one thing, so that neither a reader nor `from x import name` must guess
# which one is meant. Renaming (run -> optimise / main, probe -> channels_and_strides /
# measure_shift, margin_for -> canvas_margin / tile_margin …) emptied the list of accidents; an
# entry the code no longer needs (or needs lower) fails the test too, so it only ever shrinks.
# Counted by name, not by module path, so that moving modules leaves it valid.
SHARED_FUNCTION_NAMES_ALLOWED: dict[str, int] = {}
# The engine protocol: every module under engines/ that the registry names defines `check(job)` and
# `make(job, ctx)` with the one meaning core/registry.py gives them, and registry.check runs an
# engine's check. A new engine adds a pair, so these are exempt rather than counted.
PROTOCOL = {"check", "make"}
# A summary that names a grab-bag says the module holds no one idea.
GRAB_BAG = re.compile(r"\b(misc|miscellaneous|utils?|utilities|helpers?|various|stuff|and more)\b", re.IGNORECASE)
MIN_SUMMARY_WORDS = 4
FILLER = {"this", "is", "the", "a", "an", "module", "package", "of", "for", "code"}


def python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def long_files(root: Path, limit: int = MAX_LINES) -> dict[str, int]:
    """Files past `limit` lines, by path under `root`."""
    return {str(p.relative_to(root)): n for p in python_files(root) if (n := len(p.read_text().splitlines())) > limit}


def summary_problems(root: Path) -> dict[str, str]:
    """What is wrong with each module's docstring summary (its first line), by path under `root`:
    missing, too short to say anything, just the module's name, a grab-bag, or the same as
    another module's (two modules that say they hold the same thing)."""
    problems: dict[str, str] = {}
    seen: dict[str, str] = {}
    for path in python_files(root):
        rel = str(path.relative_to(root))
        doc = ast.get_docstring(ast.parse(path.read_text()))
        first = doc.strip().splitlines()[0].strip() if doc and doc.strip() else ""
        words = re.findall(r"[\w`'-]+", first)
        name = path.parent.name if path.name == "__init__.py" else path.stem
        if not first:
            problems[rel] = "no module docstring saying what it holds"
        elif {w.strip("`'").lower() for w in words} <= {name.lower(), "py", *FILLER}:
            problems[rel] = f"summary {first!r} only repeats the module's name"
        elif len(words) < MIN_SUMMARY_WORDS:
            problems[rel] = f"summary {first!r} is too short to say what the module holds"
        elif GRAB_BAG.search(first):
            problems[rel] = f"summary {first!r} describes a grab-bag, not one idea"
        elif first.lower() in seen:
            problems[rel] = f"summary {first!r} is the same as {seen[first.lower()]}'s"
        seen.setdefault(first.lower(), rel)
    return problems


def public_functions(root: Path) -> dict[str, list[str]]:
    """Each public top-level function (or async function) name -> the modules defining it, as paths
    under `root`. Imports and re-exports are not definitions: only `def` counts."""
    found: dict[str, list[str]] = {}
    for path in python_files(root):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                found.setdefault(node.name, []).append(str(path.relative_to(root)))
    return found


def name_collisions(root: Path, allowed: dict[str, int]) -> list[str]:
    """Why the public function names under `root` break the rule, one line each: a name defined in
    more modules than `allowed` lets it be, or an allowance the code no longer needs."""
    defined = {name: where for name, where in public_functions(root).items() if name not in PROTOCOL}
    wrong = [f"`{name}` is defined in {len(where)} modules ({', '.join(where)}), {allowed.get(name, 1)} allowed: "
             f"rename it where it means something else, or define it once and import it"
             for name, where in sorted(defined.items()) if len(where) > allowed.get(name, 1)]  # fmt: skip
    wrong += [f"`{name}` is allowed in {n} modules but defined in {len(defined.get(name, []))}: "
              f"lower (or drop) its entry in SHARED_FUNCTION_NAMES_ALLOWED"
              for name, n in sorted(allowed.items()) if len(defined.get(name, [])) < n]  # fmt: skip
    return wrong


def test_the_shape_checks_walk_the_whole_tree():
    """The checks below see every module, subpackages included: none of them can pass by seeing
    nothing, and a module moved into a subpackage stays checked."""
    files = python_files(PACKAGE)
    assert len(files) > 30
    assert any(len(p.relative_to(PACKAGE).parts) > 1 for p in files)
    assert {"run", "optimise", "canvas_margin", "check", "make"} <= set(public_functions(PACKAGE))


def test_no_module_is_past_the_line_limit():
    long = long_files(PACKAGE)
    assert long == {}, f"past {MAX_LINES} lines, split these by idea: {long}"


def test_every_module_says_what_it_holds_in_its_first_docstring_line():
    problems = summary_problems(PACKAGE)
    assert problems == {}, "\n".join(f"{path}: {why}" for path, why in problems.items())


def test_public_function_names_mean_one_thing():
    wrong = name_collisions(PACKAGE, SHARED_FUNCTION_NAMES_ALLOWED)
    assert wrong == [], "\n".join(wrong)


def test_the_shape_checks_catch_what_they_are_for(tmp_path):
    """Each check, on a small package made to break it, says so: a long file, a missing, empty,
    name-only, grab-bag and duplicated summary, a name defined twice (in a subpackage too), and a
    stale allowance."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": '"""A package made to break every shape rule once."""\n',
        "long.py": '"""A module that has grown far too long."""\n' + "x = 1\n" * MAX_LINES,
        "bare.py": "def run():\n    pass\n",
        "short.py": '"""Loads pictures."""\n',
        "echo.py": '"""This is the echo module."""\n',
        "bag.py": '"""Miscellaneous helpers for colours and files."""\n',
        "one.py": '"""Loading pictures from anything Pillow reads."""\ndef probe():\n    pass\n',
        "sub/__init__.py": '"""A subpackage holding one more module."""\n',
        "sub/two.py": '"""Loading pictures from anything Pillow reads."""\ndef probe():\n    pass\nasync def run():\n    pass\n',
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    assert long_files(pkg) == {"long.py": MAX_LINES + 1}
    problems = summary_problems(pkg)
    assert set(problems) == {"bare.py", "short.py", "echo.py", "bag.py", "sub/two.py"}, problems
    assert "no module docstring" in problems["bare.py"] and "too short" in problems["short.py"]
    assert "only repeats" in problems["echo.py"] and "grab-bag" in problems["bag.py"]
    assert "one.py" in problems["sub/two.py"]
    wrong = name_collisions(pkg, {})
    assert len(wrong) == 2 and wrong[0].startswith("`probe` is defined in 2 modules (one.py, sub/two.py)")
    assert wrong[1].startswith("`run` is defined in 2 modules (bare.py, sub/two.py)")
    assert name_collisions(pkg, {"probe": 2, "run": 2}) == []
    stale = name_collisions(pkg, {"probe": 2, "run": 2, "margin_for": 2})
    assert len(stale) == 1 and "`margin_for` is allowed in 2 modules but defined in 0" in stale[0]
