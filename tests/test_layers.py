"""The package's layering, as its imports show it: no import cycle inside `src/hennan_flow`, no import
of another module's `_private` name, no module over 800 lines.

The analysis reads every module's source with `ast` (nothing is imported), so a cycle hidden behind
`if TYPE_CHECKING:` or inside a function counts too: a cycle is a cycle in the design even where
Python happens to tolerate it. A package importing its own submodule and that submodule importing
names from the package (`hennan_flow` and `hennan_flow.errors`, say) is the one pair allowed: it is
how a package re-exports. The last tests run the same analysis on a small package written in a temp
dir, so each check is seen to fail on what it must refuse.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hennan_flow"
MAX_LINES = 800


@dataclass
class Layers:
    """Modules (dotted name → file), their import edges inside the package and the private imports."""

    modules: dict[str, Path]
    edges: dict[str, set[str]] = field(default_factory=dict)
    private: list[str] = field(default_factory=list)

    def cycles(self) -> list[list[str]]:
        """Every strongly connected set of two or more modules (Tarjan), but a package ↔ its submodule."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []

        def visit(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in sorted(self.edges[v]):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                component.sort()
                pair_with_package = len(component) == 2 and component[1].startswith(component[0] + ".")
                if len(component) > 1 and not pair_with_package:
                    found.append(component)

        for v in sorted(self.edges):
            if v not in index:
                visit(v)
        return found


def analyse(root: Path) -> Layers:
    """The import graph of the package at `root` (its directory name is the top-level name)."""
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    layers = Layers(modules, {m: set() for m in modules})
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[tuple[str, str | None]] = []
            if isinstance(node, ast.Import):
                targets = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node.level, node.module or "")
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append((sub, None) if sub in modules else (base, alias.name))
            for target, imported in targets:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target not in modules or target == name:
                    continue
                layers.edges[name].add(target)
                if imported and imported.startswith("_") and not imported.startswith("__"):
                    layers.private.append(f"{name} imports {imported} from {target}")
    return layers


def _resolve(module: str, is_package: bool, level: int, name: str) -> str:
    """The absolute name of `from <level dots><name> import …` written in `module`."""
    if level == 0:
        return name
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


@pytest.fixture(scope="module")
def layers() -> Layers:
    return analyse(PACKAGE)


def test_the_package_has_no_import_cycle(layers: Layers) -> None:
    assert len(layers.modules) > 50  # the analysis saw the package
    assert layers.edges["hennan_flow.engine.facade"]  # and its imports
    assert [" <-> ".join(c) for c in layers.cycles()] == []


def test_no_module_imports_a_private_name_of_another(layers: Layers) -> None:
    assert layers.private == []


def test_no_module_is_over_800_lines(layers: Layers) -> None:
    sizes = {m: p.read_text(encoding="utf-8").count("\n") + 1 for m, p in layers.modules.items()}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


# -- the checks themselves, on a package written here ---------------------------------------------


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_a_cycle_through_three_modules_is_found_even_behind_type_checking(tmp_path: Path) -> None:
    pkg = write(
        tmp_path,
        {
            "__init__.py": "from .a import thing\n",
            "a.py": "from .sub import b\nthing = 1\n",
            "sub/__init__.py": "",
            "sub/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..c import C\n",
            "c.py": "def f():\n    import pkg.a\n",
            "d.py": "from pkg import thing\n",  # imports the package: no cycle (nothing imports d)
        },
    )
    found = analyse(pkg)
    assert found.cycles() == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    assert found.private == []


def test_a_package_and_its_own_submodule_are_not_a_cycle(tmp_path: Path) -> None:
    pkg = write(
        tmp_path, {"__init__.py": "from .errors import Oops\n", "errors.py": "from pkg import __name__\n"}
    )
    assert analyse(pkg).cycles() == []


def test_a_private_name_from_another_module_is_found_but_dunders_and_own_names_are_not(
    tmp_path: Path,
) -> None:
    pkg = write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "_hidden = 1\n__version__ = '1'\nfrom . import _impl\n",
            "_impl.py": "",
            "b.py": "from .a import _hidden, __version__\nfrom pkg.a import _hidden as again\n",
        },
    )
    found = analyse(pkg)
    # a private module imported whole (`from . import _impl`) is the module, not a reach-in
    assert found.private == ["pkg.b imports _hidden from pkg.a", "pkg.b imports _hidden from pkg.a"]
    assert found.cycles() == []
